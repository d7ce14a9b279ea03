#include "io/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace mlens::io {
namespace fs = std::filesystem;

std::string temporary_path_for(const std::string& target) {
  static std::atomic<unsigned> counter{0};
  const fs::path p(target);
  const std::string name = p.filename().string();
  // Keep everything from the first dot of the file name on, so ".nii.gz" survives as a whole.
  const auto dot = name.find('.');
  const std::string stem = dot == std::string::npos ? name : name.substr(0, dot);
  const std::string ext = dot == std::string::npos ? "" : name.substr(dot);
  const std::string tmp = "." + stem + ".tmp-" + std::to_string(::getpid()) + "-" +
                          std::to_string(counter.fetch_add(1)) + ext;
  return (p.parent_path() / tmp).string();
}

void write_atomically(const std::string& target, const std::function<void(const std::string&)>& write) {
  const std::string tmp = temporary_path_for(target);
  try {
    write(tmp);
    fs::rename(tmp, target);
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
}

void write_text_atomically(const std::string& target, const std::string& text) {
  write_atomically(target, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) throw std::runtime_error("cannot open \"" + tmp + "\" for writing (for \"" + target + "\")");
    out << text;
    out.close();
    if (!out) throw std::runtime_error("writing \"" + target + "\" failed (disk full?)");
  });
}

}  // namespace mlens::io
