#include "io/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
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

void require_writable_file(const std::string& target) {
  const fs::path p(target);
  std::error_code error;
  const fs::path parent = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  const fs::file_status dir = fs::status(parent, error);
  if (!fs::exists(dir)) throw std::runtime_error("\"" + target + "\": cannot write, the directory \"" + parent.string() + "\" does not exist");
  if (!fs::is_directory(dir)) throw std::runtime_error("\"" + target + "\": cannot write, \"" + parent.string() + "\" is not a directory");
  const fs::file_status file = fs::status(p, error);  // follows links: a link to a device is a device
  if (fs::exists(file) && !fs::is_regular_file(file))
    throw std::runtime_error("\"" + target + "\": is " +
                             (fs::is_directory(file) ? "a directory" : fs::is_character_file(file) || fs::is_block_file(file) ? "a device"
                              : fs::is_fifo(file) ? "a FIFO" : fs::is_socket(file) ? "a socket" : "not a regular file") +
                             ", expected a regular file (mlens writes its outputs only to regular files)");
}

void write_atomically(const std::string& target, const std::function<void(const std::string&)>& write) {
  require_writable_file(target);
  const std::string tmp = temporary_path_for(target);
  try {
    write(tmp);
    std::error_code error;
    fs::rename(tmp, target, error);
    if (error) throw std::runtime_error("\"" + target + "\": cannot put the finished file in place (" + error.message() + ")");
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

namespace mlens::io {

bool is_temporary_name(const std::string& name) {
  const auto tmp = name.find(".tmp-");
  return !name.empty() && name[0] == '.' && tmp != std::string::npos && tmp + 5 < name.size() &&
         std::isdigit(static_cast<unsigned char>(name[tmp + 5]));
}

std::size_t remove_stray_temporaries(const std::string& dir) {
  std::size_t removed = 0;
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    if (!is_temporary_name(it->path().filename().string())) continue;
    std::error_code ignored;
    if (it->is_regular_file(ignored) && fs::remove(it->path(), ignored)) ++removed;
  }
  return removed;
}

}  // namespace mlens::io
