// File-name helpers shared by the readers and the commands.
#pragma once

#include <string>

namespace mlens::io {

// ".nii.gz", ".nii" or "" (not a NIfTI name).
std::string nifti_extension(const std::string& path);

// `path` relative to `base_dir` unless it is absolute or empty; "" and "NA" stay "".
std::string resolve_relative(const std::string& base_dir, const std::string& path);

}  // namespace mlens::io
