// Attention pooling, GRU (both variants), SimpleRNN and Dense on a CUDA handle
// against the CPU reference, over shape sweeps and the options of each op.
// These kernels use the precise functions in both math modes (see their
// headers), so both modes are held to 1e-5 + 1e-4·|ref|.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "cuda_test_util.hpp"

namespace seqattn_cuda_test {
namespace {

const int32_t* opt(const std::vector<int32_t>& x) { return x.empty() ? nullptr : x.data(); }
const float* opt(const std::vector<float>& x) { return x.empty() ? nullptr : x.data(); }
const char* math_name(seqattn_math m) { return m == SEQATTN_MATH_FAST ? "fast" : "precise"; }

// ------------------------------------------------------------------ pooling

struct PoolShape {
  const char* name;
  seqattn_pooling_dims d;  // batch, steps, features
};

const PoolShape kPoolShapes[] = {
    {"tiny", {1, 1, 1}},
    {"primes", {3, 7, 5}},
    {"steps_over_a_block", {4, 300, 33}},
    {"wide", {5, 17, 257}},
    {"long", {2, 20000, 3}},  // longer than shared memory holds: global scratch
};

using PoolParam = std::tuple<PoolShape, seqattn_math, bool /*masked*/>;
class PoolingSweep : public CudaTest, public ::testing::WithParamInterface<PoolParam> {};

TEST_P(PoolingSweep, MatchesCpuReference) {
  const auto& [shape, math, masked] = GetParam();
  const seqattn_pooling_dims d = shape.d;
  const size_t BT = size_t(d.batch) * d.steps;
  const std::vector<float> x = random_vector(BT * d.features, 11);
  const std::vector<float> w = random_weights(size_t(d.features), d.features, 12);
  const std::vector<float> b = masked ? random_vector(size_t(d.steps), 13, -0.5f, 0.5f)
                                      : std::vector<float>{};
  const std::vector<int32_t> lengths =
      masked ? mixed_lengths(d.batch, d.steps, 14) : std::vector<int32_t>{};

  std::vector<float> ctx_ref = nan_vector(size_t(d.batch) * d.features), w_ref = nan_vector(BT);
  SEQATTN_OK_OR_FAIL(seqattn_attention_pooling_forward(cpu_, &d, x.data(), opt(lengths), w.data(),
                                                       opt(b), ctx_ref.data(), w_ref.data()));
  const seqattn_handle g = gpu(math);
  DeviceArray dx(g, x), dw(g, w), ctx(g, nan_vector(ctx_ref.size())), wts(g, nan_vector(BT));
  Optional db(g, b);
  SEQATTN_OK_OR_FAIL(seqattn_attention_pooling_forward(g, &d, dx.f(), opt(lengths), dw.f(),
                                                       db.f(), ctx.f(), wts.f()));
  EXPECT_TRUE(close(ctx.download(), ctx_ref, "context"));
  EXPECT_TRUE(close(wts.download(), w_ref, "weights"));

  DeviceArray ctx2(g, nan_vector(ctx_ref.size()));
  SEQATTN_OK_OR_FAIL(seqattn_attention_pooling_forward(g, &d, dx.f(), opt(lengths), dw.f(),
                                                       db.f(), ctx2.f(), nullptr));
  EXPECT_TRUE(close(ctx2.download(), ctx_ref, "context (weights_out NULL)"));
}

std::string pool_name(const ::testing::TestParamInfo<PoolParam>& p) {
  const auto& [shape, math, masked] = p.param;
  return std::string(shape.name) + "_" + math_name(math) + (masked ? "_masked" : "_full");
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, PoolingSweep,
    ::testing::Combine(::testing::ValuesIn(kPoolShapes),
                       ::testing::Values(SEQATTN_MATH_PRECISE, SEQATTN_MATH_FAST),
                       ::testing::Bool()),
    pool_name);

// -------------------------------------------------------------- recurrent

enum class Cell { kGruResetAfter, kGruResetBefore, kSimple };

struct RnnShape {
  const char* name;
  seqattn_rnn_dims d;  // batch, steps, input_dim, units
};

const RnnShape kRnnShapes[] = {
    {"tiny", {1, 1, 1, 1}},
    {"primes", {3, 7, 5, 9}},
    {"odd", {4, 13, 17, 33}},
    {"units_over_a_block", {2, 5, 300, 257}},
};

using RnnParam = std::tuple<RnnShape, Cell, seqattn_math, bool /*reverse*/, bool /*masked*/>;
class RnnSweep : public CudaTest, public ::testing::WithParamInterface<RnnParam> {};

struct RnnInputs {
  seqattn_rnn_dims d;
  Cell cell;
  uint32_t flags;
  std::vector<float> x, h0, kernel, recurrent, bias;
  std::vector<int32_t> lengths;
};

seqattn_status run_rnn(seqattn_handle h, const RnnInputs& in, const float* x,
                       const float* h0, const float* kernel, const float* recurrent,
                       const float* bias, float* outputs, float* h_last) {
  if (in.cell == Cell::kSimple)
    return seqattn_simple_rnn_forward(h, &in.d, in.flags, x, opt(in.lengths), h0, kernel,
                                      recurrent, bias, outputs, h_last);
  const seqattn_gru_variant v =
      in.cell == Cell::kGruResetAfter ? SEQATTN_GRU_RESET_AFTER : SEQATTN_GRU_RESET_BEFORE;
  return seqattn_gru_forward(h, &in.d, v, in.flags, x, opt(in.lengths), h0, kernel, recurrent,
                             bias, outputs, h_last);
}

TEST_P(RnnSweep, MatchesCpuReference) {
  const auto& [shape, cell, math, reverse, masked] = GetParam();
  RnnInputs in;
  in.d = shape.d;
  in.cell = cell;
  in.flags = reverse ? uint32_t(SEQATTN_RNN_REVERSE) : 0u;
  const auto& d = in.d;
  const size_t G = cell == Cell::kSimple ? 1 : 3, GH = G * size_t(d.units);
  const size_t BH = size_t(d.batch) * d.units, BTH = BH * size_t(d.steps);
  in.x = random_vector(size_t(d.batch) * d.steps * d.input_dim, 21);
  in.kernel = random_weights(size_t(d.input_dim) * GH, d.input_dim, 22);
  in.recurrent = random_weights(size_t(d.units) * GH, d.units, 23);
  if (masked) {  // lengths, h0 and bias together; the full variant has none
    in.lengths = mixed_lengths(d.batch, d.steps, 24);
    in.h0 = random_vector(BH, 25);
    in.bias = random_vector(cell == Cell::kGruResetAfter ? 2 * GH : GH, 26, -0.5f, 0.5f);
  }

  std::vector<float> out_ref = nan_vector(BTH), last_ref = nan_vector(BH);
  SEQATTN_OK_OR_FAIL(run_rnn(cpu_, in, in.x.data(), opt(in.h0), in.kernel.data(),
                             in.recurrent.data(), opt(in.bias), out_ref.data(), last_ref.data()));

  const seqattn_handle g = gpu(math);
  DeviceArray x(g, in.x), kernel(g, in.kernel), recurrent(g, in.recurrent);
  Optional h0(g, in.h0), bias(g, in.bias);
  DeviceArray outputs(g, nan_vector(BTH)), h_last(g, nan_vector(BH));
  SEQATTN_OK_OR_FAIL(run_rnn(g, in, x.f(), h0.f(), kernel.f(), recurrent.f(), bias.f(),
                             outputs.f(), h_last.f()));
  EXPECT_TRUE(close(outputs.download(), out_ref, "outputs"));
  EXPECT_TRUE(close(h_last.download(), last_ref, "h_last"));

  // Each output on its own: the state then lives in the workspace, or only
  // h_last is written.
  DeviceArray outputs_only(g, nan_vector(BTH)), h_last_only(g, nan_vector(BH));
  SEQATTN_OK_OR_FAIL(run_rnn(g, in, x.f(), h0.f(), kernel.f(), recurrent.f(), bias.f(),
                             outputs_only.f(), nullptr));
  SEQATTN_OK_OR_FAIL(run_rnn(g, in, x.f(), h0.f(), kernel.f(), recurrent.f(), bias.f(), nullptr,
                             h_last_only.f()));
  EXPECT_TRUE(close(outputs_only.download(), out_ref, "outputs (h_last NULL)"));
  EXPECT_TRUE(close(h_last_only.download(), last_ref, "h_last (outputs NULL)"));
}

const char* cell_name(Cell c) {
  return c == Cell::kGruResetAfter ? "gru_reset_after"
         : c == Cell::kGruResetBefore ? "gru_reset_before"
                                      : "simple_rnn";
}

std::string rnn_name(const ::testing::TestParamInfo<RnnParam>& p) {
  const auto& [shape, cell, math, reverse, masked] = p.param;
  return std::string(shape.name) + "_" + cell_name(cell) + "_" + math_name(math) +
         (reverse ? "_reverse" : "_forward") + (masked ? "_masked" : "_full");
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, RnnSweep,
    ::testing::Combine(::testing::ValuesIn(kRnnShapes),
                       ::testing::Values(Cell::kGruResetAfter, Cell::kGruResetBefore,
                                         Cell::kSimple),
                       ::testing::Values(SEQATTN_MATH_PRECISE, SEQATTN_MATH_FAST),
                       ::testing::Bool(), ::testing::Bool()),
    rnn_name);

// ------------------------------------------------------------------- dense

struct DenseShape {
  const char* name;
  int64_t rows;
  int32_t in, out;
};

const DenseShape kDenseShapes[] = {
    {"tiny", 1, 1, 1},
    {"primes", 7, 13, 5},
    {"blocks", 300, 65, 129},
    {"vocabulary", 33, 17, 1000},  // a softmax row wider than a warp many times
};

using DenseParam = std::tuple<DenseShape, seqattn_activation, seqattn_math, bool /*bias*/>;
class DenseSweep : public CudaTest, public ::testing::WithParamInterface<DenseParam> {};

TEST_P(DenseSweep, MatchesCpuReference) {
  const auto& [shape, act, math, with_bias] = GetParam();
  const size_t n_y = size_t(shape.rows) * size_t(shape.out);
  const std::vector<float> x = random_vector(size_t(shape.rows) * size_t(shape.in), 31);
  const std::vector<float> W = random_weights(size_t(shape.in) * size_t(shape.out), shape.in, 32);
  const std::vector<float> b =
      with_bias ? random_vector(size_t(shape.out), 33, -0.5f, 0.5f) : std::vector<float>{};
  std::vector<float> y_ref = nan_vector(n_y);
  SEQATTN_OK_OR_FAIL(seqattn_dense_forward(cpu_, shape.rows, shape.in, shape.out, x.data(),
                                           W.data(), opt(b), act, y_ref.data()));
  const seqattn_handle g = gpu(math);
  DeviceArray dx(g, x), dW(g, W), y(g, nan_vector(n_y));
  Optional db(g, b);
  SEQATTN_OK_OR_FAIL(
      seqattn_dense_forward(g, shape.rows, shape.in, shape.out, dx.f(), dW.f(), db.f(), act, y.f()));
  EXPECT_TRUE(close(y.download(), y_ref, "y"));
}

std::string dense_name(const ::testing::TestParamInfo<DenseParam>& p) {
  const auto& [shape, act, math, with_bias] = p.param;
  const char* acts[] = {"none", "tanh", "sigmoid", "relu", "softmax"};
  return std::string(shape.name) + "_" + acts[int(act)] + "_" + math_name(math) +
         (with_bias ? "_bias" : "_nobias");
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, DenseSweep,
    ::testing::Combine(::testing::ValuesIn(kDenseShapes),
                       ::testing::Values(SEQATTN_ACTIVATION_NONE, SEQATTN_ACTIVATION_TANH,
                                         SEQATTN_ACTIVATION_SIGMOID, SEQATTN_ACTIVATION_RELU,
                                         SEQATTN_ACTIVATION_SOFTMAX),
                       ::testing::Values(SEQATTN_MATH_PRECISE, SEQATTN_MATH_FAST),
                       ::testing::Bool()),
    dense_name);

}  // namespace
}  // namespace seqattn_cuda_test
