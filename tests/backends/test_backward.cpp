// The backward passes on every backend against the double-precision
// reference, over the case table (tests/common/cases.hpp): attention (both
// forms, masked and full, with and without d_weights), pooling, GRU (both
// variants) and SimpleRNN (every case, both directions, with and without
// lengths and h0, d_outputs and d_h_last each alone and together), Dense
// (every activation). Both backends take the same saved inputs: the
// forward's weights / outputs / y come from the reference's forward. The
// d_* inputs are random; gradients start as NaN, so an element left
// unwritten fails, and masked positions and empty rows must be exact zeros.
//
// Tolerances. Every gradient element x is a composition of float sums; a
// sum of n terms computed in float is within n·u·Σ|terms| of the exact sum
// (u = 2^-24, the standard bound γ_n ≈ n·u), so the test bounds
//   |got − ref| <= kAtol + kRtol·|ref| + (n·u + e)·M[x]
// with M[x] the sum of the magnitudes of the terms that make x (computed
// here in double from the reference's values, below for each op), n the
// length of the longest chain of sums behind x (stated per op), and e the
// error of a recomputed nonlinearity in that chain:
//  - attention: th = tanh(keys + q) enters as th (d_v) and 1 − th²
//    (d_keys, d_q); a tanh within ε of the exact one, at an argument within
//    δ of the exact one (keys and q are recomputed by float products of
//    He and Hd terms: δ <= (max(He, Hd) + 1)·u·Σ|h||W| + |s||U|), moves th
//    by ε + δ and 1 − th² by 2(ε + δ): e = 2(ε + δ). ε is the device's tanh
//    bound in the handle's math mode (tanh_bounds.hpp for the fast CPU path:
//    3.8e-7 PRECISE, 1.5e-4 FAST; CUDA: the same PRECISE bound for tanhf,
//    tanh.approx.f32's 2^-10.987 FAST, as cases.hpp).
//  - pooling: the energies' tanh recomputed from a float dot of F terms:
//    e = 2((F + 1)·u·max Σ|x||w| + 1e-7).
//  - Dense and the RNNs: the activation derivatives are taken from y and
//    the recomputed gates, whose rounding is inside n.
// The RNNs' gradients through time have no cheap term-magnitude tensor, so
// there M[x] is max|ref| over x's tensor (norm-wise; the weights are scaled
// like a trained layer's, so the backward's per-step factor stays O(1)), and
// n counts every sum a step passes through times the steps (below).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "attention_util.hpp"
#include "backend_test.hpp"

