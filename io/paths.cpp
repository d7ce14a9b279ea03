#include "io/paths.h"

#include <filesystem>

namespace mlens::io {

std::string nifti_extension(const std::string& path) {
  for (const std::string ext : {".nii.gz", ".nii"})
    if (path.size() > ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0) return ext;
  return "";
}

std::string resolve_relative(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path == "NA") return "";
  const std::filesystem::path p(path);
  return p.is_absolute() ? p.string() : (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

}  // namespace mlens::io
