#include "engine/train.h"

#include <torch/optim/adam.h>

#include <Eigen/Dense>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>

#include "engine/parallel.h"
#include "io/atomic_file.h"
#include "io/keras_config.h"
#include "models/keras_import.h"
#include "models/mrinet.h"
#include "stats/brain_age.h"

namespace mlens::engine {
namespace {

constexpr int kConvolutions = 5;

at::Tensor pool_same(const at::Tensor& h) {
  const models::Pads p = models::window_pads(models::Padding::Same, {h.size(2), h.size(3), h.size(4)}, {3, 3, 3}, {2, 2, 2});
  const at::Tensor padded = at::constant_pad_nd(h, models::pad_spec(p), -std::numeric_limits<double>::infinity());
  return at::max_pool3d(padded, {3, 3, 3}, {2, 2, 2});
}

std::vector<at::Tensor> to_tensors(const models::KerasModel& file, const Runtime& runtime) {
  std::vector<at::Tensor> out;
  for (const models::WeightGroup& g : file.groups)
    for (const models::WeightArray& w : g.weights)
      out.push_back(at::tensor(w.values, at::kDouble).reshape(w.shape).to(runtime.device, at::kFloat));
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Predictions of one member for `which` subjects, in batches, without a graph.
std::vector<double> predict(const std::vector<at::Tensor>& w, const std::vector<at::Tensor>& inputs,
                            const std::vector<std::size_t>& which, const Runtime& runtime, int batch) {
  at::NoGradGuard no_grad;
  std::vector<double> out;
  for (std::size_t b = 0; b < which.size(); b += batch) {
    std::vector<at::Tensor> xs;
    for (std::size_t q = b; q < std::min(which.size(), b + batch); ++q) xs.push_back(inputs[which[q]]);
    const at::Tensor y = mrinet_forward(w, at::stack(xs).to(runtime.device, at::kFloat), false).to(at::kCPU, at::kDouble);
    for (int64_t q = 0; q < y.size(0); ++q) out.push_back(y[q].item<double>());
  }
  return out;
}

// Validation MAE over every subject: a non-finite prediction makes it NaN, which never counts as an
// improvement (stats::accuracy would drop such subjects).
double mae(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += std::abs(a[i] - b[i]);
  return s / a.size();
}

}  // namespace

TrainingData prepare_training_data(const std::vector<io::Subject>& cohort, const PreprocessSpec& spec, int jobs,
                                   const std::function<void(int, int)>& progress) {
  for (const io::Subject& s : cohort)
    if (!(s.age == s.age)) throw std::invalid_argument("train: subject \"" + s.id + "\" has no age");
  const int n = static_cast<int>(cohort.size());
  TrainingData data;
  data.inputs.resize(n);
  data.ages.resize(n);
  std::vector<Prepared> prepared(n);
  parallel_for(n, jobs, [&](int i) {
    const io::Subject& s = cohort[i];
    Prepared p = prepare(io::read_volume(s.flair), spec, nullptr, s.flair);
    data.inputs[i] = at::tensor(p.model_input.voxels, at::kFloat).reshape({1, spec.shape[0], spec.shape[1], spec.shape[2]});
    data.ages[i] = s.age;
    p.model_input.voxels = std::vector<float>();  // frees it (= {} would keep the capacity)
    prepared[i] = std::move(p);
  }, [&](int done) {
    if (progress) progress(done, n);
  });
  data.intensity_max = {std::numeric_limits<double>::infinity(), 0};
  for (const Prepared& p : prepared) {
    data.intensity_max[0] = std::min(data.intensity_max[0], p.intensity_max);
    data.intensity_max[1] = std::max(data.intensity_max[1], p.intensity_max);
    for (int a = 0; a < 3; ++a) data.brain_extent_max[a] = std::max(data.brain_extent_max[a], p.brain_extent[a]);
  }
  return data;
}

at::Tensor mrinet_forward(const std::vector<at::Tensor>& w, const at::Tensor& x, bool training) {
  if (w.size() != 2 * kConvolutions + 4) throw std::invalid_argument("mrinet_forward: expected the 14 MRInet weight arrays");
  at::Tensor h = x;
  for (int c = 0; c < kConvolutions; ++c) {
    const at::Tensor& kernel = w[2 * c];  // (kd, kh, kw, in, out)
    h = at::relu(at::conv3d(h, kernel.permute({4, 3, 0, 1, 2}), w[2 * c + 1], 1, kernel.size(0) / 2));
    h = pool_same(h);
  }
  h = h.permute({0, 2, 3, 4, 1}).reshape({h.size(0), -1});  // Keras flattens channels-last
  h = at::dropout(h, 0.5, training);
  h = at::relu(at::addmm(w[11], h, w[10]));
  return at::addmm(w[13], h, w[12]).reshape({-1});
}

TrainResult train_ensemble(const std::vector<at::Tensor>& inputs, const std::vector<double>& ages, const models::Int3& shape,
                           const TrainOptions& o, const Runtime& runtime, const std::function<void(const TrainProgress&)>& progress) {
  const auto start = std::chrono::steady_clock::now();
  const std::size_t n = inputs.size();
  if (n != ages.size()) throw std::invalid_argument("train: one age per input expected");
  if (o.members < 1 || o.epochs < 1 || o.batch < 1) throw std::invalid_argument("train: members, epochs and batch must be at least 1");
  std::mt19937_64 rng(o.seed);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  const std::size_t head_n = static_cast<std::size_t>(std::round(o.head_fraction * n));
  const std::vector<std::size_t> head(order.begin(), order.begin() + head_n), pool(order.begin() + head_n, order.end());
  const std::size_t validation_n = static_cast<std::size_t>(std::round(o.validation_fraction * pool.size()));
  if (head_n < 3 || validation_n < 2 || pool.size() - validation_n < 2 * static_cast<std::size_t>(o.batch))
    throw std::invalid_argument("train: " + std::to_string(n) + " subjects are too few to hold out a head set (" +
                                std::to_string(head_n) + ") and a validation set (" + std::to_string(validation_n) + ")");

  double mean_age = 0, var_age = 0;
  for (std::size_t i : pool) mean_age += ages[i] / pool.size();
  for (std::size_t i : pool) var_age += (ages[i] - mean_age) * (ages[i] - mean_age) / pool.size();
  const double scale = 1 / std::max(var_age, 1.0);

  TrainResult result;
  result.training_subjects = static_cast<int>(pool.size());
  result.head_subjects = static_cast<int>(head_n);
  for (int k = 0; k < o.members; ++k) {
    const uint64_t member_seed = o.seed * 1000 + k + 1;
    at::manual_seed(member_seed);
    std::vector<std::size_t> split = pool;
    std::mt19937_64 member_rng(member_seed);
    std::shuffle(split.begin(), split.end(), member_rng);
    const std::vector<std::size_t> validation(split.begin(), split.begin() + validation_n), train(split.begin() + validation_n, split.end());
    std::vector<double> validation_ages;
    for (std::size_t i : validation) validation_ages.push_back(ages[i]);

    std::vector<at::Tensor> w = to_tensors(models::random_keras_model(models::mrinet_architecture(shape), member_seed).keras, runtime);
    {
      at::NoGradGuard no_grad;
      w.back().fill_(mean_age);  // start at the mean age: the first epochs learn anatomy, not the offset
    }
    for (at::Tensor& t : w) t.set_requires_grad(true);
    torch::optim::Adam adam(w, torch::optim::AdamOptions(o.learning_rate));

    TrainedMember best;
    best.validation_mae = std::numeric_limits<double>::infinity();
    int since_best = 0;
    for (int epoch = 1; epoch <= o.epochs; ++epoch) {
      std::vector<std::size_t> shuffled = train;
      std::shuffle(shuffled.begin(), shuffled.end(), member_rng);
      double loss_sum = 0;
      std::size_t seen = 0;
      for (std::size_t b = 0; b + o.batch <= shuffled.size(); b += o.batch) {
        std::vector<at::Tensor> xs;
        std::vector<double> ys;
        for (int q = 0; q < o.batch; ++q) xs.push_back(inputs[shuffled[b + q]]), ys.push_back(ages[shuffled[b + q]]);
        const at::Tensor x = at::stack(xs).to(runtime.device, at::kFloat);
        const at::Tensor y = at::tensor(ys, at::kDouble).to(runtime.device, at::kFloat);
        adam.zero_grad();
        const at::Tensor error = mrinet_forward(w, x, true) - y;
        const at::Tensor loss = (error * error).mean();
        (loss * scale).backward();
        adam.step();
        loss_sum += loss.item<double>() * o.batch;
        seen += o.batch;
      }
      const double validation_mae = mae(predict(w, inputs, validation, runtime, 8), validation_ages);
      TrainProgress p{k + 1, o.members, epoch, o.epochs, loss_sum / seen, validation_mae, validation_mae < best.validation_mae,
                      false, seconds_since(start)};
      if (p.improved) {
        best.validation_mae = validation_mae;
        best.best_epoch = epoch;
        best.keras_weights.clear();
        for (const at::Tensor& t : w) best.keras_weights.push_back(t.detach().clone());
        since_best = 0;
      } else {
        ++since_best;
      }
      best.epochs_run = epoch;
      p.stopped = since_best >= o.patience;
      if (progress) progress(p);
      if (p.stopped) break;
    }
    result.members.push_back(std::move(best));
  }

  // The head: least squares on the held-out head set, shrunk towards equal weights (members trained
  // the same way are strongly correlated, and plain least squares would give unstable coefficients).
  // λ = 0.1·n·var(age): mild next to the data term of members that track age (≈ n·var(age)), dominant
  // for a member whose predictions hardly vary (whose coefficient would otherwise explode).
  const int K = o.members;
  Eigen::MatrixXd P(head_n, K);
  Eigen::VectorXd y(head_n);
  for (int k = 0; k < K; ++k) {
    const std::vector<double> pk = predict(result.members[k].keras_weights, inputs, head, runtime, 8);
    for (std::size_t i = 0; i < head_n; ++i) P(i, k) = pk[i];
  }
  for (std::size_t i = 0; i < head_n; ++i) y(i) = ages[head[i]], result.head_ages.push_back(ages[head[i]]);
  const Eigen::RowVectorXd p_mean = P.colwise().mean();
  const double y_mean = y.mean();
  const Eigen::MatrixXd Pc = P.rowwise() - p_mean;
  const Eigen::VectorXd yc = y.array() - y_mean;
  const double lambda = 0.1 * yc.squaredNorm();
  const Eigen::VectorXd equal = Eigen::VectorXd::Constant(K, 1.0 / K);
  const Eigen::VectorXd c = (Pc.transpose() * Pc + lambda * Eigen::MatrixXd::Identity(K, K))
                                .ldlt()
                                .solve(Pc.transpose() * yc + lambda * equal);
  result.coefficients.assign(c.data(), c.data() + K);
  result.intercept = y_mean - p_mean.dot(c);
  const Eigen::VectorXd fitted = (P * c).array() + result.intercept;
  result.head_predictions.assign(fitted.data(), fitted.data() + head_n);
  const stats::Accuracy head_accuracy = stats::accuracy(result.head_ages, result.head_predictions);
  result.head_mae = head_accuracy.mae;
  result.head_r = head_accuracy.r;
  result.seconds = seconds_since(start);
  return result;
}

std::string write_trained_ensemble(const std::string& directory, const std::string& name, const TrainResult& result,
                                   const models::Int3& shape, nlohmann::json input, nlohmann::json training_record) {
  std::filesystem::create_directories(directory);
  nlohmann::json members = nlohmann::json::array();
  for (std::size_t k = 0; k < result.members.size(); ++k) {
    models::KerasModel file = models::random_keras_model(models::mrinet_architecture(shape, "mrinet_" + std::to_string(k + 1)), 0).keras;
    std::size_t t = 0;
    for (models::WeightGroup& g : file.groups)
      for (models::WeightArray& w : g.weights) {
        const at::Tensor v = result.members[k].keras_weights.at(t++).detach().to(at::kCPU, at::kDouble).contiguous();
        w.values.assign(v.data_ptr<double>(), v.data_ptr<double>() + v.numel());
      }
    const std::string file_name = "member_" + std::to_string(k + 1) + ".h5";
    io::write_atomically(directory + "/" + file_name, [&](const std::string& tmp) { io::write_keras_model(tmp, file); });
    members.push_back({{"model", file_name}});
  }
  const double age_min = *std::min_element(result.head_ages.begin(), result.head_ages.end());
  const double age_max = *std::max_element(result.head_ages.begin(), result.head_ages.end());
  training_record["head_set"] = {{"subjects", result.head_subjects}, {"mae", result.head_mae}, {"r", result.head_r}};
  training_record["training_subjects"] = result.training_subjects;
  training_record["seconds"] = std::round(result.seconds);
  nlohmann::json per_member = nlohmann::json::array();
  for (const TrainedMember& m : result.members)
    per_member.push_back({{"validation_mae", m.validation_mae}, {"best_epoch", m.best_epoch}, {"epochs_run", m.epochs_run}});
  training_record["members"] = per_member;
  if (!training_record.contains("age_range")) training_record["age_range"] = {age_min, age_max};
  const nlohmann::json manifest = {{"name", name},
                                   {"modality", "FLAIR"},
                                   {"input", input},
                                   {"head", {{"intercept", result.intercept}, {"coefficients", result.coefficients}}},
                                   {"members", members},
                                   {"training", training_record}};
  const std::string path = directory + "/" + name + ".mlens.json";
  io::write_text_atomically(path, manifest.dump(2) + "\n");
  return path;
}

}  // namespace mlens::engine
