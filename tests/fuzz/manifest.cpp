// Ensemble manifests: io::read_manifest (a member model "m.h5" exists beside it; nested manifests
// "e.mlens.json" and "f.mlens.json" are this input itself and its previous one, so cycles are reachable).
#include <filesystem>
#include <exception>

#include "io/manifest.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static const std::string model = mlens::fuzz::write_input(nullptr, 0, "m.h5");
  const std::string path = mlens::fuzz::folder() + "/e.mlens.json";
  std::error_code ignored;
  std::filesystem::rename(path, mlens::fuzz::folder() + "/f.mlens.json", ignored);
  mlens::fuzz::write_input(data, size, "e.mlens.json");
  try {
    mlens::io::read_manifest(path);
  } catch (const std::exception&) {
  }
  return 0;
}
