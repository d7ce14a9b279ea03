// Statistics against R 4.2.2 (Debian r-base-core 4.2.2.20221110-2), computed on the data written here:
// t.test(paired = TRUE), wilcox.test(paired = TRUE[, exact = FALSE, correct = FALSE]),
// cor.test(method = "pearson" | "spearman", exact = FALSE), 2 * pt(t, df, lower.tail = FALSE).
// Effect sizes and intervals also against their closed forms.
#include "testing.h"

#include <cmath>

#include "stats/brain_age.h"
#include "stats/correlation.h"
#include "stats/p_values.h"
#include "stats/paired.h"

using namespace mlens::stats;

TEST_CASE("paired t-test matches R's t.test", "[stats]") {
  const std::vector<double> a{1.2, 2.3, 3.1, 4.8, 5.0, 6.7, 7.1, 8.4}, b{1.0, 2.0, 3.5, 4.1, 5.2, 5.9, 6.0, 8.0};
  const PairedTTest r = paired_t_test(a, b);
  CHECK(r.n == 8);
  CHECK(r.df == 7);
  CHECK(r.t == Approx(2.033970116371856651).epsilon(1e-12));
  CHECK(r.p == Approx(0.081434302606358686).epsilon(1e-10));
  CHECK(r.ci_low == Approx(-0.058930130316463672).epsilon(1e-10));
  CHECK(r.ci_high == Approx(0.783930130316463525).epsilon(1e-10));
  // Closed forms: d_z = t / √n; d_av from the two SDs.
  CHECK(r.mean_diff == Approx(0.3625));
  CHECK(r.d_z == Approx(r.t / std::sqrt(8.0)));
  CHECK(r.d_av == Approx(r.mean_diff / std::sqrt((r.sd_a * r.sd_a + r.sd_b * r.sd_b) / 2)));
}

TEST_CASE("tiny p-values keep their precision down to the double range", "[stats]") {
  // 40 pairs with differences 1 + 0.001·sin(k): R gives t = 8756.5309758483454, p = 2.3901673761357250e-124.
  std::vector<double> a, b;
  for (int k = 1; k <= 40; ++k) {
    a.push_back(k + 1 + 0.001 * std::sin(k));
    b.push_back(k);
  }
  const PairedTTest r = paired_t_test(a, b);
  CHECK(r.t == Approx(8756.5309758483454).epsilon(1e-8));
  CHECK(r.p == Approx(2.3901673761357250e-124).epsilon(1e-6));
  CHECK(two_sided_t_p(22.95, 653) == Approx(6.3684695877791496e-86).epsilon(1e-8));  // the poster's t(653)
  CHECK(two_sided_t_p(40, 3000) == Approx(8.6601595494363378e-281).epsilon(1e-6));
  CHECK(two_sided_t_p(42, 3000) == Approx(1.2679058477136014e-303).epsilon(1e-5));
  CHECK(format_p(two_sided_t_p(42, 3000)) == "p < 1e-300");
  CHECK(format_p(6.4e-86) == "p < .001");
  CHECK(format_p(0.0234) == "p = .023");
  CHECK(format_p(1.0) == "p = 1.000");
}

TEST_CASE("degenerate paired data give clear messages, not NaN", "[stats]") {
  CHECK_THROWS_WITH(paired_t_test({1.0}, {2.0}), Catch::Contains("at least 2 pairs"));
  CHECK_THROWS_WITH(paired_t_test({1, 2, 3}, {0, 1, 2}), Catch::Contains("zero variance"));
  CHECK_THROWS_WITH(paired_t_test({1, 2}, {1, 2, 3}), Catch::Contains("differ in length"));
  CHECK_THROWS_WITH(paired_t_test({1, NAN}, {1, 2}), Catch::Contains("pair 1"));
  CHECK_THROWS_WITH(wilcoxon_signed_rank({1, 2}, {1, 2}), Catch::Contains("every difference is zero"));
  CHECK_THROWS_WITH(pearson({1, 1, 1}, {1, 2, 3}), Catch::Contains("constant"));
  CHECK_THROWS_WITH(pearson({1, 2}, {1, 2}), Catch::Contains("at least 3"));
}

