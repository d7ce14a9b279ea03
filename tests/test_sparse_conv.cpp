// The convolution evaluated at a few output cells, and its adjoint from values at those cells, against
// the dense convolution and its dense adjoint, for the CPU loops and for the portable LibTorch path that
// other devices run: asymmetric, symmetric and no padding, one and several input channels, batches.
#include "testing.h"

#include <ATen/Parallel.h>

#include <cstring>

#include "models/conv.h"
#include "models/sparse_conv.h"

using namespace mlens;

namespace {

struct Case {
  int64_t k, before, after, cin;
};

double max_abs(const at::Tensor& t) { return t.abs().max().item<double>(); }

}  // namespace

TEST_CASE("sparse convolution and adjoint equal the dense ones", "[lrp][sparse]") {
  at::manual_seed(11);
  for (const Case c : {Case{3, 1, 1, 1}, Case{2, 0, 1, 1}, Case{3, 0, 0, 3}, Case{3, 1, 1, 2}}) {
    for (const auto kernel : {models::SparseKernel::Auto, models::SparseKernel::Portable})
      for (const auto dtype : {at::kDouble, at::kFloat}) {
        CAPTURE(c.k, c.before, c.after, c.cin, kernel == models::SparseKernel::Auto, dtype == at::kDouble);
        const double tolerance = dtype == at::kDouble ? 1e-12 : 1e-5;
        const at::Tensor x = at::randn({2, c.cin, 9, 8, 7}, dtype);
        const at::Tensor w = at::randn({5, c.cin, c.k, c.k, c.k}, dtype), b = at::randn({5}, dtype);
        models::Pads p;
        p.before = {c.before, c.before, c.before};
        p.after = {c.after, c.after, c.after};
        const at::Tensor dense = models::conv3d(x, w, b, p);
        // ~5 % of the outputs, as after max-pooling, in no particular order and some twice (the winners
        // of overlapping pooling windows come grouped by channel, not sorted, and may repeat).
        const at::Tensor sorted = at::rand({dense.numel()}).lt(0.05).nonzero().squeeze(1);
        REQUIRE(sorted.numel() > 10);
        const at::Tensor repeated = at::cat({sorted, sorted.slice(0, 0, sorted.numel() / 4)});
        const at::Tensor positions = repeated.index_select(0, at::randperm(repeated.numel(), at::kLong));

        const at::Tensor z = models::conv3d_at(x, w, b, p, positions, kernel);
        CHECK(max_abs(z - dense.reshape({-1}).index_select(0, positions)) < tolerance * max_abs(dense));
        const at::Tensor z_nobias = models::conv3d_at(x, w, at::Tensor(), p, positions, kernel);
        CHECK(max_abs(z - z_nobias - b.index_select(0, positions.div(dense[0][0].numel(), "floor").remainder(5))) <
              tolerance * max_abs(dense));

        const at::Tensor s = at::randn({positions.numel()}, dtype);
        const at::Tensor s_dense =
            at::zeros({dense.numel()}, dtype).index_put_({positions}, s, /*accumulate=*/true).view(dense.sizes());
        const models::Int3 in{9, 8, 7};
        const at::Tensor adjoint = models::conv3d_transpose_at(s, positions, w, p, dense.sizes().vec(), in, kernel);
        const at::Tensor expected = models::conv3d_transpose(s_dense, w, p, in);
        REQUIRE(adjoint.sizes() == x.sizes());
        CHECK(max_abs(adjoint - expected) < tolerance * max_abs(expected));
      }
  }
}

TEST_CASE("the sparse adjoint splits large inputs across threads without losing entries", "[lrp][sparse]") {
  // Enough entries for several partial outputs; every entry hits the same few cells.
  at::manual_seed(12);
  const at::Tensor w = at::randn({4, 1, 3, 3, 3}, at::kFloat);
  models::Pads p;
  p.before = p.after = {1, 1, 1};
  const std::vector<int64_t> out_shape{1, 4, 40, 40, 200};
  const at::Tensor positions = at::arange(0, 4 * 40 * 40 * 200, 3, at::kLong);
  const at::Tensor s = at::randn({positions.numel()}, at::kFloat);
  const at::Tensor fast = models::conv3d_transpose_at(s, positions, w, p, out_shape, {40, 40, 200});
  const at::Tensor portable =
      models::conv3d_transpose_at(s, positions, w, p, out_shape, {40, 40, 200}, models::SparseKernel::Portable);
  CHECK(max_abs(fast - portable) < 1e-4 * max_abs(portable));
}

TEST_CASE("winners' values are summed in their order, bit for bit, whatever the threads do", "[lrp][sparse]") {
  // Overlapping pooling windows make one cell the winner of several windows. ATen's CPU index_put_
  // summed such repeats from two threads with atomics, in an order that depended on thread timing, so
  // identical runs could differ in the last bit; scatter_dense must sum serially, in the given order.
  at::set_num_threads(2);
  const int64_t cells = 1000, entries = 400000;
  at::manual_seed(7);
  const at::Tensor positions = at::randint(0, cells, {entries}, at::kLong);
  const at::Tensor values = (at::randn({entries}, at::kFloat) * at::exp(at::randn({entries}, at::kFloat) * 4)).contiguous();
  std::vector<float> expected(cells, 0.0f);
  for (int64_t j = 0; j < entries; ++j) expected[positions[j].item<int64_t>()] += values[j].item<float>();
  for (int run = 0; run < 3; ++run) {
    const at::Tensor got = models::scatter_dense(values, positions, {10, 100});
    REQUIRE(got.is_contiguous());
    CHECK(std::memcmp(got.data_ptr<float>(), expected.data(), sizeof(float) * cells) == 0);
  }
}
