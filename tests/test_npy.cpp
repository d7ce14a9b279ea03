// .npy reading (what numpy's np.save writes), built byte by byte from the format specification.
#include "testing.h"

#include <cstring>
#include <fstream>

#include "fixtures.h"
#include "io/npy.h"

using namespace mlens;

namespace {
template <typename T>
std::vector<char> bytes(const std::vector<T>& v) {
  std::vector<char> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}
}  // namespace

TEST_CASE("float32 and float64 .npy arrays are read in C order", "[io]") {
  test::TempDir dir;
  test::write_npy(dir.path("a.npy"), "<f4", "False", "(2, 3)", bytes(std::vector<float>{1, 2, 3, 4, 5, 6.5f}));
  const auto a = io::read_npy(dir.path("a.npy"));
  CHECK(a.shape == std::vector<int64_t>{2, 3});
  CHECK(a.values == std::vector<double>{1, 2, 3, 4, 5, 6.5});
  test::write_npy(dir.path("b.npy"), "<f8", "False", "(1, 2, 1, 1, 1)", bytes(std::vector<double>{0.1, -7}));
  const auto b = io::read_npy(dir.path("b.npy"));
  CHECK(b.shape == std::vector<int64_t>{1, 2, 1, 1, 1});
  CHECK(b.values == std::vector<double>{0.1, -7});
}

TEST_CASE("unsupported .npy files are refused with the field named", "[io]") {
  test::TempDir dir;
  test::write_npy(dir.path("f.npy"), "<f4", "True", "(2,)", bytes(std::vector<float>{1, 2}));
  CHECK_THROWS_WITH(io::read_npy(dir.path("f.npy")), Catch::Contains("Fortran order"));
  test::write_npy(dir.path("i.npy"), "<i4", "False", "(2,)", bytes(std::vector<int32_t>{1, 2}));
  CHECK_THROWS_WITH(io::read_npy(dir.path("i.npy")), Catch::Contains("'<i4'"));
  test::write_npy(dir.path("t.npy"), "<f8", "False", "(4,)", bytes(std::vector<double>{1, 2}));
  CHECK_THROWS_WITH(io::read_npy(dir.path("t.npy")), Catch::Contains("truncated"));
  std::ofstream(dir.path("x.npy")) << "hello";
  CHECK_THROWS_WITH(io::read_npy(dir.path("x.npy")), Catch::Contains("not a .npy"));
}

TEST_CASE("a .npy header's sizes are checked against the file before anything is allocated", "[io]") {
  test::TempDir dir;
  // 10¹⁸ values claimed, 16 bytes present: refused without trying to allocate 8 EB (or wrapping around).
  test::write_npy(dir.path("big.npy"), "<f8", "False", "(1000000, 1000000, 1000000)", bytes(std::vector<double>{1, 2}));
  CHECK_THROWS_WITH(io::read_npy(dir.path("big.npy")), Catch::Contains("big.npy") && Catch::Contains("truncated"));
  test::write_npy(dir.path("wrap.npy"), "<f8", "False", "(4294967296, 4294967296, 2)", bytes(std::vector<double>{1}));
  CHECK_THROWS_WITH(io::read_npy(dir.path("wrap.npy")), Catch::Contains("truncated"));
  test::write_npy(dir.path("neg.npy"), "<f8", "False", "(-2,)", bytes(std::vector<double>{1, 2}));
  CHECK_THROWS_WITH(io::read_npy(dir.path("neg.npy")), Catch::Contains("'shape' (-2,)"));
  test::write_npy(dir.path("digits.npy"), "<f8", "False", "(99999999999999999999999,)", {});
  CHECK_THROWS_WITH(io::read_npy(dir.path("digits.npy")), Catch::Contains("non-negative integers"));
  // A version-2 header length of 4 GiB in a 12-byte file.
  std::ofstream(dir.path("len.npy"), std::ios::binary).write("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12);
  CHECK_THROWS_WITH(io::read_npy(dir.path("len.npy")), Catch::Contains("header length 4294967295"));
  // An empty array and a 0-d scalar are fine.
  test::write_npy(dir.path("empty.npy"), "<f4", "False", "(0, 3)", {});
  CHECK(io::read_npy(dir.path("empty.npy")).values.empty());
  test::write_npy(dir.path("wide-empty.npy"), "<f4", "False", "(1000000000000, 0)", {});
  CHECK(io::read_npy(dir.path("wide-empty.npy")).values.empty());
  test::write_npy(dir.path("scalar.npy"), "<f8", "False", "()", bytes(std::vector<double>{2.5}));
  CHECK(io::read_npy(dir.path("scalar.npy")).values == std::vector<double>{2.5});
}
