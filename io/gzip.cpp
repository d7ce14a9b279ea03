#include "io/gzip.h"

#include <isa-l/igzip_lib.h>
#include <libdeflate.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <vector>

namespace mlens::io {
namespace {

// ISA-L counts bytes in 32 bits: larger buffers go in pieces.
constexpr std::size_t kPiece = std::size_t{1} << 30;

// FileSink's gzip members: 4 MiB each (larger ones made relevance maps no smaller), at libdeflate
// level 2, which on relevance maps was faster than level 1 and within 0.1 % of level 6's size.
constexpr std::size_t kMember = std::size_t{4} << 20;
constexpr int kLevel = 2;

bool starts_member(const unsigned char* p, std::size_t n) { return n >= 2 && p[0] == 0x1f && p[1] == 0x8b; }

}  // namespace

std::vector<unsigned char> gunzip(const std::vector<unsigned char>& gz, const std::string& name, std::size_t limit) {
  const auto bad = [&](const std::string& what) { return std::runtime_error("\"" + name + "\": " + what); };
  if (!starts_member(gz.data(), gz.size())) throw bad("not a gzip file");
  limit = std::min(limit, max_inflated_size(gz.size()));
  // A single-member file states its size (mod 2³²) in its last four bytes: usually one buffer suffices
  // (for mlens' own files, 4 MiB members, it is the last member's size, and the buffer grows). The
  // statement is only a hint: a corrupt file's claim is capped by what the bytes can inflate to.
  uint32_t stated = 0;
  if (gz.size() >= 4) std::memcpy(&stated, gz.data() + gz.size() - 4, 4);
  std::vector<unsigned char> out(std::min<std::size_t>(std::max<std::size_t>(stated, std::size_t{1} << 16), limit));
  auto state = std::make_unique<inflate_state>();  // ~30 KB of tables
  isal_inflate_init(state.get());
  state->crc_flag = ISAL_GZIP;
  std::size_t in_pos = 0, out_pos = 0;
  for (;;) {
    if (out_pos == limit) break;
    if (out_pos == out.size()) out.resize(std::min(2 * out.size(), limit));
    state->next_in = const_cast<unsigned char*>(gz.data()) + in_pos;
    state->avail_in = static_cast<uint32_t>(std::min(gz.size() - in_pos, kPiece));
    state->next_out = out.data() + out_pos;
    state->avail_out = static_cast<uint32_t>(std::min(out.size() - out_pos, kPiece));
    const int result = isal_inflate(state.get());
    in_pos = static_cast<std::size_t>(state->next_in - gz.data());
    out_pos = static_cast<std::size_t>(state->next_out - out.data());
    if (result == ISAL_INCORRECT_CHECKSUM) throw bad("gzip checksum mismatch (the file is corrupt)");
    if (result < 0) throw bad("corrupt gzip data");
    if (state->block_state == ISAL_BLOCK_FINISH) {
      if (!starts_member(gz.data() + in_pos, gz.size() - in_pos)) break;
      isal_inflate_reset(state.get());
      state->crc_flag = ISAL_GZIP;
    } else if (in_pos == gz.size() && out_pos < out.size()) {
      throw bad("the gzip stream ends early (the file is truncated)");
    }
  }
  out.resize(out_pos);
  return out;
}

struct FileSink::Deflate {
  struct Free {
    void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
  };
  std::unique_ptr<libdeflate_compressor, Free> compressor{libdeflate_alloc_compressor(kLevel)};
  std::vector<char> member;  // the bytes of the member being filled
  std::vector<char> out;
  bool any = false;  // whether a member was written
};

FileSink::FileSink(const std::string& path, bool gzip, const std::string& name) : name_(name.empty() ? path : name) {
  if (gzip) {  // before the file is open, so that nothing is left open when it throws
    deflate_ = std::make_unique<Deflate>();
    if (!deflate_->compressor) throw std::bad_alloc();
    deflate_->member.reserve(kMember);
    deflate_->out.resize(libdeflate_gzip_compress_bound(deflate_->compressor.get(), kMember));
  }
  file_ = std::fopen(path.c_str(), "wb");
  if (!file_) throw std::runtime_error("\"" + name_ + "\": cannot open for writing (" + std::strerror(errno) + ")");
}

FileSink::~FileSink() {
  if (file_) std::fclose(file_);
}

void FileSink::write(const void* data, std::size_t bytes) {
  if (!ok_ || bytes == 0) return;
  if (!deflate_) {
    ok_ = std::fwrite(data, 1, bytes, file_) == bytes;
    return;
  }
  const char* p = static_cast<const char*>(data);
  while (bytes > 0 && ok_) {
    const std::size_t take = std::min(bytes, kMember - deflate_->member.size());
    deflate_->member.insert(deflate_->member.end(), p, p + take);
    p += take;
    bytes -= take;
    if (deflate_->member.size() == kMember) write_member();
  }
}

void FileSink::write_member() {
  Deflate& d = *deflate_;
  const std::size_t packed = libdeflate_gzip_compress(d.compressor.get(), d.member.data(), d.member.size(), d.out.data(), d.out.size());
  ok_ = packed > 0 && std::fwrite(d.out.data(), 1, packed, file_) == packed;
  d.member.clear();
  d.any = true;
}

void FileSink::close() {
  if (ok_ && deflate_ && (!deflate_->member.empty() || !deflate_->any)) write_member();  // an empty file is one empty member
  ok_ = std::fclose(file_) == 0 && ok_;
  file_ = nullptr;
  if (!ok_) throw std::runtime_error("\"" + name_ + "\": writing failed (disk full?)");
}

}  // namespace mlens::io
