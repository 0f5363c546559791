// Additive attention on a CUDA handle against the CPU reference: one- and
// two-phase forms, shape sweeps across every tile edge of kernels/attention.cu,
// lengths (0, 1, full, varied), bias, optional weights, both math modes —
// PRECISE within 1e-5 + 1e-4·|ref|, FAST within the bound derived in the
// header of kernels/attention.cu on top of that.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "cuda_test_util.hpp"

namespace seqattn_cuda_test {
namespace {

struct Shape {
  const char* name;
  seqattn_attention_dims d;  // batch, enc_steps, dec_steps, enc_dim, dec_dim, units
};

const Shape kShapes[] = {
    {"tiny", {1, 1, 1, 1, 1, 1}},
    {"primes", {2, 5, 3, 7, 11, 13}},
    // Te > one 128-position tile, Td > one 32-row block, A > one 32-unit chunk
    // and not a multiple of 4, He > one 32-column warp.
    {"tiles", {3, 130, 37, 33, 17, 67}},
    // Three position tiles, He > one 128-column context item, a 2-warp block.
    {"long_source", {2, 300, 5, 130, 9, 40}},
    {"one_position", {2, 1, 70, 3, 5, 4}},
    {"one_step", {5, 77, 1, 19, 23, 29}},  // step-wise decoding
    // The largest dimensions asked of the kernel; energies in global scratch.
    {"large", {1, 1024, 9, 1024, 16, 1024}},
    {"reference", {64, 128, 128, 256, 256, 256}},  // the benchmarks' reference shape
};

struct Inputs {
  seqattn_attention_dims d;
  std::vector<float> h, s, W, U, bias, v;  // bias empty: none
  std::vector<int32_t> enc, dec;           // empty: NULL (full length)
  size_t context_size() const { return size_t(d.batch) * d.dec_steps * d.enc_dim; }
  size_t weights_size() const { return size_t(d.batch) * d.dec_steps * d.enc_steps; }
  size_t keys_size() const { return size_t(d.batch) * d.enc_steps * d.units; }
};

Inputs make_inputs(const seqattn_attention_dims& d, bool masked, uint32_t seed) {
  Inputs in;
  in.d = d;
  in.h = random_vector(size_t(d.batch) * d.enc_steps * d.enc_dim, seed + 1);
  in.s = random_vector(size_t(d.batch) * d.dec_steps * d.dec_dim, seed + 2);
  in.W = random_weights(size_t(d.enc_dim) * d.units, d.enc_dim, seed + 3);
  in.U = random_weights(size_t(d.dec_dim) * d.units, d.dec_dim, seed + 4);
  const float vs = float(1.0 / std::sqrt(double(d.units)));
  in.v = random_vector(size_t(d.units), seed + 5, -vs, vs);
  if (masked) {
    in.bias = random_vector(size_t(d.units), seed + 6, -0.5f, 0.5f);
    // Rotated against each other so that row 0 has a partial encoder length
    // under the full decoder length, and a 2-row batch still has a live row.
    in.enc = mixed_lengths(d.batch, d.enc_steps, seed + 7, 0);
    in.dec = mixed_lengths(d.batch, d.dec_steps, seed + 8, 2);
  }
  return in;
}

const int32_t* opt(const std::vector<int32_t>& x) { return x.empty() ? nullptr : x.data(); }
const float* opt(const std::vector<float>& x) { return x.empty() ? nullptr : x.data(); }

struct Outputs {
  std::vector<float> context, weights;
};

Outputs run_cpu(seqattn_handle cpu, const Inputs& in) {
  Outputs out{nan_vector(in.context_size()), nan_vector(in.weights_size())};
  const seqattn_status s = seqattn_additive_attention_forward(
      cpu, &in.d, in.h.data(), in.s.data(), opt(in.enc), opt(in.dec), in.W.data(), in.U.data(),
      opt(in.bias), in.v.data(), out.context.data(), out.weights.data());
  if (s != SEQATTN_OK) throw std::runtime_error("cpu attention: " + status_text(s));
  return out;
}

// Outputs start as NaN on the device, so an element the kernel fails to write
// cannot pass the comparison.
Outputs run_gpu(seqattn_handle gpu, const Inputs& in, bool want_weights) {
  DeviceArray h(gpu, in.h), s(gpu, in.s), W(gpu, in.W), U(gpu, in.U), v(gpu, in.v);
  Optional bias(gpu, in.bias);
  DeviceArray context(gpu, nan_vector(in.context_size()));
  Optional weights(gpu, want_weights ? nan_vector(in.weights_size()) : std::vector<float>{});
  const seqattn_status st = seqattn_additive_attention_forward(
      gpu, &in.d, h.f(), s.f(), opt(in.enc), opt(in.dec), W.f(), U.f(), bias.f(), v.f(),
      context.f(), weights.f());
  if (st != SEQATTN_OK) throw std::runtime_error("cuda attention: " + status_text(st));
  return {context.download(), weights.array ? weights.array->download() : std::vector<float>{}};
}

// The FAST bound of kernels/attention.cu: ρ = e^{2Δ} − 1 with
// Δ = 1.001·2^-10.987·Σ|v| + 2^-22; weights within ρ·w, context within
// ρ·Σ_i w_i·|h[b,i,k]|.
double fast_rho(const Inputs& in) {
  double sum_abs_v = 0.0;
  for (float x : in.v) sum_abs_v += std::fabs(double(x));
  const double delta = 1.001 * std::exp2(-10.987) * sum_abs_v + std::ldexp(1.0, -22);
  return std::expm1(2.0 * delta);
}

std::vector<double> fast_weight_bound(const Inputs& in, const std::vector<float>& w_ref) {
  const double rho = fast_rho(in);
  std::vector<double> bound(w_ref.size());
  for (size_t i = 0; i < w_ref.size(); ++i) bound[i] = rho * std::fabs(double(w_ref[i]));
  return bound;
}

std::vector<double> fast_context_bound(const Inputs& in, const std::vector<float>& w_ref) {
  const double rho = fast_rho(in);
  const auto& d = in.d;
  std::vector<double> bound(in.context_size(), 0.0);
  for (int b = 0; b < d.batch; ++b)
    for (int t = 0; t < d.dec_steps; ++t)
      for (int i = 0; i < d.enc_steps; ++i) {
        const double w = w_ref[(size_t(b) * d.dec_steps + t) * d.enc_steps + i];
        if (w == 0.0) continue;
        const float* h = &in.h[(size_t(b) * d.enc_steps + i) * d.enc_dim];
        double* out = &bound[(size_t(b) * d.dec_steps + t) * d.enc_dim];
        for (int k = 0; k < d.enc_dim; ++k) out[k] += rho * w * std::fabs(double(h[k]));
      }
  return bound;
}

// Rows with nothing to attend to, and masked positions, are exact zeros.
::testing::AssertionResult masked_exact_zeros(const Inputs& in, const Outputs& out) {
  const auto& d = in.d;
  for (int b = 0; b < d.batch; ++b) {
    const int Le = in.enc.empty() ? d.enc_steps : in.enc[size_t(b)];
    const int Ld = in.dec.empty() ? d.dec_steps : in.dec[size_t(b)];
    for (int t = 0; t < d.dec_steps; ++t) {
      const bool empty_row = t >= Ld || Le == 0;
      const size_t c0 = (size_t(b) * d.dec_steps + t) * d.enc_dim;
      const size_t w0 = (size_t(b) * d.dec_steps + t) * d.enc_steps;
      for (int k = 0; empty_row && k < d.enc_dim; ++k)
        if (out.context[c0 + k] != 0.0f)
          return ::testing::AssertionFailure() << "context[" << b << "," << t << "," << k
                                               << "] = " << out.context[c0 + k]
                                               << " in a row with nothing to attend to";
      for (int i = empty_row ? 0 : Le; i < d.enc_steps; ++i)
        if (out.weights[w0 + i] != 0.0f)
          return ::testing::AssertionFailure()
                 << "weights[" << b << "," << t << "," << i << "] = " << out.weights[w0 + i]
                 << " (enc_length " << Le << ", dec_length " << Ld << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

using SweepParam = std::tuple<Shape, seqattn_math, bool /*masked*/>;

class AttentionSweep : public CudaTest, public ::testing::WithParamInterface<SweepParam> {};

TEST_P(AttentionSweep, MatchesCpuReference) {
  const auto& [shape, math, masked] = GetParam();
  const Inputs in = make_inputs(shape.d, masked, 100);
  const Outputs ref = run_cpu(cpu_, in);
  const Outputs got = run_gpu(gpu(math), in, true);

  std::vector<double> wb, cb;
  if (math == SEQATTN_MATH_FAST) {
    wb = fast_weight_bound(in, ref.weights);
    cb = fast_context_bound(in, ref.weights);
  }
  EXPECT_TRUE(close(got.weights, ref.weights, "weights", wb));
  EXPECT_TRUE(close(got.context, ref.context, "context", cb));
  EXPECT_TRUE(masked_exact_zeros(in, got));

  // Without weights_out the context is computed the same way, bit for bit.
  const Outputs no_weights = run_gpu(gpu(math), in, false);
  EXPECT_EQ(0, std::memcmp(no_weights.context.data(), got.context.data(),
                           got.context.size() * sizeof(float)))
      << "the context changed when weights_out was NULL";
}

class TwoPhaseSweep : public CudaTest, public ::testing::WithParamInterface<SweepParam> {};

// project_keys on both handles; then forward_projected fed the same keys (the
// reference's, uploaded) on both; and the GPU's two phases against its own
// one-phase result.
TEST_P(TwoPhaseSweep, MatchesCpuReference) {
  const auto& [shape, math, masked] = GetParam();
  const Inputs in = make_inputs(shape.d, masked, 200);
  const seqattn_handle g = gpu(math);

  std::vector<float> keys_ref(in.keys_size());
  SEQATTN_OK_OR_FAIL(seqattn_additive_attention_project_keys(
      cpu_, &in.d, in.h.data(), in.W.data(), opt(in.bias), keys_ref.data()));
  DeviceArray h(g, in.h), s(g, in.s), W(g, in.W), U(g, in.U), v(g, in.v);
  Optional bias(g, in.bias);
  DeviceArray keys(g, nan_vector(in.keys_size()));
  SEQATTN_OK_OR_FAIL(
      seqattn_additive_attention_project_keys(g, &in.d, h.f(), W.f(), bias.f(), keys.f()));
  EXPECT_TRUE(close(keys.download(), keys_ref, "keys"));

  Outputs ref{nan_vector(in.context_size()), nan_vector(in.weights_size())};
  SEQATTN_OK_OR_FAIL(seqattn_additive_attention_forward_projected(
      cpu_, &in.d, in.h.data(), keys_ref.data(), in.s.data(), opt(in.enc), opt(in.dec),
      in.U.data(), in.v.data(), ref.context.data(), ref.weights.data()));

  DeviceArray same_keys(g, keys_ref);
  DeviceArray context(g, nan_vector(in.context_size())), weights(g, nan_vector(in.weights_size()));
  SEQATTN_OK_OR_FAIL(seqattn_additive_attention_forward_projected(
      g, &in.d, h.f(), same_keys.f(), s.f(), opt(in.enc), opt(in.dec), U.f(), v.f(), context.f(),
      weights.f()));
  const Outputs got{context.download(), weights.download()};
  std::vector<double> wb, cb;
  if (math == SEQATTN_MATH_FAST) {
    wb = fast_weight_bound(in, ref.weights);
    cb = fast_context_bound(in, ref.weights);
  }
  EXPECT_TRUE(close(got.weights, ref.weights, "weights (projected)", wb));
  EXPECT_TRUE(close(got.context, ref.context, "context (projected)", cb));
  EXPECT_TRUE(masked_exact_zeros(in, got));

  // The GPU's own keys through the second phase agree with its one-phase form.
  SEQATTN_OK_OR_FAIL(seqattn_additive_attention_forward_projected(
      g, &in.d, h.f(), keys.f(), s.f(), opt(in.enc), opt(in.dec), U.f(), v.f(), context.f(),
      weights.f()));
  const Outputs one_phase = run_gpu(g, in, true);
  EXPECT_TRUE(close(context.download(), one_phase.context, "context (two phases vs one)"));
  EXPECT_TRUE(close(weights.download(), one_phase.weights, "weights (two phases vs one)"));
}

std::string sweep_name(const ::testing::TestParamInfo<SweepParam>& p) {
  const auto& [shape, math, masked] = p.param;
  return std::string(shape.name) + (math == SEQATTN_MATH_FAST ? "_fast" : "_precise") +
         (masked ? "_masked" : "_full");
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionSweep,
                         ::testing::Combine(::testing::ValuesIn(kShapes),
                                            ::testing::Values(SEQATTN_MATH_PRECISE,
                                                              SEQATTN_MATH_FAST),
                                            ::testing::Bool()),
                         sweep_name);
INSTANTIATE_TEST_SUITE_P(Shapes, TwoPhaseSweep,
                         ::testing::Combine(::testing::ValuesIn(kShapes),
                                            ::testing::Values(SEQATTN_MATH_PRECISE,
                                                              SEQATTN_MATH_FAST),
                                            ::testing::Bool()),
                         sweep_name);

using AttentionCuda = CudaTest;

// Keys from the caller one float past a 16-byte boundary: the kernel must
// take its 4-byte staging path and give the same result.
TEST_F(AttentionCuda, UnalignedKeysFromTheCaller) {
  const seqattn_attention_dims d{3, 45, 6, 10, 7, 36};  // A % 4 == 0: only the pointer is off
  const Inputs in = make_inputs(d, true, 300);
  std::vector<float> keys_ref(in.keys_size());
  SEQATTN_OK_OR_FAIL(seqattn_additive_attention_project_keys(
      cpu_, &d, in.h.data(), in.W.data(), opt(in.bias), keys_ref.data()));
  Outputs ref{nan_vector(in.context_size()), nan_vector(in.weights_size())};
  SEQATTN_OK_OR_FAIL(seqattn_additive_attention_forward_projected(
      cpu_, &d, in.h.data(), keys_ref.data(), in.s.data(), opt(in.enc), opt(in.dec),
      in.U.data(), in.v.data(), ref.context.data(), ref.weights.data()));

  std::vector<float> shifted(keys_ref.size() + 1, 0.0f);
  std::copy(keys_ref.begin(), keys_ref.end(), shifted.begin() + 1);
  DeviceArray keys(gpu_, shifted), h(gpu_, in.h), s(gpu_, in.s), U(gpu_, in.U), v(gpu_, in.v);
  DeviceArray context(gpu_, nan_vector(in.context_size())),
      weights(gpu_, nan_vector(in.weights_size()));
  SEQATTN_OK_OR_FAIL(seqattn_additive_attention_forward_projected(
      gpu_, &d, h.f(), keys.f() + 1, s.f(), opt(in.enc), opt(in.dec), U.f(), v.f(), context.f(),
      weights.f()));
  EXPECT_TRUE(close(weights.download(), ref.weights, "weights"));
  EXPECT_TRUE(close(context.download(), ref.context, "context"));
}

// FAST must really use the approximations: over half a million tanh, some
// result differs from PRECISE in its last bits.
TEST_F(AttentionCuda, FastMathIsNotPreciseMath) {
  const seqattn_attention_dims d{4, 64, 32, 32, 32, 64};
  const Inputs in = make_inputs(d, false, 400);
  const Outputs precise = run_gpu(gpu_, in, true);
  const Outputs fast = run_gpu(gpu_fast_, in, true);
  EXPECT_NE(0, std::memcmp(precise.weights.data(), fast.weights.data(),
                           precise.weights.size() * sizeof(float)))
      << "SEQATTN_MATH_FAST gave bit-identical weights to SEQATTN_MATH_PRECISE";
}

}  // namespace
}  // namespace seqattn_cuda_test
