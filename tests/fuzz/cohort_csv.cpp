// Cohort lists: io::read_cohort on a CSV (id, flair, age, sex, wml, transform).
#include <exception>

#include "io/cohort.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string path = mlens::fuzz::write_input(data, size, "cohort.csv");
  try {
    mlens::io::read_cohort(path);
  } catch (const std::exception&) {
  }
  return 0;
}
