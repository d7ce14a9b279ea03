#include "io/output_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <isa-l/crc64.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "io/atomic_file.h"
#include "io/json.h"

namespace mlens::io {
namespace {

int take_lock(const std::string& dir, const std::string& file, int how, const std::string& refusal) {
  const std::string path = dir + "/" + file;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("\"" + path + "\": cannot open the lock file (" + std::strerror(errno) + ")");
  if (::flock(fd, how | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd);
    if (error == EWOULDBLOCK) throw std::runtime_error("\"" + dir + "\": " + refusal);
    throw std::runtime_error("\"" + path + "\": cannot lock (" + std::strerror(error) + ")");
  }
  return fd;
}

}  // namespace

OutputDirLock::OutputDirLock(const std::string& dir, const std::string& part) {
  std::filesystem::create_directories(dir);
  const std::string busy = "another mlens process is writing into this directory (it holds .mlens.lock); wait for it to finish, "
                           "or give another --out";
  whole_ = take_lock(dir, ".mlens.lock", part.empty() ? LOCK_EX : LOCK_SH, busy);
  if (part.empty()) return;
  try {
    part_ = take_lock(dir, ".mlens-" + part + ".lock", LOCK_EX, "another mlens process is running " + part + " into this directory");
  } catch (...) {
    ::close(whole_);
    throw;
  }
}

OutputDirLock::~OutputDirLock() {
  if (part_ >= 0) ::close(part_);
  if (whole_ >= 0) ::close(whole_);
}

void require_configuration(const std::string& dir, const nlohmann::json& configuration, bool replace) {
  const std::string path = dir + "/configuration.json";
  nlohmann::json record = nlohmann::json::object();
  if (!replace && std::filesystem::exists(path)) {
    std::ifstream in(path);
    try {
      record = parse_json(in, "\"" + path + "\"");
    } catch (const nlohmann::json::exception&) {
      throw std::runtime_error("\"" + path + "\": not valid JSON (expected the record of the run that made this directory; "
                               "remove it only if the results in the directory are from this configuration)");
    }
    if (!record.is_object()) throw std::runtime_error("\"" + path + "\": expected a JSON object");
    std::string differ;
    for (const auto& item : configuration.items())
      if (record.contains(item.key()) && record[item.key()] != item.value())
        differ += "\n  " + item.key() + ": " + json_excerpt(record[item.key()]) + " there, " + json_excerpt(item.value()) + " now";
    if (!differ.empty())
      throw std::runtime_error("\"" + dir + "\" holds results of another configuration (" + path + "):" + differ +
                               "\nGive another --out, or --force to recompute every subject with this configuration");
  }
  const nlohmann::json before = record;
  record.update(configuration);
  if (record != before || !std::filesystem::exists(path)) write_text_atomically(path, record.dump(2) + "\n");
}

std::string file_fingerprint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("\"" + path + "\": cannot open for reading");
  std::vector<char> buf(std::size_t{1} << 20);
  uint64_t crc = 0, bytes = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<uint64_t>(in.gcount());
    crc = crc64_ecma_refl(crc, reinterpret_cast<const unsigned char*>(buf.data()), n);
    bytes += n;
  }
  if (in.bad()) throw std::runtime_error("\"" + path + "\": reading failed");
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(crc));
  return "crc64 " + std::string(hex) + ", " + std::to_string(bytes) + " bytes";
}

}  // namespace mlens::io
