// The backward kernels of kernels/*_backward.cu under the CPU emulation
// (tests/emulation/emu.hpp), against the double-precision reference backward
// (SEQATTN_DEVICE_CPU_REFERENCE through the C API), in the style of
// test_emulation.cpp.
//
// Each test does what src/cuda/*.cpp does around the launches, in the same
// order and into buffers of the sizes the host allocates (workspace and
// outputs starting as NaN); the cuBLAS products are computed here in double
// and rounded once (what cuBLAS gives within its rounding). So what is
// compared is the whole CUDA backward with the products exact, which tests
// the kernels' math, masking and launch geometry and the host's use of them.
//
// Tolerance (precise math): the kernels accumulate in float. An output that
// is a sum of n float terms carries a rounding error of at most about
// n·2^-24·Σ|terms| (the products are exact here); with the n of these shapes
// (at most a few thousand terms, usually far fewer) and O(1) inputs, that is
// within 1e-5 + 1e-4·|ref| for all but elements that cancel to near zero,
// for which the bound is 1e-5 of the tensor's largest magnitude
// (magnitude_bound below): a missing or wrong term moves an element by the
// size of a term, orders of magnitude more.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "attention_util.hpp"
#include "backend_util.hpp"
#include "cases.hpp"
#include "emulation/emu.hpp"
#include "kernels/attention_backward.cuh"
#include "kernels/dense_backward.cuh"
#include "kernels/device_utils.cuh"
#include "kernels/pooling_backward.cuh"
#include "kernels/rnn_backward.cuh"
#include "seqattn/seqattn.h"

namespace {

using namespace seqattn_test;
namespace emu = seqattn::emu;
namespace kc = seqattn::cuda;
using cases::Cell;
using cases::RnnOptions;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// The schedules of test_emulation.cpp: free-running with copies at issue;
// one thread at a time forwards or backwards, on the launched grid or capped
// to 1 or 2 blocks (grid-stride loops); shared memory NaN or FLT_MAX.
const emu::Options kSchedules[] = {
    {emu::Order::kConcurrent, false, 0},
    {emu::Order::kForward, true, 1},
    {emu::Order::kReverse, false, 2},
    {emu::Order::kReverse, true, 0, true},
};

seqattn_handle reference() {
  static seqattn_handle h = make_handle(SEQATTN_DEVICE_CPU_REFERENCE, SEQATTN_MATH_PRECISE);
  return h;
}

// Row-major C[m, n] = op(A)·op(B) + beta·C as CudaContext::gemm, in double
// and rounded once; A stored [m, k] ([k, m] when trans_a), B [k, n] ([n, k]).
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < n; ++c) {
      double acc = 0.0;
      for (int64_t q = 0; q < k; ++q)
        acc += double(ta ? A[q * lda + r] : A[r * lda + q]) *
               double(tb ? B[c * ldb + q] : B[q * ldb + c]);
      float& out = C[r * ldc + c];
      out = float(beta != 0.0f ? acc + double(beta) * double(out) : acc);
    }
}

void gemm_batched(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* A, int64_t lda,
                  int64_t sa, const float* B, int64_t ldb, int64_t sb, float* C, int64_t ldc,
                  int64_t sc, int64_t batch) {
  for (int64_t i = 0; i < batch; ++i)
    gemm(ta, tb, m, n, k, A + i * sa, lda, B + i * sb, ldb, 0.0f, C + i * sc, ldc);
}

// 1e-5 of the tensor's largest magnitude for every element (see the header).
std::vector<double> magnitude_bound(const std::vector<float>& ref) {
  double scale = 0.0;
  for (float r : ref) scale = std::max(scale, std::fabs(double(r)));
  return std::vector<double>(ref.size(), 1e-5 * scale);
}

::testing::AssertionResult near(const std::vector<float>& got, const std::vector<float>& ref,
                                const char* what, std::vector<double> extra = {}) {
  std::vector<double> bound = magnitude_bound(ref);
  for (size_t i = 0; i < extra.size() && i < bound.size(); ++i) bound[i] += extra[i];
  return close(got, ref, what, bound);
}

std::string schedule_name(const emu::Options& o) { return emu::describe(o); }

class Emulated {
 public:
  explicit Emulated(const emu::Options& o) : before_(emu::launch_count()) { emu::set_options(o); }
  int64_t launches() const { return emu::launch_count() - before_; }

 private:
  int64_t before_;
};

int64_t round_up4(int64_t n) { return (n + 3) / 4 * 4; }

