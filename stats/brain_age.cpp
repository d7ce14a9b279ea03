#include "stats/brain_age.h"

#include <cmath>
#include <stdexcept>

#include "stats/correlation.h"

namespace mlens::stats {
namespace {

void complete(const std::vector<double>& x, const std::vector<double>& y, std::vector<double>& xs, std::vector<double>& ys) {
  if (x.size() != y.size()) throw std::invalid_argument("ages and predictions differ in length");
  for (std::size_t i = 0; i < x.size(); ++i)
    if (std::isfinite(x[i]) && std::isfinite(y[i])) {
      xs.push_back(x[i]);
      ys.push_back(y[i]);
    }
  if (xs.size() < 3)
    throw std::invalid_argument("need at least 3 subjects with both age and prediction, got " + std::to_string(xs.size()));
}

}  // namespace

AgeBiasMethod parse_age_bias_method(const std::string& name) {
  if (name == "delange") return AgeBiasMethod::DeLangeCole2020;
  if (name == "cole") return AgeBiasMethod::Cole2018;
  throw std::invalid_argument("unknown age-bias correction \"" + name + "\" (known: delange, cole)");
}

const char* to_string(AgeBiasMethod m) { return m == AgeBiasMethod::DeLangeCole2020 ? "delange" : "cole"; }

AgeBiasModel fit_age_bias(const std::vector<double>& age, const std::vector<double>& predicted) {
  std::vector<double> a, p;
  complete(age, predicted, a, p);
  const double n = static_cast<double>(a.size());
  double ma = 0, mp = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ma += a[i] / n;
    mp += p[i] / n;
  }
  double saa = 0, sap = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    saa += (a[i] - ma) * (a[i] - ma);
    sap += (a[i] - ma) * (p[i] - mp);
  }
  if (!(saa > 0)) throw std::invalid_argument("all ages are equal: the age bias cannot be fitted");
  AgeBiasModel m;
  m.slope = sap / saa;
  m.intercept = mp - m.slope * ma;
  m.n = a.size();
  return m;
}

double corrected_brain_age(const AgeBiasModel& m, AgeBiasMethod method, double age, double predicted) {
  if (method == AgeBiasMethod::DeLangeCole2020) return predicted + (age - (m.slope * age + m.intercept));
  return (predicted - m.intercept) / m.slope;
}

Accuracy accuracy(const std::vector<double>& age, const std::vector<double>& predicted) {
  std::vector<double> a, p;
  complete(age, predicted, a, p);
  Accuracy acc;
  acc.n = a.size();
  double mean_age = 0;
  for (double x : a) mean_age += x / static_cast<double>(a.size());
  double ss_res = 0, ss_tot = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    acc.mae += std::abs(p[i] - a[i]) / static_cast<double>(a.size());
    ss_res += (a[i] - p[i]) * (a[i] - p[i]);
    ss_tot += (a[i] - mean_age) * (a[i] - mean_age);
  }
  acc.r2 = ss_tot > 0 ? 1 - ss_res / ss_tot : std::nan("");
  acc.r = pearson(a, p).r;
  return acc;
}

}  // namespace mlens::stats
