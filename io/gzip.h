// gzip in and out for .nii.gz voxels: read with ISA-L's igzip (Intel's storage acceleration library),
// written with libdeflate. Both are standard gzip that any reader (nibabel, FSL, ITK) reads.
//
// A cohort run reads one volume and writes one relevance map per subject on the cores that run LRP, so
// (de)compression speed is throughput. igzip inflates 2–3× faster than zlib, and inflates a stream
// piece by piece, so a file is inflated only as far as asked. It also deflates 4–5× faster than
// libdeflate, but not reproducibly: in cohort runs on an AMD EPYC virtual machine, now and then a file
// came out as another valid encoding of the same bytes (another match chosen), also when the same
// pieces were compressed again in the same process, and never when they were compressed alone
// (docs/reliability.md §5). libdeflate is portable C whose output is a function of its input (for a
// given libdeflate version), and still faster than zlib's fastest mode.
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

// Writes a file piece by piece, gzipped or as is. gzip: the bytes go in gzip members of 4 MiB, each
// compressed on its own and appended, as bgzip does (every gzip reader reads the members as one
// stream), so a file's bytes depend on its content only, not on how it was handed to write(). close()
// finishes the file and throws, naming it, if any write failed (a full disk); a sink not closed leaves
// a partial file (write it under a temporary name, see atomic_file.h).
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
  void write_member();

  std::string name_;
  std::FILE* file_ = nullptr;
  std::unique_ptr<Deflate> deflate_;  // null for plain files
  bool ok_ = true;
};

}  // namespace mlens::io
