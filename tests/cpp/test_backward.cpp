// The reference backward passes against central finite differences of the
// tests' own double-precision forward (oracle.hpp), and the C boundary's rules
// for the backward entries.
//
// Each case takes a scalar loss L = Σ r·out over the forward's outputs with
// random r, gives r as the backward's d_out, and compares every gradient the
// backward writes with (L(x + ε) − L(x − ε)) / 2ε computed in double, input
// by input. Tolerance: the finite difference is exact to ~1e-9 here
// (truncation ε²·L''' with ε = 1e-5 on O(1) inputs, rounding 1e-16/ε), so
// what is left is the backward's own float32 rounding — its outputs are
// float32, and it starts from the forward's float32 weights or outputs
// (relative error 2^-24 each) — a few 1e-7 of the largest gradient of the
// tensor. 1e-5 of that scale is a margin of ~30 over that and still 1e4
// below the size of any wrong or missing term.
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "oracle.hpp"
#include "test_util.hpp"

namespace seqattn_test {
namespace {

using Backward = CpuTest;
using DVec = std::vector<double>;

DVec widen(const std::vector<float>& x) { return DVec(x.begin(), x.end()); }

double dot(const std::vector<float>& r, const DVec& y) {
  double acc = 0.0;
  for (size_t i = 0; i < y.size(); ++i) acc += double(r[i]) * y[i];
  return acc;
}

// ∂loss/∂x[i] for every i by central differences, x perturbed in place.
DVec numeric_gradient(DVec& x, const std::function<double()>& loss) {
  constexpr double kEps = 1e-5;
  DVec g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + kEps;
    const double up = loss();
    x[i] = x0 - kEps;
    const double down = loss();
    x[i] = x0;
    g[i] = (up - down) / (2 * kEps);
  }
  return g;
}

::testing::AssertionResult matches_fd(const std::vector<float>& got, const DVec& fd,
                                      const char* what) {
  double scale = 1.0;
  for (double g : fd) scale = std::max(scale, std::fabs(g));
  return all_close(got, fd, 1e-5 * scale, 1e-5, what);
}

// ------------------------------------------------------------- attention

struct AttentionCase {
  seqattn_attention_dims d;
  std::vector<int32_t> enc_lengths, dec_lengths;  // empty: NULL
  bool bias, weights_loss;
};

std::string name(const AttentionCase& c) {
  const auto& d = c.d;
  return "B=" + std::to_string(d.batch) + " Te=" + std::to_string(d.enc_steps) +
         " Td=" + std::to_string(d.dec_steps) + " He=" + std::to_string(d.enc_dim) +
         " Hd=" + std::to_string(d.dec_dim) + " A=" + std::to_string(d.units) +
         (c.enc_lengths.empty() ? "" : " enc_lengths") +
         (c.dec_lengths.empty() ? "" : " dec_lengths") + (c.bias ? " bias" : "") +
         (c.weights_loss ? " d_weights" : "");
}

const AttentionCase kAttentionCases[] = {
    {{1, 1, 1, 1, 1, 1}, {}, {}, false, false},
    {{2, 5, 3, 4, 3, 6}, {5, 2}, {3, 1}, true, true},
    {{3, 4, 2, 3, 5, 7}, {0, 4, 1}, {2, 2, 0}, false, true},
    {{2, 7, 4, 5, 2, 3}, {}, {4, 3}, true, false},
};

struct AttentionData {
  std::vector<float> h, s, W, U, bias, v, r_ctx, r_w;
};

AttentionData attention_data(const AttentionCase& c, uint32_t seed) {
  const auto& d = c.d;
  const size_t B = d.batch, Te = d.enc_steps, Td = d.dec_steps, He = d.enc_dim,
               Hd = d.dec_dim, A = d.units;
  return {random_vector(B * Te * He, seed + 1),
          random_vector(B * Td * Hd, seed + 2),
          random_vector(He * A, seed + 3),
          random_vector(Hd * A, seed + 4),
          c.bias ? random_vector(A, seed + 5, -0.5f, 0.5f) : std::vector<float>{},
          random_vector(A, seed + 6, -2.0f, 2.0f),  // larger v: softmax weights far from uniform
          random_vector(B * Td * He, seed + 7),
          c.weights_loss ? random_vector(B * Td * Te, seed + 8) : std::vector<float>(B * Td * Te, 0.0f)};
}

const int32_t* or_null(const std::vector<int32_t>& v) { return v.empty() ? nullptr : v.data(); }
const float* or_null(const std::vector<float>& v) { return v.empty() ? nullptr : v.data(); }
float* or_null(std::vector<float>& v) { return v.empty() ? nullptr : v.data(); }

TEST_F(Backward, AttentionMatchesFiniteDifferences) {
  for (const AttentionCase& c : kAttentionCases) {
    SCOPED_TRACE(name(c));
    const auto& d = c.d;
    const size_t B = d.batch, Te = d.enc_steps, Td = d.dec_steps, He = d.enc_dim,
                 Hd = d.dec_dim, A = d.units;
    const AttentionData x = attention_data(c, 100);
    const int32_t* el = or_null(c.enc_lengths);
    const int32_t* dl = or_null(c.dec_lengths);

    std::vector<float> ctx(B * Td * He), w(B * Td * Te);
    ASSERT_EQ(seqattn_additive_attention_forward(h(), &d, x.h.data(), x.s.data(), el, dl,
                                                 x.W.data(), x.U.data(), or_null(x.bias),
                                                 x.v.data(), ctx.data(), w.data()),
              SEQATTN_OK);
    std::vector<float> dh = sentinels(B * Te * He), ds = sentinels(B * Td * Hd),
                       dW = sentinels(He * A), dU = sentinels(Hd * A), dv = sentinels(A);
    std::vector<float> dbias = c.bias ? sentinels(A) : std::vector<float>{};
    ASSERT_EQ(seqattn_additive_attention_backward(
                  h(), &d, x.h.data(), x.s.data(), el, dl, x.W.data(), x.U.data(),
                  or_null(x.bias), x.v.data(), w.data(), x.r_ctx.data(),
                  c.weights_loss ? x.r_w.data() : nullptr, dh.data(), ds.data(), dW.data(),
                  dU.data(), or_null(dbias), dv.data()),
              SEQATTN_OK)
        << seqattn_last_error();

    DVec H = widen(x.h), S = widen(x.s), Wd = widen(x.W), Ud = widen(x.U), Bd = widen(x.bias),
         V = widen(x.v);
    const auto loss = [&] {
      const oracle::Attention out = oracle::additive_attention<double>(
          d, H, S, el, dl, Wd, Ud, c.bias ? Bd.data() : nullptr, V);
      return dot(x.r_ctx, out.context) + dot(x.r_w, out.weights);
    };
    EXPECT_TRUE(matches_fd(dh, numeric_gradient(H, loss), "d_encoder_out"));
    EXPECT_TRUE(matches_fd(ds, numeric_gradient(S, loss), "d_decoder_out"));
    EXPECT_TRUE(matches_fd(dW, numeric_gradient(Wd, loss), "d_W"));
    EXPECT_TRUE(matches_fd(dU, numeric_gradient(Ud, loss), "d_U"));
    EXPECT_TRUE(matches_fd(dv, numeric_gradient(V, loss), "d_v"));
    if (c.bias) {
      EXPECT_TRUE(matches_fd(dbias, numeric_gradient(Bd, loss), "d_bias"));
    }

    // Masked positions and rows get exactly zero, not merely a small number.
    for (size_t b = 0; b < B; ++b) {
      const size_t Le = el ? size_t(el[b]) : Te, Ld = dl ? size_t(dl[b]) : Td;
      const bool attends = Le > 0 && Ld > 0;
      for (size_t i = 0; i < Te; ++i)
        for (size_t k = 0; k < He; ++k)
          if (i >= Le || !attends) {
            EXPECT_EQ(dh[(b * Te + i) * He + k], 0.0f) << b << "," << i;
          }
      for (size_t t = 0; t < Td; ++t)
        for (size_t k = 0; k < Hd; ++k)
          if (t >= Ld || Le == 0) {
            EXPECT_EQ(ds[(b * Td + t) * Hd + k], 0.0f) << b << "," << t;
          }
    }
  }
}

// The two-phase form: projected_backward's d_keys through dense_backward
// (keys = h·W + bias, activation NONE) gives d_W, d_bias and the keys' share
// of d_encoder_out; with the values' share they are the one-phase gradients.
TEST_F(Backward, ProjectedAttentionChainsToTheOnePhaseGradients) {
  for (const AttentionCase& c : kAttentionCases) {
    SCOPED_TRACE(name(c));
    const auto& d = c.d;
    const size_t B = d.batch, Te = d.enc_steps, Td = d.dec_steps, He = d.enc_dim,
                 Hd = d.dec_dim, A = d.units;
    const AttentionData x = attention_data(c, 200);
    const int32_t* el = or_null(c.enc_lengths);
    const int32_t* dl = or_null(c.dec_lengths);
    const float* d_weights = c.weights_loss ? x.r_w.data() : nullptr;

    std::vector<float> keys(B * Te * A), ctx(B * Td * He), w(B * Td * Te);
    ASSERT_EQ(seqattn_additive_attention_project_keys(h(), &d, x.h.data(), x.W.data(),
                                                      or_null(x.bias), keys.data()),
              SEQATTN_OK);
    ASSERT_EQ(seqattn_additive_attention_forward_projected(h(), &d, x.h.data(), keys.data(),
                                                           x.s.data(), el, dl, x.U.data(),
                                                           x.v.data(), ctx.data(), w.data()),
              SEQATTN_OK);
    std::vector<float> dh_values(B * Te * He), dkeys(B * Te * A), ds(B * Td * Hd), dU(Hd * A),
        dv(A);
    ASSERT_EQ(seqattn_additive_attention_projected_backward(
                  h(), &d, x.h.data(), keys.data(), x.s.data(), el, dl, x.U.data(), x.v.data(),
                  w.data(), x.r_ctx.data(), d_weights, dh_values.data(), dkeys.data(), ds.data(),
                  dU.data(), dv.data()),
              SEQATTN_OK)
        << seqattn_last_error();
    std::vector<float> dh_keys(B * Te * He), dW(He * A), dbias(A);
    ASSERT_EQ(seqattn_dense_backward(h(), int64_t(B * Te), d.enc_dim, d.units, x.h.data(),
                                     x.W.data(), SEQATTN_ACTIVATION_NONE, keys.data(),
                                     dkeys.data(), dh_keys.data(), dW.data(), dbias.data()),
              SEQATTN_OK);
    std::vector<float> dh(B * Te * He);
    for (size_t i = 0; i < dh.size(); ++i) dh[i] = dh_values[i] + dh_keys[i];

    DVec H = widen(x.h), S = widen(x.s), Wd = widen(x.W), Ud = widen(x.U), Bd = widen(x.bias),
         V = widen(x.v);
    if (!c.bias) Bd.assign(A, 0.0);  // the gradient of a zero bias is the same sum
    const auto loss = [&] {
      const oracle::Attention out =
          oracle::additive_attention<double>(d, H, S, el, dl, Wd, Ud, Bd.data(), V);
      return dot(x.r_ctx, out.context) + dot(x.r_w, out.weights);
    };
    EXPECT_TRUE(matches_fd(dh, numeric_gradient(H, loss), "d_encoder_out (values + keys)"));
    EXPECT_TRUE(matches_fd(ds, numeric_gradient(S, loss), "d_decoder_out"));
    EXPECT_TRUE(matches_fd(dW, numeric_gradient(Wd, loss), "d_W"));
    EXPECT_TRUE(matches_fd(dU, numeric_gradient(Ud, loss), "d_U"));
    EXPECT_TRUE(matches_fd(dv, numeric_gradient(V, loss), "d_v"));
    EXPECT_TRUE(matches_fd(dbias, numeric_gradient(Bd, loss), "d_bias"));
  }
}

// ---------------------------------------------------------------- pooling

TEST_F(Backward, PoolingMatchesFiniteDifferences) {
  struct Case {
    seqattn_pooling_dims d;
    std::vector<int32_t> lengths;
    bool bias, weights_loss;
  };
  const Case cases[] = {{{1, 1, 1}, {}, false, false},
                        {{3, 5, 4}, {5, 0, 3}, true, true},
                        {{2, 7, 3}, {}, true, false},
                        {{4, 3, 5}, {1, 3, 2, 0}, false, true}};
  for (const Case& c : cases) {
    const size_t B = c.d.batch, T = c.d.steps, F = c.d.features;
    SCOPED_TRACE("B=" + std::to_string(B) + " T=" + std::to_string(T) + " F=" + std::to_string(F));
    const std::vector<float> x = random_vector(B * T * F, 1), w = random_vector(F, 2, -2, 2),
                             b = c.bias ? random_vector(T, 3) : std::vector<float>{},
                             r_ctx = random_vector(B * F, 4),
                             r_w = c.weights_loss ? random_vector(B * T, 5)
                                                  : std::vector<float>(B * T, 0.0f);
    const int32_t* len = or_null(c.lengths);
    std::vector<float> out(B * F), a(B * T);
    ASSERT_EQ(seqattn_attention_pooling_forward(h(), &c.d, x.data(), len, w.data(), or_null(b),
                                                out.data(), a.data()),
              SEQATTN_OK);
    std::vector<float> dx = sentinels(B * T * F), dw = sentinels(F),
                       db = c.bias ? sentinels(T) : std::vector<float>{};
    ASSERT_EQ(seqattn_attention_pooling_backward(h(), &c.d, x.data(), len, w.data(), or_null(b),
                                                 a.data(), r_ctx.data(),
                                                 c.weights_loss ? r_w.data() : nullptr,
                                                 dx.data(), dw.data(), or_null(db)),
              SEQATTN_OK)
        << seqattn_last_error();
    DVec X = widen(x), Wv = widen(w), Bv = widen(b);
    const auto loss = [&] {
      const oracle::Pooling p =
          oracle::attention_pooling<double>(c.d, X, len, Wv, c.bias ? Bv.data() : nullptr);
      return dot(r_ctx, p.context) + dot(r_w, p.weights);
    };
    EXPECT_TRUE(matches_fd(dx, numeric_gradient(X, loss), "d_x"));
    EXPECT_TRUE(matches_fd(dw, numeric_gradient(Wv, loss), "d_w"));
    if (c.bias) {
      EXPECT_TRUE(matches_fd(db, numeric_gradient(Bv, loss), "d_b"));
    }
  }
}

// ------------------------------------------------------------------ dense

TEST_F(Backward, DenseMatchesFiniteDifferencesForEveryActivation) {
  const int rows = 4, in = 5, out = 7;
  const std::vector<float> x = random_vector(size_t(rows) * in, 11),
                           W = random_vector(size_t(in) * out, 12),
                           b = random_vector(out, 13), r = random_vector(size_t(rows) * out, 14);
  for (const seqattn_activation act :
       {SEQATTN_ACTIVATION_NONE, SEQATTN_ACTIVATION_TANH, SEQATTN_ACTIVATION_SIGMOID,
        SEQATTN_ACTIVATION_RELU, SEQATTN_ACTIVATION_SOFTMAX}) {
    SCOPED_TRACE("activation " + std::to_string(int(act)));
    std::vector<float> y(size_t(rows) * out);
    ASSERT_EQ(seqattn_dense_forward(h(), rows, in, out, x.data(), W.data(), b.data(), act,
                                    y.data()),
              SEQATTN_OK);
    std::vector<float> dx = sentinels(size_t(rows) * in), dW = sentinels(size_t(in) * out),
                       db = sentinels(out);
    ASSERT_EQ(seqattn_dense_backward(h(), rows, in, out, x.data(), W.data(), act, y.data(),
                                     r.data(), dx.data(), dW.data(), db.data()),
              SEQATTN_OK)
        << seqattn_last_error();
    DVec X = widen(x), Wv = widen(W), Bv = widen(b);
    const auto loss = [&] {
      return dot(r, oracle::dense<double>(rows, in, out, X, Wv, Bv.data(), act));
    };
    EXPECT_TRUE(matches_fd(dx, numeric_gradient(X, loss), "d_x"));
    EXPECT_TRUE(matches_fd(dW, numeric_gradient(Wv, loss), "d_W"));
    EXPECT_TRUE(matches_fd(db, numeric_gradient(Bv, loss), "d_b"));
  }
}

// -------------------------------------------------------------------- rnn

TEST_F(Backward, RnnMatchesFiniteDifferencesForEveryCell) {
  struct Case {
    seqattn_rnn_dims d;
    std::vector<int32_t> lengths;
    bool reverse, h0, bias, last_loss, outputs_loss;
  };
  const Case cases[] = {{{1, 1, 1, 1}, {}, false, false, true, true, true},
                        {{3, 4, 3, 5}, {4, 0, 2}, false, true, true, true, true},
                        {{3, 4, 3, 5}, {4, 0, 2}, true, true, true, true, true},
                        {{2, 5, 2, 3}, {}, true, false, false, false, true},
                        {{2, 3, 4, 2}, {1, 3}, false, true, true, true, false}};
  for (const oracle::Cell cell :
       {oracle::Cell::kGruResetAfter, oracle::Cell::kGruResetBefore, oracle::Cell::kSimple}) {
    for (const Case& c : cases) {
      const size_t B = c.d.batch, T = c.d.steps, I = c.d.input_dim, H = c.d.units;
      const size_t G = cell == oracle::Cell::kSimple ? 1 : 3;
      const size_t bias_n = cell == oracle::Cell::kGruResetAfter ? 2 * G * H : G * H;
      SCOPED_TRACE("cell " + std::to_string(int(cell)) + " B=" + std::to_string(B) +
                   " T=" + std::to_string(T) + " I=" + std::to_string(I) +
                   " H=" + std::to_string(H) + (c.reverse ? " reverse" : "") +
                   (c.lengths.empty() ? "" : " lengths"));
      const std::vector<float> x = random_vector(B * T * I, 21),
                               h0 = c.h0 ? random_vector(B * H, 22) : std::vector<float>{},
                               K = random_vector(I * G * H, 23, -0.8f, 0.8f),
                               R = random_vector(H * G * H, 24, -0.8f, 0.8f),
                               bias = c.bias ? random_vector(bias_n, 25) : std::vector<float>{},
                               r_out = c.outputs_loss ? random_vector(B * T * H, 26)
                                                      : std::vector<float>(B * T * H, 0.0f),
                               r_last = c.last_loss ? random_vector(B * H, 27)
                                                    : std::vector<float>(B * H, 0.0f);
      const int32_t* len = or_null(c.lengths);
      const uint32_t flags = c.reverse ? uint32_t(SEQATTN_RNN_REVERSE) : 0u;
      const seqattn_gru_variant variant = cell == oracle::Cell::kGruResetAfter
                                              ? SEQATTN_GRU_RESET_AFTER
                                              : SEQATTN_GRU_RESET_BEFORE;
      std::vector<float> outputs(B * T * H), last(B * H);
      std::vector<float> dx = sentinels(B * T * I), dh0 = sentinels(B * H),
                         dK = sentinels(I * G * H), dR = sentinels(H * G * H),
                         db = c.bias ? sentinels(bias_n) : std::vector<float>{};
      const float* d_out = c.outputs_loss ? r_out.data() : nullptr;
      const float* d_last = c.last_loss ? r_last.data() : nullptr;
      if (cell == oracle::Cell::kSimple) {
        ASSERT_EQ(seqattn_simple_rnn_forward(h(), &c.d, flags, x.data(), len, or_null(h0),
                                             K.data(), R.data(), or_null(bias), outputs.data(),
                                             last.data()),
                  SEQATTN_OK);
        ASSERT_EQ(seqattn_simple_rnn_backward(h(), &c.d, flags, x.data(), len, or_null(h0),
                                              K.data(), R.data(), or_null(bias), outputs.data(),
                                              d_out, d_last, dx.data(), dh0.data(), dK.data(),
                                              dR.data(), or_null(db)),
                  SEQATTN_OK)
            << seqattn_last_error();
      } else {
        ASSERT_EQ(seqattn_gru_forward(h(), &c.d, variant, flags, x.data(), len, or_null(h0),
                                      K.data(), R.data(), or_null(bias), outputs.data(),
                                      last.data()),
                  SEQATTN_OK);
        ASSERT_EQ(seqattn_gru_backward(h(), &c.d, variant, flags, x.data(), len, or_null(h0),
                                       K.data(), R.data(), or_null(bias), outputs.data(), d_out,
                                       d_last, dx.data(), dh0.data(), dK.data(), dR.data(),
                                       or_null(db)),
                  SEQATTN_OK)
            << seqattn_last_error();
      }
      DVec X = widen(x), H0 = c.h0 ? widen(h0) : DVec(B * H, 0.0), Kd = widen(K), Rd = widen(R),
           Bd = widen(bias);
      const auto loss = [&] {
        const oracle::Rnn o = oracle::rnn<double>(cell, c.d, c.reverse, X, len, H0.data(), Kd, Rd,
                                                  c.bias ? Bd.data() : nullptr);
        return dot(r_out, o.outputs) + dot(r_last, o.h_last);
      };
      EXPECT_TRUE(matches_fd(dx, numeric_gradient(X, loss), "d_x"));
      EXPECT_TRUE(matches_fd(dh0, numeric_gradient(H0, loss), "d_h0"));
      EXPECT_TRUE(matches_fd(dK, numeric_gradient(Kd, loss), "d_kernel"));
      EXPECT_TRUE(matches_fd(dR, numeric_gradient(Rd, loss), "d_recurrent_kernel"));
      if (c.bias) {
      EXPECT_TRUE(matches_fd(db, numeric_gradient(Bd, loss), "d_bias"));
    }
    }
  }
}

// ------------------------------------------------------- the C boundary

// A bad argument is named and nothing is written; outputs may not overlap.
TEST_F(Backward, RefusesBadArgumentsByNameAndWritesNothing) {
  const seqattn_attention_dims d{2, 3, 2, 4, 5, 6};
  const std::vector<float> hh = random_vector(2 * 3 * 4, 1), s = random_vector(2 * 2 * 5, 2),
                           W = random_vector(4 * 6, 3), U = random_vector(5 * 6, 4),
                           v = random_vector(6, 5), w(2 * 2 * 3, 1.0f / 3),
                           dctx = random_vector(2 * 2 * 4, 6);
  std::vector<float> dh = sentinels(2 * 3 * 4), ds = sentinels(2 * 2 * 5), dW = sentinels(4 * 6),
                     dU = sentinels(5 * 6), dv = sentinels(6);
  const auto call = [&](const float* weights, const float* d_context, float* d_decoder_out,
                        const int32_t* enc_lengths) {
    return seqattn_additive_attention_backward(h(), &d, hh.data(), s.data(), enc_lengths,
                                               nullptr, W.data(), U.data(), nullptr, v.data(),
                                               weights, d_context, nullptr, dh.data(),
                                               d_decoder_out, dW.data(), dU.data(), nullptr,
                                               dv.data());
  };
  EXPECT_EQ(call(nullptr, dctx.data(), ds.data(), nullptr), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(seqattn_last_error(), "weights is NULL")) << seqattn_last_error();
  EXPECT_EQ(call(w.data(), nullptr, ds.data(), nullptr), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(seqattn_last_error(), "d_context is NULL")) << seqattn_last_error();
  EXPECT_EQ(call(w.data(), dctx.data(), nullptr, nullptr), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(seqattn_last_error(), "d_decoder_out is NULL")) << seqattn_last_error();
  const int32_t bad_lengths[2] = {3, 4};
  EXPECT_EQ(call(w.data(), dctx.data(), ds.data(), bad_lengths), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(seqattn_last_error(), "enc_lengths[1] = 4 exceeds")) << seqattn_last_error();
  // d_encoder_out given as d_decoder_out too: two outputs over one buffer.
  EXPECT_EQ(call(w.data(), dctx.data(), dh.data(), nullptr), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(seqattn_last_error(), "d_decoder_out overlaps d_encoder_out"))
      << seqattn_last_error();
  EXPECT_TRUE(untouched(dh, "d_encoder_out"));
  EXPECT_TRUE(untouched(ds, "d_decoder_out"));
  EXPECT_TRUE(untouched(dW, "d_W"));
  EXPECT_TRUE(untouched(dU, "d_U"));
  EXPECT_TRUE(untouched(dv, "d_v"));

  // A gradient may not overwrite an input it is computed from.
  std::vector<float> y = random_vector(3 * 2, 7), dy = random_vector(3 * 2, 8);
  std::vector<float> x = random_vector(3 * 4, 9), Wd = random_vector(4 * 2, 10), dWd = sentinels(8);
  EXPECT_EQ(seqattn_dense_backward(h(), 3, 4, 2, x.data(), Wd.data(), SEQATTN_ACTIVATION_TANH,
                                   y.data(), dy.data(), x.data(), dWd.data(), nullptr),
            SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(seqattn_last_error(), "d_x overlaps x")) << seqattn_last_error();
  EXPECT_TRUE(untouched(dWd, "d_W"));
  EXPECT_EQ(seqattn_dense_backward(h(), 3, 4, 2, x.data(), Wd.data(), seqattn_activation(9),
                                   y.data(), dy.data(), dh.data(), dWd.data(), nullptr),
            SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(seqattn_last_error(), "activation = 9")) << seqattn_last_error();

  // RNN: the forward's outputs are required; unknown flags refused.
  const seqattn_rnn_dims rd{2, 3, 4, 5};
  std::vector<float> rx = random_vector(2 * 3 * 4, 11), K = random_vector(4 * 15, 12),
                     R = random_vector(5 * 15, 13), out = random_vector(2 * 3 * 5, 14),
                     dx = sentinels(2 * 3 * 4), dK = sentinels(4 * 15), dR = sentinels(5 * 15);
  EXPECT_EQ(seqattn_gru_backward(h(), &rd, SEQATTN_GRU_RESET_AFTER, 0, rx.data(), nullptr,
                                 nullptr, K.data(), R.data(), nullptr, nullptr, out.data(),
                                 nullptr, dx.data(), nullptr, dK.data(), dR.data(), nullptr),
            SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(seqattn_last_error(), "outputs is NULL")) << seqattn_last_error();
  EXPECT_EQ(seqattn_gru_backward(h(), &rd, SEQATTN_GRU_RESET_AFTER, 4u, rx.data(), nullptr,
                                 nullptr, K.data(), R.data(), nullptr, out.data(), out.data(),
                                 nullptr, dx.data(), nullptr, dK.data(), dR.data(), nullptr),
            SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(seqattn_last_error(), "flags = 4")) << seqattn_last_error();
  EXPECT_TRUE(untouched(dx, "d_x"));
  EXPECT_TRUE(untouched(dK, "d_kernel"));
  EXPECT_TRUE(untouched(dR, "d_recurrent_kernel"));
}

TEST(BackwardValidation, NullHandleIsNamed) {
  const seqattn_attention_dims d{1, 1, 1, 1, 1, 1};
  const seqattn_pooling_dims pd{1, 1, 1};
  const seqattn_rnn_dims rd{1, 1, 1, 1};
  float one = 1.0f, g[6];
  const std::vector<seqattn_status> statuses = {
      seqattn_additive_attention_backward(nullptr, &d, &one, &one, nullptr, nullptr, &one, &one,
                                          nullptr, &one, &one, &one, nullptr, g, g + 1, g + 2,
                                          g + 3, nullptr, g + 4),
      seqattn_additive_attention_projected_backward(nullptr, &d, &one, &one, &one, nullptr,
                                                    nullptr, &one, &one, &one, &one, nullptr, g,
                                                    g + 1, g + 2, g + 3, g + 4),
      seqattn_attention_pooling_backward(nullptr, &pd, &one, nullptr, &one, nullptr, &one, &one,
                                         nullptr, g, g + 1, nullptr),
      seqattn_simple_rnn_backward(nullptr, &rd, 0, &one, nullptr, nullptr, &one, &one, nullptr,
                                  &one, &one, nullptr, g, nullptr, g + 1, g + 2, nullptr),
      seqattn_dense_backward(nullptr, 1, 1, 1, &one, &one, SEQATTN_ACTIVATION_NONE, &one, &one, g,
                             g + 1, nullptr)};
  for (const seqattn_status s : statuses) EXPECT_EQ(s, SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(seqattn_last_error(), "handle is NULL")) << seqattn_last_error();
}

}  // namespace
}  // namespace seqattn_test
