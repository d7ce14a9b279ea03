// Map comparison metrics against closed forms.
#include "testing.h"

#include <cmath>

#include "stats/compare.h"

using mlens::stats::compare_maps;

TEST_CASE("identical maps agree perfectly", "[stats]") {
  const auto c = compare_maps({1, -2, 3, 4}, {1, -2, 3, 4});
  CHECK(c.max_abs_error == 0);
  CHECK(c.rel_l2 == 0);
  CHECK(c.pearson_r == Approx(1.0));
  CHECK(c.sum_test == 6);
  CHECK(c.sum_reference == 6);
}

TEST_CASE("scaled and shifted maps have closed-form errors", "[stats]") {
  // a = 2b: ||a - b|| / ||b|| = 1, r = 1; a = -b: r = -1, rel L2 = 2.
  const std::vector<double> b{1, 2, 3, -1};
  CHECK(compare_maps({2, 4, 6, -2}, b).rel_l2 == Approx(1.0));
  CHECK(compare_maps({2, 4, 6, -2}, b).pearson_r == Approx(1.0));
  CHECK(compare_maps({-1, -2, -3, 1}, b).pearson_r == Approx(-1.0));
  CHECK(compare_maps({-1, -2, -3, 1}, b).rel_l2 == Approx(2.0));
  CHECK(compare_maps({1, 2, 3.5, -1}, b).max_abs_error == Approx(0.5));
}

TEST_CASE("constant maps have no correlation and size mismatches are refused", "[stats]") {
  CHECK(std::isnan(compare_maps({1, 1, 1}, {1, 2, 3}).pearson_r));
  CHECK_THROWS_WITH(compare_maps({1, 2}, {1, 2, 3}), Catch::Contains("differ in size"));
}
