// gzip in and out for .nii.gz voxels, with ISA-L's igzip (Intel's storage acceleration library).
//
// A cohort run reads one volume and writes one relevance map per subject on the cores that run LRP, so
// (de)compression speed is throughput: on a 198³ float map igzip level 1 compresses 2–4× faster than
// zlib's fastest mode (level 1, run-length strategy) into a smaller file, and decompresses 2–3× faster
// than zlib. Both directions are standard gzip that any reader (nibabel, FSL, ITK) reads.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace mlens::io {

// The content of a gzip file (`gz`: its bytes), every member concatenated as gzip -d does; bytes after
// a complete member that do not start another are ignored, as gzip -d does. At most `limit` bytes are
// inflated: the output grows as it is inflated (never sized from the file's own size field beyond
// what deflate can reach from gz.size() bytes), and inflation stops at `limit` without reading or
// checking the rest. Errors name `name`.
std::vector<unsigned char> gunzip(const std::vector<unsigned char>& gz, const std::string& name,
                                  std::size_t limit = SIZE_MAX);

// The most bytes `compressed` bytes of deflate data can inflate to (deflate's ratio is at most 1032:1).
constexpr std::size_t max_inflated_size(std::size_t compressed) { return 1032 * compressed + 1024; }

// Writes a file piece by piece, gzipped (igzip level 1) or as is. close() finishes the stream and
// throws, naming the file, if any write failed (a full disk); a sink not closed leaves a partial file
// (write it under a temporary name, see atomic_file.h).
class FileSink {
 public:
  // Errors name `name` (the file the user asked for), default `path` (a temporary, say).
  FileSink(const std::string& path, bool gzip, const std::string& name = "");
  ~FileSink();
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  void write(const void* data, std::size_t bytes);
  void close();

 private:
  struct Deflate;
  void deflate(const unsigned char* data, std::size_t bytes, bool last);

  std::string name_;
  std::FILE* file_ = nullptr;
  std::unique_ptr<Deflate> deflate_;  // null for plain files
  bool ok_ = true;
};

}  // namespace mlens::io
