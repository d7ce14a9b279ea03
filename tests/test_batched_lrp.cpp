// Batched LRP (cohorts' --batch N): a batch's maps, predictions and conservation accounts are each
// sample's own, equal to explaining the samples one at a time; the memory estimate that sizes batches
// is an upper bound of what an explanation really allocates.
#include "testing.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <mutex>
#include <unordered_map>

#include "lrp/ensemble.h"
#include "lrp/explain.h"
#include "networks.h"

using namespace mlens;

namespace {

double relative_l2(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).norm().item<double>() / std::max(b.norm().item<double>(), 1e-300);
}

// Counts the bytes of live CPU tensors and their peak while installed, passing allocations through to the
// allocator it replaces. A DataPtr's context must be its data (LibTorch's raw_allocate, used by oneDNN,
// asserts it), so blocks are kept by address; the one counter is never destroyed, since a tensor may
// outlive a measurement.
class PeakCounter final : public c10::Allocator {
 public:
  static PeakCounter& get() {
    static auto* counter = new PeakCounter;
    return *counter;
  }
  // Installs the counter; returns the bytes live now.
  int64_t start() {
    base_ = c10::GetCPUAllocator();
    c10::SetCPUAllocator(this, kPriority);
    std::lock_guard<std::mutex> lock(mutex_);
    peak_ = live_;
    return live_;
  }
  // Restores the allocator it replaced; returns the peak of live bytes since start().
  int64_t stop() {
    c10::SetCPUAllocator(base_, kPriority);
    std::lock_guard<std::mutex> lock(mutex_);
    return peak_;
  }
  c10::DataPtr allocate(size_t n) const override {
    c10::DataPtr inner = base_->allocate(n);
    void* data = inner.get();
    std::lock_guard<std::mutex> lock(mutex_);
    held_.emplace(data, Block{std::move(inner), n});
    live_ += static_cast<int64_t>(n);
    peak_ = std::max(peak_, live_);
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }

 private:
  struct Block {
    c10::DataPtr inner;
    size_t bytes;
  };
  static void release(void* data) {
    PeakCounter& c = get();
    Block block;  // freed outside the lock
    {
      std::lock_guard<std::mutex> lock(c.mutex_);
      auto it = c.held_.find(data);
      if (it == c.held_.end()) {  // allocated before start() and freed through the current allocator's raw deleter
        c.base_->raw_deleter()(data);
        return;
      }
      block = std::move(it->second);
      c.held_.erase(it);
      c.live_ -= static_cast<int64_t>(block.bytes);
    }
  }
  static constexpr uint8_t kPriority = 100;  // above the engine's caching allocator (priority 1)
  c10::Allocator* base_ = nullptr;
  mutable std::mutex mutex_;
  mutable std::unordered_map<void*, Block> held_;
  mutable int64_t live_ = 0, peak_ = 0;
};

// Three inputs of very different scales: with a limit over the whole batch, the small one's denominators
// would all count as unstable.
at::Tensor three_inputs(const models::Sequential& net, bool quantise) {
  return at::cat({test::random_input(net, 1, quantise), 1e-7 * test::random_input(net, 2, quantise),
                  3 * test::random_input(net, 3, quantise)});
}

}  // namespace

// To float rounding, not always to the bit: a batch may take another primitive path than a single sample
// (so the cohort pipeline keeps its batches' composition fixed, engine/cohort.cpp).
TEST_CASE("a batch's explanations equal the samples' own, accounts included", "[lrp][batch]") {
  for (const auto& [name, config] : test::all_architectures())
    for (const at::ScalarType dtype : {at::kFloat, at::kDouble})
      for (const char* ties : {"first", "tf"})
        for (const char* spec : {"preset-a", "preset-b", "epsilon", "conv=alpha-beta,dense=epsilon,input=zbox", "conv=flat,dense=w2"}) {
          const auto net = models::random_keras_model(config, 5, 0.4).net.to(at::kCPU, dtype);
          lrp::RuleOverrides o;
          o.ties = lrp::parse_ties(ties);
          o.low = -3;
          o.high = 3;
          const lrp::Composite c = lrp::with_overrides(lrp::parse_composite(spec), o);
          const at::Tensor x = three_inputs(net, std::string(ties) == "tf").to(dtype);
          const lrp::Explanation batch = lrp::explain(net, x, c);
          REQUIRE(batch.accounts.size() == 3);
          for (int64_t q = 0; q < 3; ++q) {
            INFO(name << " " << at::toString(dtype) << " " << spec << " ties=" << ties << " sample " << q);
            const lrp::Explanation one = lrp::explain(net, x.narrow(0, q, 1), c);
            const double tolerance = dtype == at::kDouble ? 1e-12 : 1e-5;
            CHECK(relative_l2(batch.relevance[q], one.relevance[0]) <= tolerance);
            CHECK(batch.prediction[q].item<double>() == Approx(one.prediction[0].item<double>()).epsilon(tolerance));
            const lrp::Account& a = batch.accounts[static_cast<size_t>(q)];
            REQUIRE(a.size() == one.accounts[0].size());
            for (size_t i = 0; i < a.size(); ++i) {
              INFO(a[i].layer);
              const double scale = tolerance * (std::abs(one.accounts[0][i].relevance_out) + 1e-30);
              CHECK(std::abs(a[i].relevance_out - one.accounts[0][i].relevance_out) <= scale);
              CHECK(std::abs(a[i].relevance_in - one.accounts[0][i].relevance_in) <= scale);
              CHECK(a[i].small_denominators == one.accounts[0][i].small_denominators);
            }
          }
        }
}