// ------------------------------------------------------------- attention

enum class Form { kOnePhase, kOnePhaseMasked, kProjectedMasked };
const char* form_name(Form f) {
  return f == Form::kOnePhase ? "one_phase" : f == Form::kOnePhaseMasked ? "masked" : "projected";
}

using AttentionParam = std::tuple<cases::AttentionCase, Form, seqattn_math, emu::Options>;
class EmuAttentionBackward : public ::testing::TestWithParam<AttentionParam> {};

TEST_P(EmuAttentionBackward, MatchesReference) {
  const auto& [c, form, math, schedule] = GetParam();
  const seqattn_attention_dims& d = c.d;
  const bool masked = form != Form::kOnePhase, projected = form == Form::kProjectedMasked;
  const bool fast = math == SEQATTN_MATH_FAST;
  const AttentionInputs in = make_inputs(d, masked, 200);
  const int64_t B = d.batch, Te = d.enc_steps, Td = d.dec_steps, He = d.enc_dim, Hd = d.dec_dim,
                A = d.units, A4 = round_up4(d.units);
  const std::vector<float> keys_in = projected ? project_keys(reference(), in) : std::vector<float>{};
  const AttentionOutputs fwd =
      projected ? forward_projected(reference(), in, keys_in) : forward(reference(), in, true);
  const std::vector<float>& w = fwd.weights;
  const std::vector<float> d_context = random_vector(in.context_size(), 210);
  // The masked forms also put a loss on the weights.
  const std::vector<float> d_weights =
      masked ? random_vector(in.weights_size(), 211) : std::vector<float>{};

  // The reference.
  std::vector<float> r_denc(size_t(B * Te * He), kNaN), r_ddec(size_t(B * Td * Hd), kNaN),
      r_dW(size_t(He * A), kNaN), r_dU(size_t(Hd * A), kNaN), r_dbias(in.bias.size(), kNaN),
      r_dv(size_t(A), kNaN), r_dkeys(projected ? size_t(B * Te * A) : 0, kNaN);
  if (projected) {
    SEQATTN_OK_OR_FAIL(seqattn_additive_attention_projected_backward(
        reference(), &d, in.h.data(), keys_in.data(), in.s.data(), opt(in.enc), opt(in.dec),
        in.U.data(), in.v.data(), w.data(), d_context.data(), opt(d_weights), r_denc.data(),
        r_dkeys.data(), r_ddec.data(), r_dU.data(), r_dv.data()));
  } else {
    SEQATTN_OK_OR_FAIL(seqattn_additive_attention_backward(
        reference(), &d, in.h.data(), in.s.data(), opt(in.enc), opt(in.dec), in.W.data(),
        in.U.data(), opt(in.bias), in.v.data(), w.data(), d_context.data(), opt(d_weights),
        r_denc.data(), r_ddec.data(), r_dW.data(), r_dU.data(),
        r_dbias.empty() ? nullptr : r_dbias.data(), r_dv.data()));
  }

  // src/cuda/attention.cpp's backward, its products in double here.
  std::vector<float> de(size_t(B * Td * Te), kNaN), queries(size_t(B * Td * A4), kNaN);
  std::vector<float> keys = projected ? keys_in : std::vector<float>(size_t(B * Te * A4), kNaN);
  std::vector<float> d_keys(size_t(B * Te * A), kNaN), d_q(size_t(B * Td * A), kNaN),
      d_v_rows(size_t(B * Te * A), kNaN);
  std::vector<float> d_enc(r_denc.size(), kNaN), d_dec(r_ddec.size(), kNaN),
      d_W(r_dW.size(), kNaN), d_U(r_dU.size(), kNaN), d_bias(r_dbias.size(), kNaN),
      d_v(r_dv.size(), kNaN);
  if (!projected) gemm(false, false, B * Te, A, He, in.h.data(), He, in.W.data(), A, 0.0f,
                       keys.data(), A4);
  gemm_batched(false, true, Td, Te, He, d_context.data(), He, Td * He, in.h.data(), He, Te * He,
               de.data(), Te, Td * Te, B);
  gemm(false, false, B * Td, A, Hd, in.s.data(), Hd, in.U.data(), A, 0.0f, queries.data(), A4);

  kc::AttentionRowGradParams g{};
  g.batch = d.batch;
  g.enc_steps = d.enc_steps;
  g.dec_steps = d.dec_steps;
  g.weights = w.data();
  g.d_weights = opt(d_weights);
  g.enc_lengths = opt(in.enc);
  g.dec_lengths = opt(in.dec);
  g.grad = de.data();
  kc::AttentionBackwardParams p{};
  p.batch = d.batch;
  p.enc_steps = d.enc_steps;
  p.dec_steps = d.dec_steps;
  p.units = d.units;
  p.keys = keys.data();
  p.keys_ld = projected ? A : A4;
  p.queries = queries.data();
  p.queries_ld = A4;
  p.bias = projected ? nullptr : opt(in.bias);
  p.v = in.v.data();
  p.de = de.data();
  p.enc_lengths = opt(in.enc);
  p.dec_lengths = opt(in.dec);
  p.d_keys = d_keys.data();
  p.d_queries = d_q.data();
  p.d_v_rows = d_v_rows.data();

  Emulated run(schedule);
  kc::launch_attention_row_grad(g, nullptr);
  kc::launch_attention_backward(p, fast, nullptr);
  gemm(false, true, B * Td, Hd, A, d_q.data(), A, in.U.data(), A, 0.0f, d_dec.data(), Hd);
  gemm(true, false, Hd, A, B * Td, in.s.data(), Hd, d_q.data(), A, 0.0f, d_U.data(), A);
  kc::launch_column_sums(d_v_rows.data(), B * Te, d.units, A, d_v.data(), nullptr);
  gemm_batched(true, false, Te, He, Td, w.data(), Te, Td * Te, d_context.data(), He, Td * He,
               d_enc.data(), He, Te * He, B);
  if (!projected) {
    gemm(false, true, B * Te, He, A, d_keys.data(), A, in.W.data(), A, 1.0f, d_enc.data(), He);
    gemm(true, false, He, A, B * Te, in.h.data(), He, d_keys.data(), A, 0.0f, d_W.data(), A);
    if (!d_bias.empty())
      kc::launch_column_sums(d_keys.data(), B * Te, d.units, A, d_bias.data(), nullptr);
  }
  ASSERT_EQ(run.launches(), 4 + (!projected && !d_bias.empty() ? 1 : 0));

  // FAST: tanh.approx has a relative error of at most 2^-11 (device_utils.cuh),
  // so a term de·th moves by at most |de|·2^-11 and de·(1 − th²) by
  // |de|·2^-10 (|th| <= 1). The bound per kernel output is that times Σ|de|,
  // carried through the products by their absolute values.
  std::vector<double> b_keys, b_q, b_v;
  if (fast) {
    b_keys.assign(size_t(B * Te * A), 0.0);
    b_q.assign(size_t(B * Td * A), 0.0);
    b_v.assign(size_t(A), 0.0);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < Td; ++t)
        for (int64_t i = 0; i < Te; ++i) {
          const double e = std::fabs(double(de[size_t((b * Td + t) * Te + i)]));
          for (int64_t a = 0; a < A; ++a) {
            const double va = std::fabs(double(in.v[size_t(a)]));
            b_keys[size_t((b * Te + i) * A + a)] += va * e * 0x1p-10;
            b_q[size_t((b * Td + t) * A + a)] += va * e * 0x1p-10;
            b_v[size_t(a)] += e * 0x1p-11;
          }
        }
  }
  // Carried through the products by absolute values:
  // d_decoder_out[r, k] = Σ_a d_q[r, a]·U[k, a]; d_U[k, a] = Σ_r s[r, k]·d_q[r, a].
  std::vector<double> e_dec, e_U, e_enc, e_W, e_bias, e_keys;
  if (fast) {
    e_dec.assign(d_dec.size(), 0.0);
    e_U.assign(d_U.size(), 0.0);
    for (int64_t r = 0; r < B * Td; ++r)
      for (int64_t a = 0; a < A; ++a) {
        const double bq = b_q[size_t(r * A + a)];
        for (int64_t k = 0; k < Hd; ++k) {
          e_dec[size_t(r * Hd + k)] += bq * std::fabs(double(in.U[size_t(k * A + a)]));
          e_U[size_t(k * A + a)] += bq * std::fabs(double(in.s[size_t(r * Hd + k)]));
        }
      }
    e_keys = b_keys;
    e_enc.assign(d_enc.size(), 0.0);
    e_W.assign(d_W.size(), 0.0);
    e_bias.assign(d_bias.size(), 0.0);
    if (!projected)
      for (int64_t r = 0; r < B * Te; ++r)
        for (int64_t a = 0; a < A; ++a) {
          const double bk = b_keys[size_t(r * A + a)];
          for (int64_t k = 0; k < He; ++k) {
            e_enc[size_t(r * He + k)] += bk * std::fabs(double(in.W[size_t(k * A + a)]));
            e_W[size_t(k * A + a)] += bk * std::fabs(double(in.h[size_t(r * He + k)]));
          }
          if (!e_bias.empty()) e_bias[size_t(a)] += bk;
        }
  }
  EXPECT_TRUE(near(d_dec, r_ddec, "d_decoder_out", e_dec));
  EXPECT_TRUE(near(d_U, r_dU, "d_U", e_U));
  EXPECT_TRUE(near(d_v, r_dv, "d_v", b_v));
  EXPECT_TRUE(near(d_enc, r_denc, "d_encoder_out", e_enc));
  if (projected) {
    EXPECT_TRUE(near(d_keys, r_dkeys, "d_keys", e_keys));
  } else {
    EXPECT_TRUE(near(d_W, r_dW, "d_W", e_W));
    if (!d_bias.empty()) {
      EXPECT_TRUE(near(d_bias, r_dbias, "d_bias", e_bias));
    }
  }
  // Masked rows and positions get exact zeros from the kernels.
  for (int64_t b = 0; b < B; ++b) {
    const int64_t Le = in.enc.empty() ? Te : in.enc[size_t(b)];
    const int64_t Ld = in.dec.empty() ? Td : in.dec[size_t(b)];
    for (int64_t i = 0; i < Te; ++i)
      for (int64_t a = 0; a < A; ++a)
        if (i >= Le || Ld == 0) {
          ASSERT_EQ(d_keys[size_t((b * Te + i) * A + a)], 0.0f) << "d_keys b " << b << " i " << i;
        }
    for (int64_t t = 0; t < Td; ++t)
      for (int64_t a = 0; a < A; ++a)
        if (t >= Ld || Le == 0) {
          ASSERT_EQ(d_q[size_t((b * Td + t) * A + a)], 0.0f) << "d_q b " << b << " t " << t;
        }
  }
}