namespace seqattn_test {
namespace {

using cases::Cell;
using cases::RnnOptions;

constexpr double kU = 1.0 / 16777216.0;  // 2^-24, float's unit roundoff
constexpr double kTanhPrecise = 3.8e-7;  // src/fast/tanh_bounds.hpp; covers CUDA's tanhf too

double tanh_error(seqattn_device device, seqattn_math math) {
  if (math != SEQATTN_MATH_FAST) return kTanhPrecise;
  return device == SEQATTN_DEVICE_CUDA ? std::exp2(-10.987) : cases::kFastCpuTanhError;
}

// (n·u + e)·M[i] for each element.
std::vector<double> bound(const std::vector<double>& M, double n, double e) {
  std::vector<double> out(M.size());
  for (size_t i = 0; i < M.size(); ++i) out[i] = (n * kU + e) * M[i];
  return out;
}

// The norm-wise form: (n·u + e)·max|ref| for every element.
std::vector<double> normwise(const std::vector<float>& ref, double n, double e = 0.0) {
  double mx = 0.0;
  for (float x : ref) mx = std::max(mx, std::fabs(double(x)));
  return std::vector<double>(ref.size(), (n * kU + e) * mx);
}

// Elements [begin, end) of `x` are exact zeros.
::testing::AssertionResult zeros(const std::vector<float>& x, size_t begin, size_t end,
                                 const std::string& what) {
  for (size_t i = begin; i < end; ++i)
    if (x[i] != 0.0f)
      return ::testing::AssertionFailure() << what << "[" << i << "] = " << x[i]
                                           << ", not an exact zero";
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------- attention

struct AttentionGrads {
  std::vector<float> d_enc, d_dec, d_W, d_U, d_bias, d_v;  // d_W, d_bias: one-phase form
  std::vector<float> d_keys;                               // projected form
};

AttentionGrads attention_backward(seqattn_handle h, const AttentionInputs& in,
                                  const std::vector<float>& weights,
                                  const std::vector<float>& d_context,
                                  const std::vector<float>& d_weights) {
  const auto& d = in.d;
  DeviceArray hs(h, in.h), s(h, in.s), W(h, in.W), U(h, in.U), v(h, in.v), w(h, weights),
      dctx(h, d_context);
  Optional bias(h, in.bias), dw(h, d_weights);
  DeviceArray d_enc(h, nan_vector(size_t(d.batch) * d.enc_steps * d.enc_dim)),
      d_dec(h, nan_vector(size_t(d.batch) * d.dec_steps * d.dec_dim)),
      d_W(h, nan_vector(in.W.size())), d_U(h, nan_vector(in.U.size())),
      d_v(h, nan_vector(in.v.size()));
  Optional d_bias(h, in.bias.empty() ? std::vector<float>{} : nan_vector(in.bias.size()));
  const seqattn_status st = seqattn_additive_attention_backward(
      h, &d, hs.f(), s.f(), opt(in.enc), opt(in.dec), W.f(), U.f(), bias.f(), v.f(), w.f(),
      dctx.f(), dw.f(), d_enc.f(), d_dec.f(), d_W.f(), d_U.f(), d_bias.f(), d_v.f());
  if (st != SEQATTN_OK) throw std::runtime_error("attention backward: " + status_text(st));
  return {d_enc.download(), d_dec.download(), d_W.download(), d_U.download(),
          d_bias.download(),  d_v.download(),   {}};
}

AttentionGrads attention_projected_backward(seqattn_handle h, const AttentionInputs& in,
                                            const std::vector<float>& keys,
                                            const std::vector<float>& weights,
                                            const std::vector<float>& d_context,
                                            const std::vector<float>& d_weights) {
  const auto& d = in.d;
  DeviceArray hs(h, in.h), k(h, keys), s(h, in.s), U(h, in.U), v(h, in.v), w(h, weights),
      dctx(h, d_context);
  Optional dw(h, d_weights);
  DeviceArray d_enc(h, nan_vector(size_t(d.batch) * d.enc_steps * d.enc_dim)),
      d_keys(h, nan_vector(keys.size())),
      d_dec(h, nan_vector(size_t(d.batch) * d.dec_steps * d.dec_dim)),
      d_U(h, nan_vector(in.U.size())), d_v(h, nan_vector(in.v.size()));
  const seqattn_status st = seqattn_additive_attention_projected_backward(
      h, &d, hs.f(), k.f(), s.f(), opt(in.enc), opt(in.dec), U.f(), v.f(), w.f(), dctx.f(),
      dw.f(), d_enc.f(), d_keys.f(), d_dec.f(), d_U.f(), d_v.f());
  if (st != SEQATTN_OK) throw std::runtime_error("projected backward: " + status_text(st));
  return {d_enc.download(), d_dec.download(), {}, d_U.download(), {}, d_v.download(),
          d_keys.download()};
}

// M[x] for every attention gradient: the magnitudes of the terms of each
// sum (the header's math with every factor replaced by its absolute value),
// and δ, the bound on the recomputed tanh argument's rounding.
struct AttentionMagnitudes {
  std::vector<double> enc, enc_values, dec, W, U, bias, v, keys;
  double delta = 0.0;
};

AttentionMagnitudes attention_magnitudes(const AttentionInputs& in,
                                         const std::vector<float>& weights,
                                         const std::vector<float>& dctx,
                                         const std::vector<float>& d_weights) {
  const auto& d = in.d;
  const int B = d.batch, Te = d.enc_steps, Td = d.dec_steps, He = d.enc_dim, Hd = d.dec_dim,
            A = d.units;
  AttentionMagnitudes m;
  m.enc_values.assign(size_t(B) * Te * He, 0.0);
  m.dec.assign(size_t(B) * Td * Hd, 0.0);
  m.W.assign(size_t(He) * A, 0.0);
  m.U.assign(size_t(Hd) * A, 0.0);
  m.bias.assign(size_t(A), 0.0);
  m.v.assign(size_t(A), 0.0);
  m.keys.assign(size_t(B) * Te * A, 0.0);
  std::vector<double> mq(size_t(B) * Td * A, 0.0), mde(size_t(Te), 0.0), adw(size_t(Te), 0.0);
  double kmax = 0.0, qmax = 0.0;
  for (int b = 0; b < B; ++b) {
    // Loops ordered so that the innermost runs along rows (the heavy cases
    // make these 10^9 terms).
    std::vector<double> acc(static_cast<size_t>(A), 0.0);
    for (int i = 0; i < Te; ++i) {
      for (int a = 0; a < A; ++a)
        acc[size_t(a)] = in.bias.empty() ? 0.0 : std::fabs(double(in.bias[size_t(a)]));
      for (int k = 0; k < He; ++k) {
        const double hk = std::fabs(double(in.h[(size_t(b) * Te + i) * He + k]));
        const float* Wk = &in.W[size_t(k) * A];
        for (int a = 0; a < A; ++a) acc[size_t(a)] += hk * std::fabs(double(Wk[a]));
      }
      for (double x : acc) kmax = std::max(kmax, x);
    }
    const int Le = in.enc.empty() ? Te : in.enc[size_t(b)];
    const int Ld = Le == 0 ? 0 : in.dec.empty() ? Td : in.dec[size_t(b)];
    for (int t = 0; t < Ld; ++t) {
      const float* w = &weights[(size_t(b) * Td + t) * Te];
      const float* dc = &dctx[(size_t(b) * Td + t) * He];
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int k = 0; k < Hd; ++k) {
        const double sk = std::fabs(double(in.s[(size_t(b) * Td + t) * Hd + k]));
        const float* Uk = &in.U[size_t(k) * A];
        for (int a = 0; a < A; ++a) acc[size_t(a)] += sk * std::fabs(double(Uk[a]));
      }
      for (double x : acc) qmax = std::max(qmax, x);
      double sum_wdw = 0.0;
      for (int i = 0; i < Le; ++i) {
        double m_dw = d_weights.empty()
                          ? 0.0
                          : std::fabs(double(d_weights[(size_t(b) * Td + t) * Te + i]));
        for (int k = 0; k < He; ++k)
          m_dw += std::fabs(double(dc[k]) * in.h[(size_t(b) * Te + i) * He + k]);
        adw[size_t(i)] = m_dw;
        sum_wdw += std::fabs(double(w[i])) * m_dw;
      }
      for (int i = 0; i < Le; ++i) {
        mde[size_t(i)] = std::fabs(double(w[i])) * (adw[size_t(i)] + sum_wdw);
        for (int k = 0; k < He; ++k)
          m.enc_values[(size_t(b) * Te + i) * He + k] += std::fabs(double(w[i]) * dc[k]);
        for (int a = 0; a < A; ++a) {
          const double g = mde[size_t(i)] * std::fabs(double(in.v[size_t(a)]));
          m.keys[(size_t(b) * Te + i) * A + a] += g;
          mq[(size_t(b) * Td + t) * A + a] += g;
          m.v[size_t(a)] += mde[size_t(i)];
        }
      }
    }
  }
  m.delta = double(std::max(He, Hd) + 1) * kU * (kmax + qmax);
  m.enc = m.enc_values;
  for (int b = 0; b < B; ++b) {
    // Rows with no gradient (masked) have g = 0 throughout: skipped.
    auto nonzero = [&](const double* g) {
      return std::any_of(g, g + A, [](double x) { return x != 0.0; });
    };
    for (int i = 0; i < Te; ++i) {
      const double* g = &m.keys[(size_t(b) * Te + i) * A];
      if (!nonzero(g)) continue;
      for (int a = 0; a < A; ++a) m.bias[size_t(a)] += g[a];
      for (int k = 0; k < He; ++k) {
        const float* Wk = &in.W[size_t(k) * A];
        const double hk = std::fabs(double(in.h[(size_t(b) * Te + i) * He + k]));
        double* mWk = &m.W[size_t(k) * A];
        double e = 0.0;
        for (int a = 0; a < A; ++a) {
          e += g[a] * std::fabs(double(Wk[a]));
          mWk[a] += g[a] * hk;
        }
        m.enc[(size_t(b) * Te + i) * He + k] += e;
      }
    }
    for (int t = 0; t < Td; ++t) {
      const double* g = &mq[(size_t(b) * Td + t) * A];
      if (!nonzero(g)) continue;
      for (int k = 0; k < Hd; ++k) {
        const float* Uk = &in.U[size_t(k) * A];
        const double sk = std::fabs(double(in.s[(size_t(b) * Td + t) * Hd + k]));
        double* mUk = &m.U[size_t(k) * A];
        double e = 0.0;
        for (int a = 0; a < A; ++a) {
          e += g[a] * std::fabs(double(Uk[a]));
          mUk[a] += g[a] * sk;
        }
        m.dec[(size_t(b) * Td + t) * Hd + k] += e;
      }
    }
  }
  return m;
}

// Positions i >= Le of d_encoder_out (and d_keys), rows t >= Ld and every
// row of an entry with Le = 0 of d_decoder_out: exact zeros.
::testing::AssertionResult attention_zeros(const AttentionInputs& in, const AttentionGrads& g) {
  const auto& d = in.d;
  for (int b = 0; b < d.batch; ++b) {
    const size_t Le = in.enc.empty() ? size_t(d.enc_steps) : size_t(in.enc[size_t(b)]);
    const size_t Ld = Le == 0 ? 0 : in.dec.empty() ? size_t(d.dec_steps) : size_t(in.dec[size_t(b)]);
    const size_t Te = size_t(d.enc_steps), Td = size_t(d.dec_steps);
    auto r = zeros(g.d_enc, (b * Te + Le) * d.enc_dim, (b + 1) * Te * d.enc_dim, "d_encoder_out");
    if (!r) return r;
    r = zeros(g.d_dec, (b * Td + Ld) * d.dec_dim, (b + 1) * Td * d.dec_dim, "d_decoder_out");
    if (!r) return r;
    if (!g.d_keys.empty()) {
      r = zeros(g.d_keys, (b * Te + Le) * d.units, (b + 1) * Te * d.units, "d_keys");
      if (!r) return r;
    }
  }
  return ::testing::AssertionSuccess();
}

// For a heavy case the batch is cut to a sample of rows (the first four,
// whose lengths are the edge cases, and two at the end) for both sides: the
// reference's backward of the full reference shape takes tens of seconds,
// and the parameter gradients sum over the batch, so the device must see
// the same rows. The shape's Te, Td, He, A stay.
AttentionInputs sample_batch(const AttentionInputs& in) {
  if (in.d.batch <= 8) return in;
  const std::vector<int> rows = {0, 1, 2, 3, in.d.batch - 2, in.d.batch - 1};
  AttentionInputs out = in;
  out.d.batch = int32_t(rows.size());
  auto take = [&](const auto& x) {
    std::remove_cv_t<std::remove_reference_t<decltype(x)>> y;
    if (x.empty()) return y;
    const size_t rest = x.size() / size_t(in.d.batch);
    for (int b : rows) y.insert(y.end(), x.begin() + long(b * rest), x.begin() + long((b + 1) * rest));
    return y;
  };
  out.h = take(in.h);
  out.s = take(in.s);
  out.enc = take(in.enc);
  out.dec = take(in.dec);
  return out;
}

using AttParam = std::tuple<Backend, cases::AttentionCase, bool /*masked*/>;
class AttentionBackward : public BackendTest<AttParam> {};

TEST_P(AttentionBackward, MatchesReference) {
  const auto& [backend, c, masked] = GetParam();
  if (skip_heavy(c.heavy)) GTEST_SKIP() << cases::heavy_skip_reason();
  const AttentionInputs in = sample_batch(make_inputs(c.d, masked, 300));
  const auto& d = in.d;
  const std::vector<float> keys = project_keys(ref_, in);
  const std::vector<float> weights = forward(ref_, in, true).weights;
  const std::vector<float> d_context = random_vector(in.context_size(), 310);
  // A loss on the weights too in the masked cases (d_weights NULL in the full ones).
  const std::vector<float> d_weights =
      masked ? random_vector(in.weights_size(), 311) : std::vector<float>{};
  const AttentionGrads ref = attention_backward(ref_, in, weights, d_context, d_weights);
  const AttentionGrads ref2 =
      attention_projected_backward(ref_, in, keys, weights, d_context, d_weights);
  ASSERT_TRUE(all_finite(ref.d_enc, "reference d_encoder_out"));
  ASSERT_TRUE(all_finite(ref.d_W, "reference d_W"));
  const AttentionMagnitudes m = attention_magnitudes(in, weights, d_context, d_weights);
  // The longest chains: dw (He terms), de's sum (Te), d_keys / d_q (Td or
  // Te), then d_W / d_U (B·Te or B·Td) or d_encoder_out / d_decoder_out (A,
  // and Td for the values' share); d_v sums de·th over all B·Td·Te pairs.
  const double n = double(d.enc_dim) + 2.0 * d.enc_steps + d.dec_steps + d.units +
                   double(d.batch) * std::max(d.enc_steps, d.dec_steps);
  const double n_v = double(d.enc_dim) + d.enc_steps + double(d.batch) * d.dec_steps * d.enc_steps;

  for_each_target(c.heavy, [&] {
    for (seqattn_math math : cases::kMathModes) {
      SCOPED_TRACE(std::string("math ") + cases::math_name(math));
      const double e = 2.0 * (tanh_error(device(), math) + m.delta);
      const AttentionGrads got = attention_backward(dev(math), in, weights, d_context, d_weights);
      EXPECT_TRUE(close(got.d_enc, ref.d_enc, "d_encoder_out", bound(m.enc, n, e)));
      EXPECT_TRUE(close(got.d_dec, ref.d_dec, "d_decoder_out", bound(m.dec, n, e)));
      EXPECT_TRUE(close(got.d_W, ref.d_W, "d_W", bound(m.W, n, e)));
      EXPECT_TRUE(close(got.d_U, ref.d_U, "d_U", bound(m.U, n, e)));
      EXPECT_TRUE(close(got.d_bias, ref.d_bias, "d_bias", bound(m.bias, n, e)));
      EXPECT_TRUE(close(got.d_v, ref.d_v, "d_v", bound(m.v, n_v, e)));
      EXPECT_TRUE(attention_zeros(in, got));
      // The same call again gives the same bits: no sum's order depends on
      // which thread took which item (the partials are added in item order).
      const AttentionGrads again = attention_backward(dev(math), in, weights, d_context, d_weights);
      auto same = [](const std::vector<float>& a, const std::vector<float>& b) {
        // Empty when the case has no bias: memcmp may not be given its null data().
        return a.size() == b.size() &&
               (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
      };
      EXPECT_TRUE(same(again.d_enc, got.d_enc) && same(again.d_dec, got.d_dec) &&
                  same(again.d_W, got.d_W) && same(again.d_U, got.d_U) &&
                  same(again.d_bias, got.d_bias) && same(again.d_v, got.d_v))
          << "a second identical call gave different gradients";

      const AttentionGrads got2 =
          attention_projected_backward(dev(math), in, keys, weights, d_context, d_weights);
      EXPECT_TRUE(close(got2.d_enc, ref2.d_enc, "d_encoder_out (projected)",
                        bound(m.enc_values, n, e)));
      EXPECT_TRUE(close(got2.d_keys, ref2.d_keys, "d_keys (projected)", bound(m.keys, n, e)));
      EXPECT_TRUE(close(got2.d_dec, ref2.d_dec, "d_decoder_out (projected)", bound(m.dec, n, e)));
      EXPECT_TRUE(close(got2.d_U, ref2.d_U, "d_U (projected)", bound(m.U, n, e)));
      EXPECT_TRUE(close(got2.d_v, ref2.d_v, "d_v (projected)", bound(m.v, n_v, e)));
      EXPECT_TRUE(attention_zeros(in, got2));
    }
  });
}

std::string att_name(const ::testing::TestParamInfo<AttParam>& p) {
  const auto& [backend, c, masked] = p.param;
  return std::string(backend_name(backend)) + "_" + c.name + (masked ? "_masked" : "_full");
}

INSTANTIATE_TEST_SUITE_P(Cases, AttentionBackward,
                         ::testing::Combine(::testing::ValuesIn(kBackends),
                                            ::testing::ValuesIn(cases::kAttention),
                                            ::testing::Bool()),
                         att_name);

// ------------------------------------------------------------------ pooling

struct PoolGrads {
  std::vector<float> d_x, d_w, d_b;
};

PoolGrads pooling_backward(seqattn_handle h, const seqattn_pooling_dims& d,
                           const std::vector<float>& x, const std::vector<int32_t>& lengths,
                           const std::vector<float>& w, const std::vector<float>& b,
                           const std::vector<float>& weights, const std::vector<float>& dctx,
                           const std::vector<float>& dweights) {
  DeviceArray dx_in(h, x), w_in(h, w), wts(h, weights), dc(h, dctx);
  Optional b_in(h, b), dwts(h, dweights);
  DeviceArray d_x(h, nan_vector(x.size())), d_w(h, nan_vector(w.size()));
  Optional d_b(h, b.empty() ? std::vector<float>{} : nan_vector(b.size()));
  const seqattn_status s = seqattn_attention_pooling_backward(
      h, &d, dx_in.f(), opt(lengths), w_in.f(), b_in.f(), wts.f(), dc.f(), dwts.f(), d_x.f(),
      d_w.f(), d_b.f());
  if (s != SEQATTN_OK) throw std::runtime_error("pooling backward: " + status_text(s));
  return {d_x.download(), d_w.download(), d_b.download()};
}

using PoolParam = std::tuple<Backend, cases::PoolingCase, bool /*masked*/>;
class PoolingBackward : public BackendTest<PoolParam> {};

TEST_P(PoolingBackward, MatchesReference) {
  const auto& [backend, c, masked] = GetParam();
  if (skip_heavy(c.heavy)) GTEST_SKIP() << cases::heavy_skip_reason();
  const seqattn_pooling_dims d = c.d;
  const size_t B = size_t(d.batch), T = size_t(d.steps), F = size_t(d.features);
  const std::vector<float> x = random_vector(B * T * F, 411);
  const std::vector<float> w = random_weights(F, d.features, 412);
  const std::vector<float> b =
      masked ? random_vector(T, 413, -0.5f, 0.5f) : std::vector<float>{};
  const std::vector<int32_t> lengths =
      masked ? mixed_lengths(d.batch, d.steps, 414) : std::vector<int32_t>{};
  std::vector<float> weights = nan_vector(B * T), context = nan_vector(B * F);
  SEQATTN_OK_OR_FAIL(seqattn_attention_pooling_forward(ref_, &d, x.data(), opt(lengths), w.data(),
                                                       opt(b), context.data(), weights.data()));
  const std::vector<float> dctx = random_vector(B * F, 415);
  const std::vector<float> dweights = masked ? random_vector(B * T, 416) : std::vector<float>{};
  const PoolGrads ref = pooling_backward(ref_, d, x, lengths, w, b, weights, dctx, dweights);

  // M: da = Σ_f |dctx||x| (+ |d_weights|), dz's terms |a|(|da| + Σ_t |a||da|),
  // d_x = |a||dctx| + M_dz|w|, d_w = Σ M_dz|x|, d_b = Σ_b M_dz.
  std::vector<double> mdx(B * T * F, 0.0), mdw(F, 0.0), mdb(T, 0.0), mdz(T);
  double emax = 0.0;
  for (size_t bb = 0; bb < B; ++bb) {
    const size_t L = lengths.empty() ? T : size_t(lengths[bb]);
    double s = 0.0;
    for (size_t t = 0; t < L; ++t) {
      double da = dweights.empty() ? 0.0 : std::fabs(double(dweights[bb * T + t]));
      double ew = b.empty() ? 0.0 : std::fabs(double(b[t]));
      for (size_t f = 0; f < F; ++f) {
        da += std::fabs(double(dctx[bb * F + f]) * x[(bb * T + t) * F + f]);
        ew += std::fabs(double(w[f]) * x[(bb * T + t) * F + f]);
      }
      emax = std::max(emax, ew);
      mdz[t] = da;
      s += std::fabs(double(weights[bb * T + t])) * da;
    }
    for (size_t t = 0; t < L; ++t) {
      const double a = std::fabs(double(weights[bb * T + t]));
      const double z = a * (mdz[t] + s);
      mdb[t] += z;
      for (size_t f = 0; f < F; ++f) {
        mdx[(bb * T + t) * F + f] = a * std::fabs(double(dctx[bb * F + f])) + z * std::fabs(double(w[f]));
        mdw[f] += z * std::fabs(double(x[(bb * T + t) * F + f]));
      }
    }
  }
  // Chain: da (F terms), Σ_t (T), then d_w / d_b over B·T.
  const double n = double(F) + double(T) + double(B) * double(T) + 2.0;
  const double e = 2.0 * ((double(F) + 1.0) * kU * emax + 1e-7);

  for_each_target([&] {
    for (seqattn_math math : cases::kMathModes) {
      SCOPED_TRACE(std::string("math ") + cases::math_name(math));
      const PoolGrads got = pooling_backward(dev(math), d, x, lengths, w, b, weights, dctx, dweights);
      EXPECT_TRUE(close(got.d_x, ref.d_x, "d_x", bound(mdx, n, e)));
      EXPECT_TRUE(close(got.d_w, ref.d_w, "d_w", bound(mdw, n, e)));
      EXPECT_TRUE(close(got.d_b, ref.d_b, "d_b", bound(mdb, n, e)));
      for (size_t bb = 0; bb < B; ++bb) {
        const size_t L = lengths.empty() ? T : size_t(lengths[bb]);
        EXPECT_TRUE(zeros(got.d_x, (bb * T + L) * F, (bb + 1) * T * F, "d_x"));
      }
    }
  });
}

std::string pool_name(const ::testing::TestParamInfo<PoolParam>& p) {
  const auto& [backend, c, masked] = p.param;
  return std::string(backend_name(backend)) + "_" + c.name + (masked ? "_masked" : "_full");
}

INSTANTIATE_TEST_SUITE_P(Cases, PoolingBackward,
                         ::testing::Combine(::testing::ValuesIn(kBackends),
                                            ::testing::ValuesIn(cases::kPooling),
                                            ::testing::Bool()),
                         pool_name);

// -------------------------------------------------------------- recurrent

// Which losses a recurrent case has: on every output, on h_last only, or both.
enum class RnnLoss { kOutputs, kLast, kBoth };
inline constexpr RnnLoss kRnnLosses[] = {RnnLoss::kOutputs, RnnLoss::kLast, RnnLoss::kBoth};

struct RnnGrads {
  std::vector<float> d_x, d_h0, d_kernel, d_recurrent, d_bias;
};

struct RnnCaseData {
  seqattn_rnn_dims d;
  Cell cell;
  uint32_t flags;
  std::vector<float> x, h0, kernel, recurrent, bias, outputs, d_outputs, d_h_last;
  std::vector<int32_t> lengths;
};

RnnGrads rnn_backward(seqattn_handle h, const RnnCaseData& in) {
  const size_t state = size_t(in.d.batch) * in.d.units;
  DeviceArray x(h, in.x), kernel(h, in.kernel), recurrent(h, in.recurrent), outputs(h, in.outputs);
  Optional h0(h, in.h0), bias(h, in.bias), d_out(h, in.d_outputs), d_last(h, in.d_h_last);
  DeviceArray d_x(h, nan_vector(in.x.size())), d_kernel(h, nan_vector(in.kernel.size())),
      d_recurrent(h, nan_vector(in.recurrent.size())), d_h0(h, nan_vector(state));
  Optional d_bias(h, in.bias.empty() ? std::vector<float>{} : nan_vector(in.bias.size()));
  seqattn_status s;
  if (in.cell == Cell::kSimple) {
    s = seqattn_simple_rnn_backward(h, &in.d, in.flags, x.f(), opt(in.lengths), h0.f(), kernel.f(),
                                    recurrent.f(), bias.f(), outputs.f(), d_out.f(), d_last.f(),
                                    d_x.f(), d_h0.f(), d_kernel.f(), d_recurrent.f(), d_bias.f());
  } else {
    const seqattn_gru_variant v =
        in.cell == Cell::kGruResetAfter ? SEQATTN_GRU_RESET_AFTER : SEQATTN_GRU_RESET_BEFORE;
    s = seqattn_gru_backward(h, &in.d, v, in.flags, x.f(), opt(in.lengths), h0.f(), kernel.f(),
                             recurrent.f(), bias.f(), outputs.f(), d_out.f(), d_last.f(), d_x.f(),
                             d_h0.f(), d_kernel.f(), d_recurrent.f(), d_bias.f());
  }
  if (s != SEQATTN_OK) throw std::runtime_error("rnn backward: " + status_text(s));
  return {d_x.download(), d_h0.download(), d_kernel.download(), d_recurrent.download(),
          d_bias.download()};
}

using RnnParam = std::tuple<Backend, cases::RnnCase, Cell, bool /*reverse*/, RnnOptions, RnnLoss>;
class RnnBackward : public BackendTest<RnnParam> {};

TEST_P(RnnBackward, MatchesReference) {
  const auto& [backend, c, cell, reverse, options, loss] = GetParam();
  if (skip_heavy(c.heavy)) GTEST_SKIP() << cases::heavy_skip_reason();
  const seqattn_rnn_dims d = c.d;
  RnnCaseData in;
  in.d = d;
  in.cell = cell;
  in.flags = reverse ? uint32_t(SEQATTN_RNN_REVERSE) : 0u;
  const size_t B = size_t(d.batch), T = size_t(d.steps), H = size_t(d.units);
  const size_t GH = (cell == Cell::kSimple ? 1 : 3) * H;
  in.x = random_vector(B * T * size_t(d.input_dim), 521);
  in.kernel = random_weights(size_t(d.input_dim) * GH, d.input_dim, 522);
  in.recurrent = random_weights(H * GH, d.units, 523);
  if (options != RnnOptions::kFull) {
    in.lengths = mixed_lengths(d.batch, d.steps, 524);
    in.bias = random_vector(cell == Cell::kGruResetAfter ? 2 * GH : GH, 526, -0.5f, 0.5f);
  }
  if (options == RnnOptions::kMaskedH0) in.h0 = random_vector(B * H, 525);
  in.outputs = nan_vector(B * T * H);
  std::vector<float> h_last = nan_vector(B * H);
  if (cell == Cell::kSimple) {
    SEQATTN_OK_OR_FAIL(seqattn_simple_rnn_forward(
        ref_, &d, in.flags, in.x.data(), opt(in.lengths), opt(in.h0), in.kernel.data(),
        in.recurrent.data(), opt(in.bias), in.outputs.data(), h_last.data()));
  } else {
    SEQATTN_OK_OR_FAIL(seqattn_gru_forward(
        ref_, &d, cell == Cell::kGruResetAfter ? SEQATTN_GRU_RESET_AFTER : SEQATTN_GRU_RESET_BEFORE,
        in.flags, in.x.data(), opt(in.lengths), opt(in.h0), in.kernel.data(), in.recurrent.data(),
        opt(in.bias), in.outputs.data(), h_last.data()));
  }
  if (loss != RnnLoss::kLast) in.d_outputs = random_vector(B * T * H, 527);
  if (loss != RnnLoss::kOutputs) in.d_h_last = random_vector(B * H, 528);
  const RnnGrads ref = rnn_backward(ref_, in);
  ASSERT_TRUE(all_finite(ref.d_x, "reference d_x"));
  ASSERT_TRUE(all_finite(ref.d_h0, "reference d_h0"));

  // Norm-wise (see the top): per step the state's gradient passes the gate
  // algebra (a few roundings) and the product with Rᵀ (GH terms) — T steps
  // of it — and the weight gradients then sum over B·T rows, d_x over GH.
  const double n = double(T) * double(GH + 8) + double(B) * double(T) + double(GH);
  for_each_target([&] {
    for (seqattn_math math : cases::kMathModes) {
      SCOPED_TRACE(std::string("math ") + cases::math_name(math));
      const RnnGrads got = rnn_backward(dev(math), in);
      EXPECT_TRUE(close(got.d_x, ref.d_x, "d_x", normwise(ref.d_x, n)));
      EXPECT_TRUE(close(got.d_h0, ref.d_h0, "d_h0", normwise(ref.d_h0, n)));
      EXPECT_TRUE(close(got.d_kernel, ref.d_kernel, "d_kernel", normwise(ref.d_kernel, n)));
      EXPECT_TRUE(close(got.d_recurrent, ref.d_recurrent, "d_recurrent_kernel",
                        normwise(ref.d_recurrent, n)));
      EXPECT_TRUE(close(got.d_bias, ref.d_bias, "d_bias", normwise(ref.d_bias, n)));
      // Steps past a row's length pass nothing to x; a row of length 0
      // passes d_h_last to h0 unchanged.
      for (size_t b = 0; b < B; ++b) {
        const size_t L = in.lengths.empty() ? T : size_t(in.lengths[b]);
        const size_t I = size_t(d.input_dim);
        EXPECT_TRUE(zeros(got.d_x, (b * T + L) * I, (b + 1) * T * I, "d_x"));
        for (size_t j = 0; L == 0 && j < H; ++j) {
          EXPECT_EQ(got.d_h0[b * H + j], in.d_h_last.empty() ? 0.0f : in.d_h_last[b * H + j]);
        }
      }
    }
  });
}

std::string rnn_name(const ::testing::TestParamInfo<RnnParam>& p) {
  const auto& [backend, c, cell, reverse, options, loss] = p.param;
  const char* losses[] = {"d_outputs", "d_h_last", "both"};
  return std::string(backend_name(backend)) + "_" + c.name + "_" + cases::cell_name(cell) +
         (reverse ? "_reverse_" : "_forward_") + cases::options_name(options) + "_" +
         losses[int(loss)];
}

INSTANTIATE_TEST_SUITE_P(Cases, RnnBackward,
                         ::testing::Combine(::testing::ValuesIn(kBackends),
                                            ::testing::ValuesIn(cases::kRnn),
                                            ::testing::ValuesIn(cases::kCells), ::testing::Bool(),
                                            ::testing::ValuesIn(cases::kRnnOptions),
                                            ::testing::ValuesIn(kRnnLosses)),
                         rnn_name);

// ------------------------------------------------------------------- dense

using DenseParam = std::tuple<Backend, cases::DenseCase, seqattn_activation>;
class DenseBackward : public BackendTest<DenseParam> {};

TEST_P(DenseBackward, MatchesReference) {
  const auto& [backend, c, act] = GetParam();
  if (skip_heavy(c.heavy)) GTEST_SKIP() << cases::heavy_skip_reason();
  const size_t R = size_t(c.rows), I = size_t(c.in), O = size_t(c.out);
  const std::vector<float> x = random_vector(R * I, 631);
  const std::vector<float> W = random_weights(I * O, c.in, 632);
  const std::vector<float> b = random_vector(O, 633, -0.5f, 0.5f);
  std::vector<float> y = nan_vector(R * O);
  SEQATTN_OK_OR_FAIL(seqattn_dense_forward(ref_, c.rows, c.in, c.out, x.data(), W.data(), b.data(),
                                           act, y.data()));
  const std::vector<float> dy = random_vector(R * O, 634);
  auto run = [&](seqattn_handle h, bool with_db) {
    DeviceArray xa(h, x), Wa(h, W), ya(h, y), dya(h, dy);
    DeviceArray d_x(h, nan_vector(R * I)), d_W(h, nan_vector(I * O));
    Optional d_b(h, with_db ? nan_vector(O) : std::vector<float>{});
    const seqattn_status s = seqattn_dense_backward(h, c.rows, c.in, c.out, xa.f(), Wa.f(), act,
                                                    ya.f(), dya.f(), d_x.f(), d_W.f(), d_b.f());
    if (s != SEQATTN_OK) throw std::runtime_error("dense backward: " + status_text(s));
    return std::vector<std::vector<float>>{d_x.download(), d_W.download(), d_b.download()};
  };
  const auto ref = run(ref_, true);

  // M: dz's terms (softmax: |y|(|dy| + Σ|y||dy|); otherwise |dy|·|act'|),
  // d_x = M_dz·|W|ᵀ, d_W = |x|ᵀ·M_dz, d_b = Σ M_dz.
  std::vector<double> mdz(R * O), mdx(R * I, 0.0), mdW(I * O, 0.0), mdb(O, 0.0);
  for (size_t r = 0; r < R; ++r) {
    double s = 0.0;
    for (size_t j = 0; j < O; ++j) s += std::fabs(double(y[r * O + j]) * dy[r * O + j]);
    for (size_t j = 0; j < O; ++j) {
      const double yy = y[r * O + j], g = std::fabs(double(dy[r * O + j]));
      double m = g;
      switch (act) {
        case SEQATTN_ACTIVATION_TANH: m = g * (1.0 + yy * yy); break;
        case SEQATTN_ACTIVATION_SIGMOID: m = g * std::fabs(yy) * (1.0 + std::fabs(yy)); break;
        case SEQATTN_ACTIVATION_SOFTMAX: m = std::fabs(yy) * (g + s); break;
        default: break;
      }
      mdz[r * O + j] = m;
      mdb[j] += m;
    }
    for (size_t k = 0; k < I; ++k)
      for (size_t j = 0; j < O; ++j) {
        mdx[r * I + k] += mdz[r * O + j] * std::fabs(double(W[k * O + j]));
        mdW[k * O + j] += mdz[r * O + j] * std::fabs(double(x[r * I + k]));
      }
  }
  // Chain: softmax's Σ (out terms), then d_x (out) or d_W, d_b (rows).
  const double n = 2.0 * double(O) + double(R) + 4.0;
  for_each_target([&] {
    for (seqattn_math math : cases::kMathModes) {
      SCOPED_TRACE(std::string("math ") + cases::math_name(math));
      const auto got = run(dev(math), true);
      EXPECT_TRUE(close(got[0], ref[0], "d_x", bound(mdx, n, 0.0)));
      EXPECT_TRUE(close(got[1], ref[1], "d_W", bound(mdW, n, 0.0)));
      EXPECT_TRUE(close(got[2], ref[2], "d_b", bound(mdb, n, 0.0)));
      const auto no_db = run(dev(math), false);  // d_b NULL: the rest unchanged
      EXPECT_TRUE(close(no_db[0], got[0], "d_x (d_b NULL)"));
      EXPECT_TRUE(close(no_db[1], got[1], "d_W (d_b NULL)"));
    }
  });
}

std::string dense_name(const ::testing::TestParamInfo<DenseParam>& p) {
  const auto& [backend, c, act] = p.param;
  return std::string(backend_name(backend)) + "_" + c.name + "_" + cases::activation_name(act);
}

INSTANTIATE_TEST_SUITE_P(Cases, DenseBackward,
                         ::testing::Combine(::testing::ValuesIn(kBackends),
                                            ::testing::ValuesIn(cases::kDense),
                                            ::testing::ValuesIn(cases::kActivations)),
                         dense_name);

}  // namespace
}  // namespace seqattn_test
