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