TEST_CASE("an ensemble's batch splits into the subjects' own explanations", "[lrp][batch]") {
  models::Ensemble ensemble;
  for (uint64_t seed : {3, 4}) {
    ensemble.members.push_back({"net" + std::to_string(seed), seed * 0.5, nullptr, nullptr});
    ensemble.members.back().network = std::make_shared<models::Sequential>(models::random_keras_model(test::mini_mrinet(), seed, 0.4).net);
  }
  ensemble.intercept = 2;
  const lrp::Composite c = lrp::parse_composite("preset-a");
  const at::Tensor x = three_inputs(*ensemble.members[0].network, false);
  const lrp::EnsembleExplanation batch = lrp::explain(ensemble, x, c, /*keep_member_maps=*/true);
  for (int64_t q = 0; q < 3; ++q) {
    const lrp::EnsembleExplanation one = lrp::explain(ensemble, x.narrow(0, q, 1), c, true);
    const lrp::EnsembleExplanation part = lrp::sample(batch, q);
    CHECK(relative_l2(part.relevance, one.relevance) <= 1e-12);
    CHECK(part.prediction.item<double>() == Approx(one.prediction.item<double>()).epsilon(1e-12));
    REQUIRE(part.members.size() == 2);
    for (size_t k = 0; k < 2; ++k) {
      CHECK(relative_l2(part.members[k].relevance, one.members[k].relevance) <= 1e-12);
      REQUIRE(part.members[k].accounts.size() == 1);
      CHECK(part.members[k].accounts[0].front().relevance_in == Approx(one.members[k].accounts[0].front().relevance_in).epsilon(1e-12));
    }
    CHECK(part.relevance.data_ptr() != batch.relevance.data_ptr());  // its own copy: the batch can be freed
  }
}

TEST_CASE("the batch memory estimate bounds what an explanation allocates", "[lrp][batch][memory]") {
  for (const auto& [name, config] : test::all_architectures())
    for (const at::ScalarType dtype : {at::kFloat, at::kDouble})
      for (const char* ties : {"first", "tf"})
        for (int64_t n : {1, 4}) {
          const auto net = models::random_keras_model(config, 5, 0.4).net.to(at::kCPU, dtype);
          lrp::RuleOverrides o;
          o.ties = lrp::parse_ties(ties);
          const lrp::Composite c = lrp::with_overrides(lrp::parse_composite("preset-a"), o);
          const at::Tensor x = at::cat(std::vector<at::Tensor>(static_cast<size_t>(n), test::random_input(net, 9))).to(dtype);
          const int64_t before = PeakCounter::get().start();
          {
            at::Tensor input = x.clone();  // counted: the estimate includes the input
            lrp::Explanation e = lrp::explain(net, input, c);
          }
          const int64_t peak = PeakCounter::get().stop() - before;
          const int64_t estimate = n * lrp::explanation_bytes(net, c, at::TensorOptions().dtype(dtype));
          INFO(name << " " << at::toString(dtype) << " ties=" << ties << " batch " << n << ": measured " << peak
                    << " B, estimated " << estimate << " B");
          CHECK(estimate >= peak);
          CHECK(estimate <= 6 * peak);  // an estimate, not a blanket refusal (float64 on the CPU unfolds less than it could)
        }
}