std::vector<AttentionParam> attention_params() {
  // The reference and the products here are O(B·Td·Te·A) in double per
  // case: the table's shapes up to "tiles", every schedule on the masked
  // shapes with several 8-row groups and unit chunks.
  const std::vector<std::string> names = {"tiny",         "primes",       "exact_vectors",
                                          "larger_primes", "vector_tails", "odd_widths",
                                          "tiles",        "one_position", "one_step",
                                          "decode_batch64", "many_units"};
  const std::vector<std::string> sweep = {"primes", "tiles"};
  std::vector<AttentionParam> out;
  size_t k = 0;
  for (const auto& c : cases::kAttention) {
    if (std::find(names.begin(), names.end(), c.name) == names.end()) continue;
    for (Form f : {Form::kOnePhase, Form::kOnePhaseMasked, Form::kProjectedMasked})
      for (seqattn_math m : cases::kMathModes) {
        if (m == SEQATTN_MATH_FAST && f == Form::kProjectedMasked) continue;
        const bool all = f == Form::kOnePhaseMasked && m == SEQATTN_MATH_PRECISE &&
                         std::find(sweep.begin(), sweep.end(), c.name) != sweep.end();
        if (all)
          for (const auto& s : kSchedules) out.emplace_back(c, f, m, s);
        else
          out.emplace_back(c, f, m, kSchedules[k++ % std::size(kSchedules)]);
      }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Cases, EmuAttentionBackward, ::testing::ValuesIn(attention_params()),
                         [](const ::testing::TestParamInfo<AttentionParam>& i) {
                           return std::string(std::get<0>(i.param).name) + "_" +
                                  form_name(std::get<1>(i.param)) + "_" +
                                  cases::math_name(std::get<2>(i.param)) + "_" +
                                  schedule_name(std::get<3>(i.param));
                         });

// --------------------------------------------------------------- pooling

using PoolingParam = std::tuple<cases::PoolingCase, bool, emu::Options>;
class EmuPoolingBackward : public ::testing::TestWithParam<PoolingParam> {};

TEST_P(EmuPoolingBackward, MatchesReference) {
  const auto& [c, masked, schedule] = GetParam();
  const seqattn_pooling_dims& d = c.d;
  const int64_t B = d.batch, T = d.steps, F = d.features;
  const std::vector<float> x = random_vector(size_t(B * T * F), 231);
  const std::vector<float> w = random_weights(size_t(F), F, 232);
  const std::vector<float> b = masked ? random_vector(size_t(T), 233, -0.5f, 0.5f)
                                      : std::vector<float>{};
  // "long" as in test_emulation.cpp: short rows of a 20000-step tensor.
  const bool long_rows = std::string(c.name) == "long";
  const std::vector<int32_t> lengths =
      long_rows ? std::vector<int32_t>{300, 257}
                : masked ? mixed_lengths(d.batch, d.steps, 234) : std::vector<int32_t>{};
  std::vector<float> context(size_t(B * F), kNaN), weights(size_t(B * T), kNaN);
  SEQATTN_OK_OR_FAIL(seqattn_attention_pooling_forward(reference(), &d, x.data(), opt(lengths),
                                                       w.data(), opt(b), context.data(),
                                                       weights.data()));
  const std::vector<float> d_context = random_vector(size_t(B * F), 235);
  const std::vector<float> d_weights =
      masked ? random_vector(size_t(B * T), 236) : std::vector<float>{};
  std::vector<float> r_dx(size_t(B * T * F), kNaN), r_dw(size_t(F), kNaN),
      r_db(b.size(), kNaN);
  SEQATTN_OK_OR_FAIL(seqattn_attention_pooling_backward(
      reference(), &d, x.data(), opt(lengths), w.data(), opt(b), weights.data(), d_context.data(),
      opt(d_weights), r_dx.data(), r_dw.data(), r_db.empty() ? nullptr : r_db.data()));

  // src/cuda/pooling.cpp: the kernel, then two column sums.
  std::vector<float> dx(r_dx.size(), kNaN), dw(r_dw.size(), kNaN), db(r_db.size(), kNaN);
  std::vector<float> dw_rows(size_t(B * F), kNaN), dz(size_t(B * T), kNaN), da(size_t(B * T), kNaN);
  kc::PoolingBackwardParams p{};
  p.batch = d.batch;
  p.steps = d.steps;
  p.features = d.features;
  p.x = x.data();
  p.lengths = opt(lengths);
  p.w = w.data();
  p.b = opt(b);
  p.weights = weights.data();
  p.d_context = d_context.data();
  p.d_weights = opt(d_weights);
  p.d_x = dx.data();
  p.d_w_rows = dw_rows.data();
  p.dz = dz.data();
  p.da = da.data();
  Emulated run(schedule);
  kc::launch_attention_pooling_backward(p, nullptr);
  kc::launch_column_sums(dw_rows.data(), B, d.features, F, dw.data(), nullptr);
  if (!db.empty()) kc::launch_column_sums(dz.data(), B, d.steps, T, db.data(), nullptr);
  ASSERT_EQ(run.launches(), db.empty() ? 2 : 3);
  EXPECT_TRUE(near(dx, r_dx, "d_x"));
  EXPECT_TRUE(near(dw, r_dw, "d_w"));
  if (!db.empty()) {
    EXPECT_TRUE(near(db, r_db, "d_b"));
  }
}

std::vector<PoolingParam> pooling_params() {
  std::vector<PoolingParam> out;
  size_t k = 0;
  for (const auto& c : cases::kPooling) {
    if (c.heavy) continue;
    for (bool masked : {false, true}) {
      const std::string name = c.name;
      if (name == "long" && !masked) continue;  // short rows only (see the test)
      const bool all = masked && (name == "steps_over_a_block" || name == "long");
      if (all)
        for (const auto& s : kSchedules) out.emplace_back(c, masked, s);
      else
        out.emplace_back(c, masked, kSchedules[k++ % std::size(kSchedules)]);
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Cases, EmuPoolingBackward, ::testing::ValuesIn(pooling_params()),
                         [](const ::testing::TestParamInfo<PoolingParam>& i) {
                           return std::string(std::get<0>(i.param).name) +
                                  (std::get<1>(i.param) ? "_masked_" : "_full_") +
                                  schedule_name(std::get<2>(i.param));
                         });

// ----------------------------------------------------------------- dense

using DenseParam = std::tuple<cases::DenseCase, seqattn_activation, emu::Options>;
class EmuDenseBackward : public ::testing::TestWithParam<DenseParam> {};

TEST_P(EmuDenseBackward, MatchesReference) {
  const auto& [c, act, schedule] = GetParam();
  const int64_t R = c.rows, I = c.in, O = c.out;
  const std::vector<float> x = random_vector(size_t(R * I), 241);
  const std::vector<float> W = random_weights(size_t(I * O), I, 242);
  const std::vector<float> bias = random_vector(size_t(O), 243, -0.5f, 0.5f);
  std::vector<float> y(size_t(R * O), kNaN);
  SEQATTN_OK_OR_FAIL(seqattn_dense_forward(reference(), c.rows, c.in, c.out, x.data(), W.data(),
                                           bias.data(), act, y.data()));
  const std::vector<float> d_y = random_vector(size_t(R * O), 244);
  std::vector<float> r_dx(size_t(R * I), kNaN), r_dW(size_t(I * O), kNaN), r_db(size_t(O), kNaN);
  SEQATTN_OK_OR_FAIL(seqattn_dense_backward(reference(), c.rows, c.in, c.out, x.data(), W.data(),
                                            act, y.data(), d_y.data(), r_dx.data(), r_dW.data(),
                                            r_db.data()));

  // src/cuda/dense.cpp: dz (NONE: d_y itself), the products, a column sum.
  std::vector<float> dz_buf(size_t(R * O), kNaN), dx(r_dx.size(), kNaN), dW(r_dW.size(), kNaN),
      db(r_db.size(), kNaN);
  Emulated run(schedule);
  const float* dz = d_y.data();
  if (act == SEQATTN_ACTIVATION_SOFTMAX) {
    kc::launch_softmax_backward(y.data(), d_y.data(), dz_buf.data(), c.rows, c.out, nullptr);
    dz = dz_buf.data();
  } else if (act != SEQATTN_ACTIVATION_NONE) {
    kc::launch_activation_backward(y.data(), d_y.data(), dz_buf.data(), c.rows, c.out, act,
                                   nullptr);
    dz = dz_buf.data();
  }
  gemm(false, true, R, I, O, dz, O, W.data(), O, 0.0f, dx.data(), I);
  gemm(true, false, I, O, R, x.data(), I, dz, O, 0.0f, dW.data(), O);
  kc::launch_column_sums(dz, c.rows, c.out, O, db.data(), nullptr);
  ASSERT_EQ(run.launches(), act == SEQATTN_ACTIVATION_NONE ? 1 : 2);
  EXPECT_TRUE(near(dx, r_dx, "d_x"));
  EXPECT_TRUE(near(dW, r_dW, "d_W"));
  EXPECT_TRUE(near(db, r_db, "d_b"));
}

std::vector<DenseParam> dense_params() {
  std::vector<DenseParam> out;
  size_t k = 0;
  for (const auto& c : cases::kDense) {
    if (c.heavy) continue;
    for (seqattn_activation a : cases::kActivations) {
      // The softmax row (shuffles) and the column sum (barriers, more than
      // 32 columns: its grid-stride loop on capped grids) under every schedule.
      const bool all = std::string(c.name) == "vocabulary" &&
                       (a == SEQATTN_ACTIVATION_SOFTMAX || a == SEQATTN_ACTIVATION_NONE);
      if (all)
        for (const auto& s : kSchedules) out.emplace_back(c, a, s);
      else
        out.emplace_back(c, a, kSchedules[k++ % std::size(kSchedules)]);
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Cases, EmuDenseBackward, ::testing::ValuesIn(dense_params()),
                         [](const ::testing::TestParamInfo<DenseParam>& i) {
                           return std::string(std::get<0>(i.param).name) + "_" +
                                  cases::activation_name(std::get<1>(i.param)) + "_" +
                                  schedule_name(std::get<2>(i.param));
                         });

// ------------------------------------------------------------- recurrent

// Options as test_emulation.cpp's: full; masked with a bias, walking
// backwards (and no loss on the last state); masked with h0.
using RnnParam = std::tuple<cases::RnnCase, Cell, RnnOptions, emu::Options>;
class EmuRnnBackward : public ::testing::TestWithParam<RnnParam> {};

TEST_P(EmuRnnBackward, MatchesReference) {
  const auto& [c, cell, o, schedule] = GetParam();
  const seqattn_rnn_dims& d = c.d;
  const int64_t B = d.batch, T = d.steps, I = d.input_dim, H = d.units;
  const int64_t GH = (cell == Cell::kSimple ? 1 : 3) * H;
  const bool reverse = o == RnnOptions::kMasked;
  const bool reset_before = cell == Cell::kGruResetBefore, reset_after = cell == Cell::kGruResetAfter;
  const std::vector<float> x = random_vector(size_t(B * T * I), 251);
  const std::vector<float> K = random_weights(size_t(I * GH), I, 252);
  const std::vector<float> R = random_weights(size_t(H * GH), H, 253);
  std::vector<int32_t> lengths;
  std::vector<float> bias, h0;
  if (o != RnnOptions::kFull) {
    lengths = mixed_lengths(d.batch, d.steps, 254);
    bias = random_vector(size_t(reset_after ? 2 * GH : GH), 256, -0.5f, 0.5f);
  }
  if (o == RnnOptions::kMaskedH0) h0 = random_vector(size_t(B * H), 255);
  const uint32_t flags = reverse ? uint32_t(SEQATTN_RNN_REVERSE) : 0u;
  const seqattn_gru_variant variant = reset_after ? SEQATTN_GRU_RESET_AFTER : SEQATTN_GRU_RESET_BEFORE;

  std::vector<float> outputs(size_t(B * T * H), kNaN), h_last(size_t(B * H), kNaN);
  if (cell == Cell::kSimple)
    SEQATTN_OK_OR_FAIL(seqattn_simple_rnn_forward(reference(), &d, flags, x.data(), opt(lengths),
                                                  opt(h0), K.data(), R.data(), opt(bias),
                                                  outputs.data(), h_last.data()));
  else
    SEQATTN_OK_OR_FAIL(seqattn_gru_forward(reference(), &d, variant, flags, x.data(),
                                           opt(lengths), opt(h0), K.data(), R.data(), opt(bias),
                                           outputs.data(), h_last.data()));
  // A loss on the outputs everywhere (steps past a length must be ignored)
  // and, but for the reversed case, on the last state.
  const std::vector<float> d_out = random_vector(size_t(B * T * H), 257);
  const std::vector<float> d_last =
      reverse ? std::vector<float>{} : random_vector(size_t(B * H), 258);
  std::vector<float> r_dx(size_t(B * T * I), kNaN), r_dh0(size_t(B * H), kNaN),
      r_dK(K.size(), kNaN), r_dR(R.size(), kNaN), r_db(bias.size(), kNaN);
  float* r_db_p = r_db.empty() ? nullptr : r_db.data();
  if (cell == Cell::kSimple)
    SEQATTN_OK_OR_FAIL(seqattn_simple_rnn_backward(
        reference(), &d, flags, x.data(), opt(lengths), opt(h0), K.data(), R.data(), opt(bias),
        outputs.data(), d_out.data(), opt(d_last), r_dx.data(), r_dh0.data(), r_dK.data(),
        r_dR.data(), r_db_p));
  else
    SEQATTN_OK_OR_FAIL(seqattn_gru_backward(
        reference(), &d, variant, flags, x.data(), opt(lengths), opt(h0), K.data(), R.data(),
        opt(bias), outputs.data(), d_out.data(), opt(d_last), r_dx.data(), r_dh0.data(),
        r_dK.data(), r_dR.data(), r_db_p));

  // src/cuda/rnn.cpp's backward, the products in double here.
  const int32_t max_len =
      lengths.empty() ? d.steps : *std::max_element(lengths.begin(), lengths.end());
  std::vector<float> xproj(size_t(B * T * GH), kNaN), hproj(size_t(B * T * GH), kNaN),
      h_prev(size_t(B * T * H), kNaN), reset_h(reset_before ? size_t(B * T * H) : 0, kNaN),
      dgx(size_t(B * T * GH), 0.0f), dgh(reset_after ? size_t(B * T * GH) : 0, 0.0f),
      dh = d_last.empty() ? std::vector<float>(size_t(B * H), 0.0f) : d_last,
      dh_next(size_t(B * H), kNaN), dg_step(size_t(B * GH), kNaN),
      d_reset_h(reset_before ? size_t(B * H) : 0, kNaN);
  std::vector<float> dx(r_dx.size(), kNaN), dK(r_dK.size(), kNaN), dR(r_dR.size(), kNaN),
      db(r_db.size(), kNaN);
  kc::RnnBackwardParams p{};
  p.batch = d.batch;
  p.steps = d.steps;
  p.units = d.units;
  p.reverse = reverse;
  p.cell = reset_after ? kc::RnnStepCell::kGruResetAfter
           : reset_before ? kc::RnnStepCell::kGruResetBefore
                          : kc::RnnStepCell::kSimple;
  p.lengths = opt(lengths);
  p.h0 = opt(h0);
  p.outputs = outputs.data();
  p.xproj = xproj.data();
  p.bias_x = opt(bias);
  p.bias_h = (!bias.empty() && reset_after) ? bias.data() + GH : nullptr;
  p.hproj = hproj.data();
  p.h_prev = h_prev.data();
  p.reset_h = reset_before ? reset_h.data() : nullptr;
  p.d_outputs = d_out.data();
  p.dg_step = dg_step.data();
  p.d_reset_h = reset_before ? d_reset_h.data() : nullptr;
  p.dgx = dgx.data();
  p.dgh = reset_after ? dgh.data() : nullptr;

  Emulated run(schedule);
  kc::launch_rnn_prev_states(p, nullptr);
  gemm(false, false, B * T, GH, I, x.data(), I, K.data(), GH, 0.0f, xproj.data(), GH);
  if (reset_before) {
    gemm(false, false, B * T, 2 * H, H, h_prev.data(), H, R.data(), GH, 0.0f, hproj.data(), GH);
    kc::launch_gru_reset_states(p, nullptr);
    gemm(false, false, B * T, H, H, reset_h.data(), H, R.data() + 2 * H, GH, 0.0f,
         hproj.data() + 2 * H, GH);
  } else {
    gemm(false, false, B * T, GH, H, h_prev.data(), H, R.data(), GH, 0.0f, hproj.data(), GH);
  }
  for (int32_t step = max_len - 1; step >= 0; --step) {
    p.step = step;
    p.dh = dh.data();
    p.dh_next = dh_next.data();
    kc::launch_rnn_backward_step(p, nullptr);
    if (reset_before) {
      gemm(false, true, B, H, H, dg_step.data() + 2 * H, GH, R.data() + 2 * H, GH, 0.0f,
           d_reset_h.data(), H);
      kc::launch_gru_backward_reset_half(p, nullptr);
      gemm(false, true, B, H, 2 * H, dg_step.data(), GH, R.data(), GH, 1.0f, dh_next.data(), H);
    } else {
      gemm(false, true, B, H, GH, dg_step.data(), GH, R.data(), GH, 1.0f, dh_next.data(), H);
    }
    std::swap(dh, dh_next);
  }
  gemm(false, true, B * T, I, GH, dgx.data(), GH, K.data(), GH, 0.0f, dx.data(), I);
  gemm(true, false, I, GH, B * T, x.data(), I, dgx.data(), GH, 0.0f, dK.data(), GH);
  if (reset_before) {
    gemm(true, false, H, 2 * H, B * T, h_prev.data(), H, dgx.data(), GH, 0.0f, dR.data(), GH);
    gemm(true, false, H, H, B * T, reset_h.data(), H, dgx.data() + 2 * H, GH, 0.0f,
         dR.data() + 2 * H, GH);
  } else {
    gemm(true, false, H, GH, B * T, h_prev.data(), H, reset_after ? dgh.data() : dgx.data(), GH,
         0.0f, dR.data(), GH);
  }
  if (!db.empty()) {
    kc::launch_column_sums(dgx.data(), B * T, int32_t(GH), GH, db.data(), nullptr);
    if (reset_after)
      kc::launch_column_sums(dgh.data(), B * T, int32_t(GH), GH, db.data() + GH, nullptr);
  }
  const int64_t per_step = reset_before ? 2 : 1;
  ASSERT_EQ(run.launches(), 1 + (reset_before ? 1 : 0) + max_len * per_step +
                                (db.empty() ? 0 : reset_after ? 2 : 1));
  EXPECT_TRUE(near(dx, r_dx, "d_x"));
  EXPECT_TRUE(near(dh, r_dh0, "d_h0"));
  EXPECT_TRUE(near(dK, r_dK, "d_kernel"));
  EXPECT_TRUE(near(dR, r_dR, "d_recurrent_kernel"));
  if (!db.empty()) {
    EXPECT_TRUE(near(db, r_db, "d_bias"));
  }
}

std::vector<RnnParam> rnn_params() {
  std::vector<RnnParam> out;
  int k = 0;
  for (const auto& c : cases::kRnn) {
    if (c.heavy) continue;
    for (Cell cell : cases::kCells)
      for (RnnOptions o : cases::kRnnOptions)
        // Barrier-free kernels: the schedules rotate over the cases.
        out.emplace_back(c, cell, o, kSchedules[size_t(k++) % std::size(kSchedules)]);
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Cases, EmuRnnBackward, ::testing::ValuesIn(rnn_params()),
                         [](const ::testing::TestParamInfo<RnnParam>& i) {
                           return std::string(std::get<0>(i.param).name) + "_" +
                                  cases::cell_name(std::get<1>(i.param)) + "_" +
                                  cases::options_name(std::get<2>(i.param)) + "_" +
                                  schedule_name(std::get<3>(i.param));
                         });

}  // namespace
