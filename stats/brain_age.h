// Brain-age gap and its age-bias correction. Brain-age models regress towards the mean (young subjects
// predicted older, old ones younger), so the raw gap (predicted − age) correlates with age. The widely
// used linear correction fits predicted ≈ a·age + b on a reference set and corrects with it:
//
//   de Lange & Cole 2020 (default):  corrected = predicted + (age − (a·age + b))
//   Cole 2018:                       corrected = (predicted − b) / a
//
// The fitted (a, b) are an output: reuse them on a new cohort instead of refitting on the cohort you test.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace mlens::stats {

enum class AgeBiasMethod { DeLangeCole2020, Cole2018 };
AgeBiasMethod parse_age_bias_method(const std::string& name);  // "delange" | "cole"
const char* to_string(AgeBiasMethod method);

struct AgeBiasModel {
  double slope = 1, intercept = 0;  // predicted ≈ slope · age + intercept
  std::size_t n = 0;                // subjects it was fitted on
};

// Ordinary least squares over the pairs where both values are present. Throws for fewer than 3 pairs
// or constant ages.
AgeBiasModel fit_age_bias(const std::vector<double>& age, const std::vector<double>& predicted);

double corrected_brain_age(const AgeBiasModel& model, AgeBiasMethod method, double age, double predicted);

struct Accuracy {
  std::size_t n = 0;
  double mae = 0;  // mean |predicted − age|
  double r = 0;    // Pearson r of predicted and age
  double r2 = 0;   // 1 − Σ(age − predicted)² / Σ(age − mean age)²  (scikit-learn's r2_score)
};
Accuracy accuracy(const std::vector<double>& age, const std::vector<double>& predicted);

}  // namespace mlens::stats
