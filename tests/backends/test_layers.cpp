// Attention pooling, GRU (both variants), SimpleRNN and Dense on every
// backend against the reference, over the case table (tests/common/cases.hpp)
// and each op's options. These ops compute the same in both math modes
// (docs/math.md#tolerances), so both are held to 1e-5 + 1e-4·|ref|; masked
// positions and empty rows must be exact zeros, and outputs start as NaN so
// an element left unwritten fails.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "backend_test.hpp"

namespace seqattn_test {
namespace {

using cases::Cell;
using cases::RnnOptions;

// ------------------------------------------------------------------ pooling

using PoolParam = std::tuple<Backend, cases::PoolingCase, bool /*masked*/>;
class PoolingBackend : public BackendTest<PoolParam> {};

struct PoolOut {
  std::vector<float> context, weights;  // weights empty: weights_out was NULL
};

PoolOut pool(seqattn_handle h, const seqattn_pooling_dims& d, const std::vector<float>& x,
             const std::vector<int32_t>& lengths, const std::vector<float>& w,
             const std::vector<float>& b, bool want_weights) {
  const size_t BT = size_t(d.batch) * d.steps;
  DeviceArray dx(h, x), dw(h, w), ctx(h, nan_vector(size_t(d.batch) * d.features));
  Optional db(h, b), wts(h, want_weights ? nan_vector(BT) : std::vector<float>{});
  const seqattn_status s = seqattn_attention_pooling_forward(h, &d, dx.f(), opt(lengths), dw.f(),
                                                             db.f(), ctx.f(), wts.f());
  if (s != SEQATTN_OK) throw std::runtime_error("pooling: " + status_text(s));
  return {ctx.download(), wts.download()};
}

// Weights at t >= L and the context of an L = 0 row are exact zeros.
::testing::AssertionResult pool_exact_zeros(const seqattn_pooling_dims& d,
                                            const std::vector<int32_t>& lengths,
                                            const PoolOut& out) {
  for (int b = 0; b < d.batch; ++b) {
    const int L = lengths.empty() ? d.steps : lengths[size_t(b)];
    for (int t = L; !out.weights.empty() && t < d.steps; ++t)
      if (out.weights[size_t(b) * d.steps + t] != 0.0f)
        return ::testing::AssertionFailure()
               << "weights[" << b << "," << t << "] = " << out.weights[size_t(b) * d.steps + t]
               << " beyond length " << L;
    for (int f = 0; L == 0 && f < d.features; ++f)
      if (out.context[size_t(b) * d.features + f] != 0.0f)
        return ::testing::AssertionFailure()
               << "context[" << b << "," << f << "] = " << out.context[size_t(b) * d.features + f]
               << " in an empty row";
  }
  return ::testing::AssertionSuccess();
}

TEST_P(PoolingBackend, MatchesReference) {
  const auto& [backend, c, masked] = GetParam();
  if (skip_heavy(c.heavy)) GTEST_SKIP() << cases::heavy_skip_reason();
  const seqattn_pooling_dims d = c.d;
  const std::vector<float> x = random_vector(size_t(d.batch) * d.steps * d.features, 11);
  const std::vector<float> w = random_weights(size_t(d.features), d.features, 12);
  const std::vector<float> b =
      masked ? random_vector(size_t(d.steps), 13, -0.5f, 0.5f) : std::vector<float>{};
  const std::vector<int32_t> lengths =
      masked ? mixed_lengths(d.batch, d.steps, 14) : std::vector<int32_t>{};
  const PoolOut ref = pool(ref_, d, x, lengths, w, b, true);
  ASSERT_TRUE(all_finite(ref.weights, "reference weights"));

  for_each_target([&] {
    for (seqattn_math math : cases::kMathModes) {
      SCOPED_TRACE(std::string("math ") + cases::math_name(math));
      const PoolOut got = pool(dev(math), d, x, lengths, w, b, true);
      EXPECT_TRUE(close(got.context, ref.context, "context"));
      EXPECT_TRUE(close(got.weights, ref.weights, "weights"));
      EXPECT_TRUE(pool_exact_zeros(d, lengths, got));
      const PoolOut no_weights = pool(dev(math), d, x, lengths, w, b, false);
      EXPECT_TRUE(close(no_weights.context, ref.context, "context (weights_out NULL)"));
      EXPECT_TRUE(pool_exact_zeros(d, lengths, no_weights));
    }
  });
}

std::string pool_name(const ::testing::TestParamInfo<PoolParam>& p) {
  const auto& [backend, c, masked] = p.param;
  return std::string(backend_name(backend)) + "_" + c.name + (masked ? "_masked" : "_full");
}

INSTANTIATE_TEST_SUITE_P(Cases, PoolingBackend,
                         ::testing::Combine(::testing::ValuesIn(kBackends),
                                            ::testing::ValuesIn(cases::kPooling),
                                            ::testing::Bool()),
                         pool_name);

// -------------------------------------------------------------- recurrent

struct RnnInputs {
  seqattn_rnn_dims d;
  Cell cell;
  uint32_t flags;
  std::vector<float> x, h0, kernel, recurrent, bias;  // h0, bias empty: NULL
  std::vector<int32_t> lengths;                       // empty: NULL (full length)
  size_t outputs_size() const { return size_t(d.batch) * d.steps * d.units; }
  size_t state_size() const { return size_t(d.batch) * d.units; }
};

RnnInputs make_rnn_inputs(const seqattn_rnn_dims& d, Cell cell, bool reverse, RnnOptions o) {
  RnnInputs in;
  in.d = d;
  in.cell = cell;
  in.flags = reverse ? uint32_t(SEQATTN_RNN_REVERSE) : 0u;
  const size_t GH = (cell == Cell::kSimple ? 1 : 3) * size_t(d.units);
  in.x = random_vector(size_t(d.batch) * d.steps * d.input_dim, 21);
  in.kernel = random_weights(size_t(d.input_dim) * GH, d.input_dim, 22);
  in.recurrent = random_weights(size_t(d.units) * GH, d.units, 23);
  if (o != RnnOptions::kFull) {
    in.lengths = mixed_lengths(d.batch, d.steps, 24);
    in.bias = random_vector(cell == Cell::kGruResetAfter ? 2 * GH : GH, 26, -0.5f, 0.5f);
  }
  if (o == RnnOptions::kMaskedH0) in.h0 = random_vector(in.state_size(), 25);
  return in;
}

struct RnnOut {
  std::vector<float> outputs, h_last;  // empty: that output was NULL
};

RnnOut run_rnn(seqattn_handle h, const RnnInputs& in, bool want_outputs, bool want_last) {
  DeviceArray x(h, in.x), kernel(h, in.kernel), recurrent(h, in.recurrent);
  Optional h0(h, in.h0), bias(h, in.bias);
  Optional outputs(h, want_outputs ? nan_vector(in.outputs_size()) : std::vector<float>{});
  Optional h_last(h, want_last ? nan_vector(in.state_size()) : std::vector<float>{});
  seqattn_status s;
  if (in.cell == Cell::kSimple) {
    s = seqattn_simple_rnn_forward(h, &in.d, in.flags, x.f(), opt(in.lengths), h0.f(), kernel.f(),
                                   recurrent.f(), bias.f(), outputs.f(), h_last.f());
  } else {
    const seqattn_gru_variant v =
        in.cell == Cell::kGruResetAfter ? SEQATTN_GRU_RESET_AFTER : SEQATTN_GRU_RESET_BEFORE;
    s = seqattn_gru_forward(h, &in.d, v, in.flags, x.f(), opt(in.lengths), h0.f(), kernel.f(),
                            recurrent.f(), bias.f(), outputs.f(), h_last.f());
  }
  if (s != SEQATTN_OK) throw std::runtime_error("rnn: " + status_text(s));
  return {outputs.download(), h_last.download()};
}

// outputs[b,t] = 0 exactly for t >= L; h_last[b] is h0[b] (or 0) bit for bit
// when L = 0.
::testing::AssertionResult rnn_exact_rules(const RnnInputs& in, const RnnOut& out) {
  const auto& d = in.d;
  for (int b = 0; b < d.batch; ++b) {
    const int L = in.lengths.empty() ? d.steps : in.lengths[size_t(b)];
    for (size_t i = (size_t(b) * d.steps + L) * d.units;
         !out.outputs.empty() && i < size_t(b + 1) * d.steps * d.units; ++i)
      if (out.outputs[i] != 0.0f)
        return ::testing::AssertionFailure() << "outputs[" << i << "] = " << out.outputs[i]
                                             << " beyond length " << L << " of row " << b;
    for (int j = 0; L == 0 && !out.h_last.empty() && j < d.units; ++j) {
      const size_t i = size_t(b) * d.units + j;
      const float want = in.h0.empty() ? 0.0f : in.h0[i];
      if (std::memcmp(&out.h_last[i], &want, sizeof(float)) != 0)
        return ::testing::AssertionFailure()
               << "h_last[" << b << "," << j << "] = " << out.h_last[i]
               << " for length 0, not h0 = " << want;
    }
  }
  return ::testing::AssertionSuccess();
}

using RnnParam = std::tuple<Backend, cases::RnnCase, Cell, bool /*reverse*/, RnnOptions>;
class RnnBackend : public BackendTest<RnnParam> {};

TEST_P(RnnBackend, MatchesReference) {
  const auto& [backend, c, cell, reverse, options] = GetParam();
  if (skip_heavy(c.heavy)) GTEST_SKIP() << cases::heavy_skip_reason();
  const RnnInputs in = make_rnn_inputs(c.d, cell, reverse, options);
  const RnnOut ref = run_rnn(ref_, in, true, true);
  ASSERT_TRUE(all_finite(ref.outputs, "reference outputs"));
  ASSERT_TRUE(all_finite(ref.h_last, "reference h_last"));

  for_each_target([&] {
    for (seqattn_math math : cases::kMathModes) {
      SCOPED_TRACE(std::string("math ") + cases::math_name(math));
      const RnnOut got = run_rnn(dev(math), in, true, true);
      EXPECT_TRUE(close(got.outputs, ref.outputs, "outputs"));
      EXPECT_TRUE(close(got.h_last, ref.h_last, "h_last"));
      EXPECT_TRUE(rnn_exact_rules(in, got));
      // Each output on its own: the state then lives in the workspace, or
      // only h_last is written.
      const RnnOut outputs_only = run_rnn(dev(math), in, true, false);
      const RnnOut last_only = run_rnn(dev(math), in, false, true);
      EXPECT_TRUE(close(outputs_only.outputs, ref.outputs, "outputs (h_last NULL)"));
      EXPECT_TRUE(close(last_only.h_last, ref.h_last, "h_last (outputs NULL)"));
      EXPECT_TRUE(rnn_exact_rules(in, outputs_only));
      EXPECT_TRUE(rnn_exact_rules(in, last_only));
    }
  });
}

std::string rnn_name(const ::testing::TestParamInfo<RnnParam>& p) {
  const auto& [backend, c, cell, reverse, options] = p.param;
  return std::string(backend_name(backend)) + "_" + c.name + "_" + cases::cell_name(cell) +
         (reverse ? "_reverse_" : "_forward_") + cases::options_name(options);
}

INSTANTIATE_TEST_SUITE_P(Cases, RnnBackend,
                         ::testing::Combine(::testing::ValuesIn(kBackends),
                                            ::testing::ValuesIn(cases::kRnn),
                                            ::testing::ValuesIn(cases::kCells), ::testing::Bool(),
                                            ::testing::ValuesIn(cases::kRnnOptions)),
                         rnn_name);

// ------------------------------------------------------------------- dense

using DenseParam = std::tuple<Backend, cases::DenseCase, seqattn_activation, bool /*bias*/>;
class DenseBackend : public BackendTest<DenseParam> {};

std::vector<float> dense(seqattn_handle h, const cases::DenseCase& c, const std::vector<float>& x,
                         const std::vector<float>& W, const std::vector<float>& b,
                         seqattn_activation act) {
  DeviceArray dx(h, x), dW(h, W), y(h, nan_vector(size_t(c.rows) * size_t(c.out)));
  Optional db(h, b);
  const seqattn_status s =
      seqattn_dense_forward(h, c.rows, c.in, c.out, dx.f(), dW.f(), db.f(), act, y.f());
  if (s != SEQATTN_OK) throw std::runtime_error("dense: " + status_text(s));
  return y.download();
}

TEST_P(DenseBackend, MatchesReference) {
  const auto& [backend, c, act, with_bias] = GetParam();
  if (skip_heavy(c.heavy)) GTEST_SKIP() << cases::heavy_skip_reason();
  const std::vector<float> x = random_vector(size_t(c.rows) * size_t(c.in), 31);
  const std::vector<float> W = random_weights(size_t(c.in) * size_t(c.out), c.in, 32);
  const std::vector<float> b =
      with_bias ? random_vector(size_t(c.out), 33, -0.5f, 0.5f) : std::vector<float>{};
  const std::vector<float> ref = dense(ref_, c, x, W, b, act);
  ASSERT_TRUE(all_finite(ref, "reference y"));

  for_each_target([&] {
    for (seqattn_math math : cases::kMathModes) {
      SCOPED_TRACE(std::string("math ") + cases::math_name(math));
      EXPECT_TRUE(close(dense(dev(math), c, x, W, b, act), ref, "y"));
    }
  });
}

std::string dense_name(const ::testing::TestParamInfo<DenseParam>& p) {
  const auto& [backend, c, act, with_bias] = p.param;
  return std::string(backend_name(backend)) + "_" + c.name + "_" + cases::activation_name(act) +
         (with_bias ? "_bias" : "_nobias");
}

INSTANTIATE_TEST_SUITE_P(Cases, DenseBackend,
                         ::testing::Combine(::testing::ValuesIn(kBackends),
                                            ::testing::ValuesIn(cases::kDense),
                                            ::testing::ValuesIn(cases::kActivations),
                                            ::testing::Bool()),
                         dense_name);

}  // namespace
}  // namespace seqattn_test
