// libFuzzer targets for every reader of untrusted bytes (bench/fuzz runs them). mlens' readers take
// file names, as users give them, so each input is written to a file in a private temporary folder
// (on /dev/shm when there is one) and read from there. An exception is a clean refusal; a crash, a
// sanitizer report, a hang or an allocation above the limit is what the fuzzer looks for.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace mlens::fuzz {

// The folder, made once per process and removed at exit.
inline const std::string& folder() {
  static const std::string dir = [] {
    const std::string base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path().string();
    std::string pattern = base + "/mlens-fuzz-XXXXXX";
    if (!::mkdtemp(pattern.data())) std::abort();
    static const std::string made = pattern;
    std::atexit([] { std::filesystem::remove_all(made); });
    return pattern;
  }();
  return dir;
}

// Writes the input to folder()/name and returns the path.
inline std::string write_input(const uint8_t* data, std::size_t size, const std::string& name) {
  const std::string path = folder() + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

}  // namespace mlens::fuzz
