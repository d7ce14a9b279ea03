// WML tables as `mlens stats` reads them: io::read_csv, the columns as numbers, and the cohort analysis
// (stats::analyse_wml_cohort) on whatever rows the table gives.
#include <exception>

#include "io/table.h"
#include "stats/wml_cohort.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string path = mlens::fuzz::write_input(data, size, "wml.csv");
  try {
    const mlens::io::Table t = mlens::io::read_csv(path);
    mlens::stats::WmlCohortInput in;
    in.n_wml_voxel = t.numbers("n_wml_voxel");
    in.a_wml_voxel = t.numbers("a_wml_voxel");
    in.expected = t.numbers("ap_voxel");
    if (t.has("lesion_volume_ml") && t.has("gap")) {
      in.lesion_load = t.numbers("lesion_volume_ml");
      in.gap = t.numbers("gap");
    }
    if (t.has("p_wml_voxel")) in.p_wml_voxel = t.numbers("p_wml_voxel");
    mlens::stats::summarise(mlens::stats::analyse_wml_cohort(in), "ap_voxel");
  } catch (const std::exception&) {
  }
  return 0;
}
