// io/gzip.h against zlib: what mlens writes zlib reads, what zlib writes mlens reads, a file's bytes
// depend on its content only, and broken streams are named.
#include "testing.h"

#include <algorithm>
#include <string>
#include <vector>

#include "fixtures.h"
#include "io/gzip.h"

using namespace mlens;

TEST_CASE("mlens' gzip is what zlib reads and writes, and a file's bytes depend on its content only", "[io]") {
  test::TempDir dir;
  // A float map's bytes: zero runs and noisy values, more than two 4 MiB members' worth.
  std::string content(9'000'001, '\0');
  uint32_t x = 12345;
  for (std::size_t i = 0; i < content.size(); ++i) {
    x = x * 1664525u + 1013904223u;
    if ((i / 4096) % 3 != 0) content[i] = static_cast<char>(x >> 24);
  }
  const auto write = [&](const std::string& name, std::size_t first_piece) {
    io::FileSink sink(dir.path(name), true);
    for (std::size_t at = 0, piece = first_piece; at < content.size(); at += piece, piece = piece * 7 % 100'003 + 1)
      sink.write(content.data() + at, std::min(piece, content.size() - at));
    sink.close();
    return test::file_bytes(dir.path(name));
  };
  const std::string packed = write("a.gz", 1);
  CHECK(test::zlib_gunzip(dir.path("a.gz")) == content);  // zlib reads mlens' file
  CHECK(packed.size() < content.size() * 3 / 4);
  // The same content handed over in other pieces, or at once: the same bytes (igzip's stream depended
  // on the pieces, and now and then on nothing the caller controls: io/gzip.h).
  CHECK(write("b.gz", 99'991) == packed);
  CHECK(write("c.gz", content.size()) == packed);
  io::FileSink empty(dir.path("empty.gz"), true);
  empty.close();
  CHECK(test::zlib_gunzip(dir.path("empty.gz")).empty());

  const auto bytes = [](const std::string& s) { return std::vector<unsigned char>(s.begin(), s.end()); };
  const auto text = [](const std::vector<unsigned char>& v) { return std::string(v.begin(), v.end()); };
  CHECK(text(io::gunzip(bytes(packed), "a.gz")) == content);  // igzip reads mlens' three members
  // igzip reads zlib's files: one member, two members, trailing zeros after the last member.
  test::zlib_write_gzip(dir.path("one.gz"), {content});
  test::zlib_write_gzip(dir.path("two.gz"), {content.substr(0, 1000), content.substr(1000)});
  CHECK(text(io::gunzip(bytes(test::file_bytes(dir.path("one.gz"))), "one.gz")) == content);
  CHECK(text(io::gunzip(bytes(test::file_bytes(dir.path("two.gz"))), "two.gz")) == content);
  CHECK(text(io::gunzip(bytes(test::file_bytes(dir.path("two.gz")) + std::string(512, '\0')), "padded.gz")) == content);
  // Broken files are named.
  const std::string one = test::file_bytes(dir.path("one.gz"));
  CHECK_THROWS_WITH(io::gunzip(bytes(one.substr(0, one.size() / 2)), "cut.gz"), Catch::Contains("cut.gz") && Catch::Contains("truncated"));
  std::string flipped = one;
  flipped[flipped.size() - 6] ^= 0x01;  // the CRC-32
  CHECK_THROWS_WITH(io::gunzip(bytes(flipped), "crc.gz"), Catch::Contains("crc.gz") && Catch::Contains("checksum"));
  CHECK_THROWS_WITH(io::gunzip(bytes("plain text"), "plain.gz"), Catch::Contains("not a gzip file"));
  // Plain files pass through.
  io::FileSink plain(dir.path("plain.bin"), false);
  plain.write(content.data(), content.size());
  plain.close();
  CHECK(test::file_bytes(dir.path("plain.bin")) == content);
}