TEST_CASE("Wilcoxon signed-rank matches R, exact and approximate", "[stats]") {
  // R's ?wilcox.test depression example: V = 40, p = 0.0390625 (exact).
  const WilcoxonTest e = wilcoxon_signed_rank({1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30},
                                              {0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29});
  CHECK(e.exact);
  CHECK(e.w_plus == 40);
  CHECK(e.p == Approx(0.0390625).epsilon(1e-12));
  // Ties and a zero difference: normal approximation, R with exact = FALSE, correct = FALSE.
  const WilcoxonTest a = wilcoxon_signed_rank({3, 5, 2, 8, 6, 7, 4, 9, 10, 5, 6, 2}, {1, 4, 2, 5, 6, 3, 5, 6, 7, 3, 3, 1});
  CHECK_FALSE(a.exact);
  CHECK(a.n == 10);
  CHECK(a.w_plus == 53);
  CHECK(a.p == Approx(0.0086676057126712485).epsilon(1e-10));
}

TEST_CASE("Pearson and Spearman correlations match R's cor.test", "[stats]") {
  const std::vector<double> p{2.1, 3.4, 1.9, 5.6, 4.4, 3.3, 6.1, 5.0, 2.8, 4.9}, q{20, 31, 25, 48, 39, 33, 52, 41, 30, 38};
  const Correlation r = pearson(p, q);
  CHECK(r.r == Approx(9.6991787716454836e-01).epsilon(1e-12));
  CHECK(r.p == Approx(3.4549960317012489e-06).epsilon(1e-8));
  const Correlation s = spearman(p, q);
  CHECK(s.r == Approx(9.6363636363636362e-01).epsilon(1e-12));
  CHECK(s.p == Approx(7.3209748095298160e-06).epsilon(1e-8));
  const Correlation t = spearman({1, 2, 2, 3, 4, 4, 5, 6}, {2, 1, 3, 3, 5, 4, 7, 6});  // ties: average ranks
  CHECK(t.r == Approx(0.9151683228048983487).epsilon(1e-12));
  CHECK(t.p == Approx(0.0014307538559247873).epsilon(1e-8));
  // Missing values drop their pair.
  CHECK(pearson({2.1, 3.4, NAN, 1.9, 5.6}, {20, 31, 99, 25, 48}).n == 4);
}

TEST_CASE("age-bias correction and accuracy match R's lm", "[stats]") {
  // R: fit <- lm(pred ~ age); de Lange & Cole: pred + (age - fitted); Cole: (pred - b) / a.
  const std::vector<double> age{25, 31, 38, 44, 50, 57, 63, 69, 74, 80};
  const std::vector<double> pred{30.2, 34.1, 39.0, 43.5, 48.9, 54.0, 58.8, 63.1, 67.5, 71.9};
  const AgeBiasModel m = fit_age_bias(age, pred);
  CHECK(m.intercept == Approx(10.27881212198791161).epsilon(1e-12));
  CHECK(m.slope == Approx(0.76876060033921079).epsilon(1e-12));
  CHECK(corrected_brain_age(m, AgeBiasMethod::DeLangeCole2020, age[0], pred[0]) - age[0] ==
        Approx(0.702172869531818122).epsilon(1e-10));
  CHECK(corrected_brain_age(m, AgeBiasMethod::Cole2018, age[8], pred[8]) - age[8] == Approx(0.433039170794657480).epsilon(1e-10));
  const Accuracy a = accuracy(age, pred);
  CHECK(a.mae == Approx(3.86));
  CHECK(a.r == Approx(0.99964108177927757).epsilon(1e-12));
  CHECK(a.r2 == Approx(0.93330346571090272).epsilon(1e-12));
  CHECK_THROWS_WITH(fit_age_bias({40, 40, 40}, {1, 2, 3}), Catch::Contains("all ages are equal"));
  CHECK_THROWS_WITH(parse_age_bias_method("magic"), Catch::Contains("delange, cole"));
}
