// Edge values on the fast CPU path, through the C API, against what the
// reference does with them: a NaN in an input propagates (x86's vector
// min/max and a vector exp would otherwise turn it into a finite value), and
// activations stay in their ranges (the rational tanh reaches 1 + 1.2e-7
// near its clamp; an activation must not).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "seqattn/seqattn.hpp"

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<float> dense(seqattn_device device, const std::vector<float>& x, int in_dim,
                         int out_dim, const std::vector<float>& W, seqattn_activation act) {
  seqattn::Handle h(device);
  const int64_t rows = int64_t(x.size()) / in_dim;
  std::vector<float> y(size_t(rows) * size_t(out_dim), 12345.0f);
  EXPECT_EQ(seqattn_dense_forward(h.get(), rows, in_dim, out_dim, x.data(), W.data(), nullptr,
                                  act, y.data()),
            SEQATTN_OK)
      << seqattn_last_error();
  return y;
}

class FastEdges : public ::testing::TestWithParam<seqattn_device> {};

// One row of Dense holds a NaN: every activation keeps it, and a softmax
// row with it is NaN throughout (as the reference's exp/sum make it); the
// other row is untouched by it.
TEST_P(FastEdges, NaNPropagates) {
  const int in = 3, out = 20;  // 20 outputs: a whole vector and a tail on every target
  std::vector<float> W(size_t(in) * out);
  for (size_t k = 0; k < W.size(); ++k) W[k] = 0.1f * float(k % 7) - 0.3f;
  const std::vector<float> x = {kNaN, 0.5f, -0.25f, 0.1f, 0.2f, 0.3f};  // rows: NaN, finite
  for (seqattn_activation act : {SEQATTN_ACTIVATION_NONE, SEQATTN_ACTIVATION_TANH,
                                 SEQATTN_ACTIVATION_SIGMOID, SEQATTN_ACTIVATION_SOFTMAX}) {
    SCOPED_TRACE(::testing::Message() << "activation " << int(act));
    const std::vector<float> y = dense(GetParam(), x, in, out, W, act);
    for (int j = 0; j < out; ++j) {
      EXPECT_TRUE(std::isnan(y[size_t(j)])) << "row 0, output " << j << " = " << y[size_t(j)];
      EXPECT_TRUE(std::isfinite(y[size_t(out + j)])) << "row 1, output " << j;
    }
  }
}

// Large pre-activations: tanh in [-1, 1], sigmoid in [0, 1], softmax in
// [0, 1] summing to 1.
TEST_P(FastEdges, ActivationsStayInRange) {
  const int in = 1, out = 37;
  std::vector<float> W(out);
  for (int j = 0; j < out; ++j) W[size_t(j)] = float(j - 18) * 2.5f;  // -45 .. 45
  const std::vector<float> x = {1.0f, -1.0f, 7.0f};
  const std::vector<float> t = dense(GetParam(), x, in, out, W, SEQATTN_ACTIVATION_TANH);
  const std::vector<float> s = dense(GetParam(), x, in, out, W, SEQATTN_ACTIVATION_SIGMOID);
  const std::vector<float> p = dense(GetParam(), x, in, out, W, SEQATTN_ACTIVATION_SOFTMAX);
  for (size_t k = 0; k < t.size(); ++k) {
    EXPECT_LE(std::fabs(t[k]), 1.0f) << "tanh[" << k << "] = " << t[k];
    EXPECT_GE(s[k], 0.0f) << "sigmoid[" << k << "]";
    EXPECT_LE(s[k], 1.0f) << "sigmoid[" << k << "] = " << s[k];
    EXPECT_GE(p[k], 0.0f);
    EXPECT_LE(p[k], 1.0f);
  }
  for (size_t r = 0; r < 3; ++r) {
    double sum = 0;
    for (int j = 0; j < out; ++j) sum += p[r * out + size_t(j)];
    EXPECT_NEAR(sum, 1.0, 1e-6) << "softmax row " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(CpuPaths, FastEdges,
                         ::testing::Values(SEQATTN_DEVICE_CPU, SEQATTN_DEVICE_CPU_REFERENCE),
                         [](const auto& p) {
                           return std::string(p.param == SEQATTN_DEVICE_CPU ? "fast" : "reference");
                         });

}  // namespace
