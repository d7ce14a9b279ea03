// BIDS datasets: io::read_cohort on a folder whose participants.tsv is the input, beside two subjects
// with FLAIR images (empty files: the reader only lists them).
#include <filesystem>
#include <exception>

#include "io/cohort.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static const std::string dataset = [] {
    const std::string root = mlens::fuzz::folder() + "/bids";
    for (const char* id : {"sub-01", "sub-02"}) {
      std::filesystem::create_directories(root + "/" + id + "/anat");
      mlens::fuzz::write_input(nullptr, 0, std::string("bids/") + id + "/anat/" + id + "_FLAIR.nii.gz");
    }
    return root;
  }();
  mlens::fuzz::write_input(data, size, "bids/participants.tsv");
  try {
    mlens::io::read_cohort(dataset);
  } catch (const std::exception&) {
  }
  return 0;
}
