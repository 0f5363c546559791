// Every kernel of kernels/ under the CPU emulation (tests/emulation/emu.hpp)
// against the double-precision reference, on the shared case table's
// non-heavy shapes (tests/common/cases.hpp), with the tolerances of the CUDA
// tests (backend_util.hpp's close(), cases.hpp's FAST bound).
//
// The kernels' .cu files are compiled unchanged as host C++
// (kernels_emulated.cpp). The host side's cuBLAS products are not emulated:
// each test does what src/cuda/*.cpp does around a launch, with the products
// computed here in double (or by the reference through the C API), into
// buffers of exactly the size the host allocates, padding and outputs
// starting as NaN. Each case runs under several schedules (emu::Options):
// free-running threads with cp.async copies at issue, and one thread at a time
// in increasing or decreasing order with copies deferred to the wait, on the
// launched grid or a grid capped to 1 or 2 blocks (grid-stride loops).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "attention_util.hpp"
#include "backend_util.hpp"
#include "cases.hpp"
#include "emulation/emu.hpp"
#include "kernels/attention.cuh"
#include "kernels/check.cuh"
#include "kernels/dense.cuh"
#include "kernels/device_utils.cuh"
#include "kernels/model.cuh"
#include "kernels/pooling.cuh"
#include "kernels/rnn.cuh"
#include "seqattn/seqattn.h"

#include <unistd.h>

namespace {

using namespace seqattn_test;
namespace emu = seqattn::emu;
namespace kc = seqattn::cuda;
using cases::Cell;
using cases::RnnOptions;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// The schedules every case runs under.
const emu::Options kSchedules[] = {
    {emu::Order::kConcurrent, false, 0},
    {emu::Order::kForward, true, 1},
    {emu::Order::kReverse, false, 2},
    {emu::Order::kReverse, true, 0, true},
};

// The schedules of one case: every schedule for the cases that sweep them,
// else one, rotating with the case's index (the run stays within CI's time).
std::vector<emu::Options> schedules_for(size_t index, bool sweep) {
  if (sweep) return {std::begin(kSchedules), std::end(kSchedules)};
  return {kSchedules[index % std::size(kSchedules)]};
}

seqattn_handle reference() {
  static seqattn_handle h = make_handle(SEQATTN_DEVICE_CPU_REFERENCE, SEQATTN_MATH_PRECISE);
  return h;
}

// out[r, c] = Σ_k a[r, k]·b[k, c] in double, rounded once: what cuBLAS gives
// within its rounding. a [rows, inner] with row stride lda, b [inner, cols]
// stride ldb, out stride ldc; the columns of out past `cols` are left alone.
void gemm(int64_t rows, int64_t cols, int64_t inner, const float* a, int64_t lda, const float* b,
          int64_t ldb, float* out, int64_t ldc) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      double acc = 0.0;
      for (int64_t k = 0; k < inner; ++k) acc += double(a[r * lda + k]) * double(b[k * ldb + c]);
      out[r * ldc + c] = float(acc);
    }
}

template <class Case>
std::vector<Case> light(const Case* begin, const Case* end) {
  std::vector<Case> out;
  for (const Case* c = begin; c != end; ++c)
    if (!c->heavy) out.push_back(*c);
  return out;
}

std::string schedule_name(const emu::Options& o) { return emu::describe(o); }

// Sets the schedule for one test and checks that the kernel did run.
class Emulated {
 public:
  explicit Emulated(const emu::Options& o) : before_(emu::launch_count()) { emu::set_options(o); }
  int64_t launches() const { return emu::launch_count() - before_; }

 private:
  int64_t before_;
};

// ------------------------------------------------------------- attention

// One shape that only the emulation adds: 32 decoder rows of 260 positions
// pass the 32 KB of shared energies, so the kernel uses its global scratch
// (the table's cases that do are heavy).
constexpr cases::AttentionCase kScratchCase{"global_scratch", {2, 260, 33, 5, 3, 9}, false};

// Step-wise decoding with few rows takes kernels/attention.cu's split path
// (Td <= 4, B·Td <= 16, A <= 1024): chunks of encoder positions in separate
// blocks, then a combine. Te from 1 through one 32-position chunk and its
// edges, several chunks, and past 128 chunks (64-position chunks); masked
// rows end inside a chunk or are empty (the Form below).
constexpr cases::AttentionCase kSplitCases[] = {
    {"split_te1", {1, 1, 1, 5, 7, 9}, false},
    {"split_te2", {1, 2, 1, 8, 6, 16}, false},
    {"split_te31", {1, 31, 1, 33, 9, 37}, false},
    {"split_te32", {1, 32, 1, 16, 8, 32}, false},
    {"split_te33", {1, 33, 1, 130, 9, 40}, false},
    {"split_te100", {1, 100, 1, 64, 48, 96}, false},
    {"split_te257", {1, 257, 1, 129, 17, 67}, false},
    {"split_te300", {1, 300, 1, 40, 16, 64}, false},
    {"split_te4100", {1, 4100, 1, 3, 2, 5}, false},
    {"split_td4_b4", {4, 45, 4, 19, 23, 29}, false},
    {"split_b16_a1024", {16, 20, 1, 8, 4, 1024}, false},
};

std::vector<cases::AttentionCase> attention_cases() {
  auto v = light(std::begin(cases::kAttention), std::end(cases::kAttention));
  v.push_back(kScratchCase);
  for (const auto& c : kSplitCases) v.push_back(c);
  return v;
}

enum class Form { kOnePhase, kOnePhaseMasked, kProjectedMasked };
const char* form_name(Form f) {
  return f == Form::kOnePhase ? "one_phase" : f == Form::kOnePhaseMasked ? "masked" : "projected";
}

using AttentionParam = std::tuple<cases::AttentionCase, Form, seqattn_math, emu::Options>;

class EmuAttention : public ::testing::TestWithParam<AttentionParam> {};

TEST_P(EmuAttention, MatchesReference) {
  const auto& [c, form, math, schedule] = GetParam();
  const seqattn_attention_dims& d = c.d;
  const bool masked = form != Form::kOnePhase, projected = form == Form::kProjectedMasked;
  const AttentionInputs in = make_inputs(d, masked, 100);
  const AttentionOutputs ref = forward(reference(), in, true);
  const int64_t A = d.units, A4 = (A + 3) / 4 * 4;

  // queries = s·U [B, Td, A4], as src/cuda/attention.cpp's GEMM into the workspace.
  std::vector<float> queries(size_t(int64_t(d.batch) * d.dec_steps * A4), kNaN);
  gemm(int64_t(d.batch) * d.dec_steps, A, d.dec_dim, in.s.data(), d.dec_dim, in.U.data(), A,
       queries.data(), A4);
  // One-phase: keys = h·W [B, Te, A4], bias folded into the queries by the
  // kernel. Projected: the caller's keys [B, Te, A] with the bias in them.
  std::vector<float> keys;
  if (projected) {
    keys = project_keys(reference(), in);
  } else {
    keys.assign(size_t(int64_t(d.batch) * d.enc_steps * A4), kNaN);
    gemm(int64_t(d.batch) * d.enc_steps, A, d.enc_dim, in.h.data(), d.enc_dim, in.W.data(), A,
         keys.data(), A4);
  }
  const int64_t scratch = kc::attention_scratch_floats(d.batch, d.dec_steps, d.enc_steps, d.enc_dim, d.units);
  std::vector<float> scores(size_t(scratch), kNaN);
  std::vector<float> context(in.context_size(), kNaN);
  const bool want_weights = masked;
  std::vector<float> weights(want_weights ? in.weights_size() : 0, kNaN);

  kc::FusedAttentionParams p{};
  p.batch = d.batch;
  p.enc_steps = d.enc_steps;
  p.dec_steps = d.dec_steps;
  p.enc_dim = d.enc_dim;
  p.units = d.units;
  p.keys = keys.data();
  p.keys_ld = projected ? A : A4;
  p.queries = queries.data();
  p.queries_ld = A4;
  p.bias = projected ? nullptr : opt(in.bias);
  p.v = in.v.data();
  p.values = in.h.data();
  p.enc_lengths = opt(in.enc);
  p.dec_lengths = opt(in.dec);
  p.context = context.data();
  p.weights = want_weights ? weights.data() : nullptr;
  p.scores = scratch > 0 ? scores.data() : nullptr;

  Emulated run(schedule);
  kc::launch_fused_attention(p, math == SEQATTN_MATH_FAST, nullptr);
  // The split path of step-wise decoding is two launches (chunks, combine).
  ASSERT_EQ(run.launches(), kc::attention_launches(d.batch, d.dec_steps, d.enc_steps, d.units));

  const bool fast = math == SEQATTN_MATH_FAST;
  const auto ctx_bound = fast ? cases::fast_context_bound(SEQATTN_DEVICE_CUDA, d, in.h, in.v,
                                                          ref.weights)
                              : std::vector<double>{};
  EXPECT_TRUE(close(context, ref.context, "context", ctx_bound));
  if (want_weights) {
    const auto w_bound = fast ? cases::fast_weight_bound(SEQATTN_DEVICE_CUDA, in.v, ref.weights)
                              : std::vector<double>{};
    EXPECT_TRUE(close(weights, ref.weights, "weights", w_bound));
  }
  AttentionOutputs got{context, weights};
  EXPECT_TRUE(masked_exact_zeros(in, got));
}

std::vector<AttentionParam> attention_params() {
  // Every schedule on the masked shapes that reach each barrier and copy
  // path (edge tiles, several position tiles and unit chunks, a 2-warp block,
  // global scratch); one schedule each elsewhere.
  const std::vector<std::string> sweep = {"primes", "tiles", "long_source", "global_scratch"};
  std::vector<AttentionParam> out;
  size_t k = 0;
  for (const auto& c : attention_cases())
    for (Form f : {Form::kOnePhase, Form::kOnePhaseMasked, Form::kProjectedMasked})
      for (seqattn_math m : cases::kMathModes) {
        // FAST changes only tanh and exp: the projected form runs precise.
        if (m == SEQATTN_MATH_FAST && f == Form::kProjectedMasked) continue;
        // 65 blocks of 128 threads take ~25 s a run: the one shape with
        // split chunks longer than 32 runs in one form, precise on the
        // launched grid and FAST on a grid of 2 looping over the work.
        if (std::string(c.name) == "split_te4100") {
          if (f == Form::kOnePhaseMasked)
            out.emplace_back(c, f, m, kSchedules[m == SEQATTN_MATH_FAST ? 2 : 0]);
          continue;
        }
        const bool all = f == Form::kOnePhaseMasked && m == SEQATTN_MATH_PRECISE &&
                         std::find(sweep.begin(), sweep.end(), c.name) != sweep.end();
        for (const auto& s : schedules_for(k++, all)) out.emplace_back(c, f, m, s);
      }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Cases, EmuAttention, ::testing::ValuesIn(attention_params()),
                         [](const ::testing::TestParamInfo<AttentionParam>& i) {
                           return std::string(std::get<0>(i.param).name) + "_" +
                                  form_name(std::get<1>(i.param)) + "_" +
                                  cases::math_name(std::get<2>(i.param)) + "_" +
                                  schedule_name(std::get<3>(i.param));
                         });

// --------------------------------------------------------------- pooling

using PoolingParam = std::tuple<cases::PoolingCase, bool, emu::Options>;
class EmuPooling : public ::testing::TestWithParam<PoolingParam> {};

TEST_P(EmuPooling, MatchesReference) {
  const auto& [c, masked, schedule] = GetParam();
  const seqattn_pooling_dims& d = c.d;
  const std::vector<float> x = random_vector(size_t(d.batch) * d.steps * d.features, 31);
  const std::vector<float> w = random_weights(size_t(d.features), d.features, 32);
  const std::vector<float> b = masked ? random_vector(size_t(d.steps), 33, -0.5f, 0.5f)
                                      : std::vector<float>{};
  // "long" (20000 steps: the global scratch) at its full length would be
  // 2500 shuffle rounds per warp, minutes here: short rows still take the
  // scratch path (chosen by T), at row offsets b·T.
  const bool long_rows = std::string(c.name) == "long";
  const std::vector<int32_t> lengths =
      long_rows ? std::vector<int32_t>{300, 257}
                : masked ? mixed_lengths(d.batch, d.steps, 34) : std::vector<int32_t>{};
  std::vector<float> ref_context(size_t(d.batch) * d.features, kNaN),
      ref_weights(size_t(d.batch) * d.steps, kNaN);
  SEQATTN_OK_OR_FAIL(seqattn_attention_pooling_forward(reference(), &d, x.data(), opt(lengths),
                                                       w.data(), opt(b), ref_context.data(),
                                                       ref_weights.data()));

  const int64_t scratch = kc::pooling_scratch_floats(d.batch, d.steps);
  std::vector<float> scores(size_t(scratch), kNaN);
  std::vector<float> context(ref_context.size(), kNaN), weights(ref_weights.size(), kNaN);
  kc::PoolingParams p{};
  p.batch = d.batch;
  p.steps = d.steps;
  p.features = d.features;
  p.x = x.data();
  p.lengths = opt(lengths);
  p.w = w.data();
  p.b = opt(b);
  p.context = context.data();
  p.weights = masked ? weights.data() : nullptr;
  p.scores = scratch > 0 ? scores.data() : nullptr;
  Emulated run(schedule);
  kc::launch_attention_pooling(p, nullptr);
  ASSERT_EQ(run.launches(), 1);
  EXPECT_TRUE(close(context, ref_context, "context"));
  if (masked) {
    EXPECT_TRUE(close(weights, ref_weights, "weights"));
  }
}

std::vector<PoolingParam> pooling_params() {
  std::vector<PoolingParam> out;
  size_t k = 0;
  for (const auto& c : light(std::begin(cases::kPooling), std::end(cases::kPooling)))
    for (bool masked : {false, true}) {
      const std::string name = c.name;
      if (name == "long") {  // short rows (see the test), every schedule
        if (masked)
          for (const auto& s : kSchedules) out.emplace_back(c, masked, s);
        continue;
      }
      for (const auto& s : schedules_for(k++, masked && name == "steps_over_a_block"))
        out.emplace_back(c, masked, s);
    }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Cases, EmuPooling, ::testing::ValuesIn(pooling_params()),
                         [](const ::testing::TestParamInfo<PoolingParam>& i) {
                           return std::string(std::get<0>(i.param).name) +
                                  (std::get<1>(i.param) ? "_masked_" : "_full_") +
                                  schedule_name(std::get<2>(i.param));
                         });

// ------------------------------------------------------------- recurrent

using RnnParam = std::tuple<cases::RnnCase, Cell, RnnOptions, emu::Options>;
class EmuRnn : public ::testing::TestWithParam<RnnParam> {};

TEST_P(EmuRnn, MatchesReference) {
  const auto& [c, cell, o, schedule] = GetParam();
  const seqattn_rnn_dims& d = c.d;
  const int64_t B = d.batch, T = d.steps, I = d.input_dim, H = d.units;
  const int64_t GH = (cell == Cell::kSimple ? 1 : 3) * H;
  const bool reverse = o == RnnOptions::kMasked;  // the masked case also walks backwards
  const std::vector<float> x = random_vector(size_t(B * T * I), 21);
  const std::vector<float> kernel = random_weights(size_t(I * GH), I, 22);
  const std::vector<float> R = random_weights(size_t(H * GH), H, 23);
  std::vector<int32_t> lengths;
  std::vector<float> bias, h0;
  if (o != RnnOptions::kFull) {
    lengths = mixed_lengths(d.batch, d.steps, 24);
    bias = random_vector(size_t(cell == Cell::kGruResetAfter ? 2 * GH : GH), 26, -0.5f, 0.5f);
  }
  if (o == RnnOptions::kMaskedH0) h0 = random_vector(size_t(B * H), 25);
  const uint32_t flags = reverse ? uint32_t(SEQATTN_RNN_REVERSE) : 0u;

  std::vector<float> ref_out(size_t(B * T * H), kNaN), ref_last(size_t(B * H), kNaN);
  if (cell == Cell::kSimple)
    SEQATTN_OK_OR_FAIL(seqattn_simple_rnn_forward(reference(), &d, flags, x.data(), opt(lengths),
                                                  opt(h0), kernel.data(), R.data(), opt(bias),
                                                  ref_out.data(), ref_last.data()));
  else
    SEQATTN_OK_OR_FAIL(seqattn_gru_forward(
        reference(), &d,
        cell == Cell::kGruResetAfter ? SEQATTN_GRU_RESET_AFTER : SEQATTN_GRU_RESET_BEFORE, flags,
        x.data(), opt(lengths), opt(h0), kernel.data(), R.data(), opt(bias), ref_out.data(),
        ref_last.data()));

  // src/cuda/rnn.cpp: the state, outputs zeroed when some row is short, the
  // input projections in one GEMM, then per step the recurrent GEMM(s) and
  // the gate kernel(s). Workspace buffers start as NaN.
  const bool reset_before = cell == Cell::kGruResetBefore;
  int32_t max_len = d.steps;
  bool all_full = true;
  if (!lengths.empty()) {
    max_len = *std::max_element(lengths.begin(), lengths.end());
    all_full = *std::min_element(lengths.begin(), lengths.end()) == d.steps;
  }
  std::vector<float> xproj(size_t(B * T * GH), kNaN), hproj(size_t(B * GH), kNaN);
  std::vector<float> reset_h(reset_before ? size_t(B * H) : 0, kNaN);
  std::vector<float> h = h0.empty() ? std::vector<float>(size_t(B * H), 0.0f) : h0;
  std::vector<float> outputs(size_t(B * T * H), all_full ? kNaN : 0.0f);
  kc::RnnStepParams p{};
  p.batch = d.batch;
  p.steps = d.steps;
  p.units = d.units;
  p.reverse = reverse;
  p.cell = cell == Cell::kGruResetAfter    ? kc::RnnStepCell::kGruResetAfter
           : cell == Cell::kGruResetBefore ? kc::RnnStepCell::kGruResetBefore
                                           : kc::RnnStepCell::kSimple;
  p.lengths = opt(lengths);
  p.xproj = xproj.data();
  p.bias_x = opt(bias);
  p.bias_h = (!bias.empty() && cell == Cell::kGruResetAfter) ? bias.data() + GH : nullptr;
  p.hproj = hproj.data();
  p.h = h.data();
  p.reset_h = reset_before ? reset_h.data() : nullptr;
  p.outputs = outputs.data();

  Emulated run(schedule);
  if (max_len > 0) gemm(B * T, GH, I, x.data(), I, kernel.data(), GH, xproj.data(), GH);
  for (int32_t step = 0; step < max_len; ++step) {
    p.step = step;
    if (reset_before) {
      gemm(B, 2 * H, H, h.data(), H, R.data(), GH, hproj.data(), GH);
      kc::launch_gru_reset_gate(p, nullptr);
      gemm(B, H, H, reset_h.data(), H, R.data() + 2 * H, GH, hproj.data() + 2 * H, GH);
    } else {
      gemm(B, GH, H, h.data(), H, R.data(), GH, hproj.data(), GH);
    }
    kc::launch_rnn_step(p, nullptr);
  }
  ASSERT_EQ(run.launches(), int64_t(max_len) * (reset_before ? 2 : 1));
  EXPECT_TRUE(close(outputs, ref_out, "outputs"));
  EXPECT_TRUE(close(h, ref_last, "h_last"));
}

std::vector<RnnParam> rnn_params() {
  std::vector<RnnParam> out;
  int k = 0;
  for (const auto& c : light(std::begin(cases::kRnn), std::end(cases::kRnn)))
    for (Cell cell : cases::kCells)
      for (RnnOptions o : cases::kRnnOptions)
        // The gate kernels have no barrier, shuffle or shared memory: the
        // schedules rotate over the cases instead of multiplying them.
        out.emplace_back(c, cell, o, kSchedules[size_t(k++) % std::size(kSchedules)]);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Cases, EmuRnn, ::testing::ValuesIn(rnn_params()),
                         [](const ::testing::TestParamInfo<RnnParam>& i) {
                           return std::string(std::get<0>(i.param).name) + "_" +
                                  cases::cell_name(std::get<1>(i.param)) + "_" +
                                  cases::options_name(std::get<2>(i.param)) + "_" +
                                  schedule_name(std::get<3>(i.param));
                         });

// ----------------------------------------------------------------- dense

using DenseParam = std::tuple<cases::DenseCase, seqattn_activation, bool, emu::Options>;
class EmuDense : public ::testing::TestWithParam<DenseParam> {};

TEST_P(EmuDense, MatchesReference) {
  const auto& [c, act, with_bias, schedule] = GetParam();
  const std::vector<float> x = random_vector(size_t(c.rows) * c.in, 41);
  const std::vector<float> W = random_weights(size_t(c.in) * c.out, c.in, 42);
  const std::vector<float> b =
      with_bias ? random_vector(size_t(c.out), 43, -0.5f, 0.5f) : std::vector<float>{};
  std::vector<float> ref(size_t(c.rows) * c.out, kNaN);
  SEQATTN_OK_OR_FAIL(seqattn_dense_forward(reference(), c.rows, c.in, c.out, x.data(), W.data(),
                                           opt(b), act, ref.data()));
  // src/cuda/dense.cpp: y = x·W (cuBLAS), then the epilogue in place.
  std::vector<float> y(ref.size(), kNaN);
  gemm(c.rows, c.out, c.in, x.data(), c.in, W.data(), c.out, y.data(), c.out);
  Emulated run(schedule);
  if (act == SEQATTN_ACTIVATION_SOFTMAX)
    kc::launch_softmax_rows(y.data(), c.rows, c.out, opt(b), nullptr);
  else
    kc::launch_bias_activation(y.data(), c.rows, c.out, opt(b), act, nullptr);
  ASSERT_EQ(run.launches(), 1);
  EXPECT_TRUE(close(y, ref, "y"));
}

std::vector<DenseParam> dense_params() {
  std::vector<DenseParam> out;
  size_t k = 0;
  for (const auto& c : light(std::begin(cases::kDense), std::end(cases::kDense)))
    for (seqattn_activation a : cases::kActivations)
      for (bool with_bias : {false, true}) {
        // The softmax (shuffles) of a vocabulary row under every schedule.
        const bool all = a == SEQATTN_ACTIVATION_SOFTMAX && with_bias &&
                         std::string(c.name) == "vocabulary";
        for (const auto& s : schedules_for(k++, all)) out.emplace_back(c, a, with_bias, s);
      }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Cases, EmuDense, ::testing::ValuesIn(dense_params()),
                         [](const ::testing::TestParamInfo<DenseParam>& i) {
                           return std::string(std::get<0>(i.param).name) + "_" +
                                  cases::activation_name(std::get<1>(i.param)) +
                                  (std::get<2>(i.param) ? "_bias_" : "_nobias_") +
                                  schedule_name(std::get<3>(i.param));
                         });

// ---------------------------------------------------------- model helpers

class EmuModel : public ::testing::TestWithParam<emu::Options> {};

// Exact expectations: these ops only move and compare floats.
TEST_P(EmuModel, GatherRows) {
  for (const int64_t dim : {1, 3, 4, 36, 129}) {  // float and float4 paths, tails
    const int64_t vocab = 11, rows = 37;
    const std::vector<float> table = random_vector(size_t(vocab * dim), 51);
    std::vector<int32_t> ids(static_cast<size_t>(rows), 0);
    for (int64_t r = 0; r < rows; ++r) ids[size_t(r)] = int32_t((r * 7) % vocab);
    ids[5] = -1;                    // out of range: a zero row and the flag
    ids[20] = int32_t(vocab);       // past the end: the same
    std::vector<float> out(size_t(rows * dim), kNaN);
    int32_t flag = 0;
    Emulated run(GetParam());
    kc::launch_gather_rows(table.data(), vocab, dim, ids.data(), rows, out.data(), &flag, nullptr);
    ASSERT_EQ(run.launches(), 1);
    EXPECT_EQ(flag, 1) << "dim " << dim;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < dim; ++k) {
        const int32_t id = ids[size_t(r)];
        const float want = (id < 0 || id >= vocab) ? 0.0f : table[size_t(id * dim + k)];
        ASSERT_EQ(out[size_t(r * dim + k)], want) << "dim " << dim << " row " << r << " col " << k;
      }
  }
}

TEST_P(EmuModel, ArgmaxRows) {
  for (const int64_t cols : {1, 33, 300, 1000}) {
    const int64_t rows = 6;
    std::vector<float> x = random_vector(size_t(rows * cols), 52);
    // Row 1: a tie across threads and warps (the lowest index wins); row 2:
    // NaN everywhere but one; row 3: all NaN (gives 0); row 4: NaN first.
    const float nan = kNaN;
    for (int64_t j = 0; j < cols; ++j) {
      x[size_t(1 * cols + j)] = (j % 37 == 5) ? 2.0f : 0.0f;
      x[size_t(2 * cols + j)] = j == cols - 1 ? -3.0f : nan;
      x[size_t(3 * cols + j)] = nan;
    }
    x[size_t(4 * cols)] = nan;
    std::vector<int32_t> ids(size_t(rows), -7);
    Emulated run(GetParam());
    kc::launch_argmax_rows(x.data(), rows, cols, ids.data(), nullptr);
    ASSERT_EQ(run.launches(), 1);
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = x.data() + r * cols;
      const int32_t want = int32_t(
          std::max_element(row, row + cols, [](float a, float b) { return a < b; }) - row);
      EXPECT_EQ(ids[size_t(r)], want) << "cols " << cols << " row " << r;
    }
  }
}

TEST_P(EmuModel, ConcatRows) {
  for (const int64_t da : {1, 5}) {
    const int64_t db = 3, rows = 7;
    const std::vector<float> a = random_vector(size_t(rows * da), 53), b = random_vector(
                                                                          size_t(rows * db), 54);
    std::vector<float> out(size_t(rows * (da + db)), kNaN);
    emu::set_options(GetParam());
    kc::launch_concat_rows(a.data(), da, b.data(), db, rows, out.data(), nullptr);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t k = 0; k < da; ++k)
        ASSERT_EQ(out[size_t(r * (da + db) + k)], a[size_t(r * da + k)]);
      for (int64_t k = 0; k < db; ++k)
        ASSERT_EQ(out[size_t(r * (da + db) + da + k)], b[size_t(r * db + k)]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Schedules, EmuModel, ::testing::ValuesIn(kSchedules),
                         [](const ::testing::TestParamInfo<emu::Options>& i) {
                           return schedule_name(i.param);
                         });

// ------------------------------------------------- the emulation's own checks
//
// Small kernels written against the layer, each with one bug the emulation
// must report (and one without, that must pass).

__global__ void divergent_barrier_kernel(float* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1.0f;
}

__global__ void skipped_barrier_kernel(float* out) {
  if (threadIdx.x != 3) __syncthreads();
  out[threadIdx.x] = 1.0f;
}

__global__ void staged_copy_kernel(const float* src, float* out, int offset, int wait_pending) {
  SEQATTN_DYNAMIC_SHARED(float4, smem4);
  float* smem = reinterpret_cast<float*>(smem4);
  kc::cp_async_16(smem + 4 * threadIdx.x + offset, src + 4 * threadIdx.x, 16);
  kc::cp_async_commit();
  if (wait_pending == 0)
    kc::cp_async_wait<0>();
  else
    kc::cp_async_wait<1>();  // too few: the copy's group may still be in flight
  __syncthreads();
  for (int k = 0; k < 4; ++k) out[4 * threadIdx.x + k] = smem[4 * ((threadIdx.x + 1) % 32) + k];
}

TEST(EmuChecks, DivergentBarrierIsReported) {
  std::vector<float> out(32, 0.0f);
  for (const auto& s : kSchedules) {
    emu::set_options(s);
    try {
      SEQATTN_LAUNCH(divergent_barrier_kernel, 1, 32, 0, nullptr)(out.data());
      ADD_FAILURE() << "no error under " << schedule_name(s);
    } catch (const emu::KernelError& e) {
      EXPECT_TRUE(contains(e.what(), "__syncthreads")) << e.what();
    }
  }
}

TEST(EmuChecks, BarrierSkippedByOneThreadIsADeadlock) {
  std::vector<float> out(64, 0.0f);
  for (const auto& s : kSchedules) {
    emu::set_options(s);
    try {
      SEQATTN_LAUNCH(skipped_barrier_kernel, 1, 64, 0, nullptr)(out.data());
      ADD_FAILURE() << "no error under " << schedule_name(s);
    } catch (const emu::KernelError& e) {
      EXPECT_TRUE(contains(e.what(), "deadlock")) << e.what();
    }
  }
}

TEST(EmuChecks, CpAsyncGroupsAndAlignment) {
  const std::vector<float> src = random_vector(128, 61);
  for (const auto& s : kSchedules) {
    emu::set_options(s);
    std::vector<float> out(128, kNaN);
    SEQATTN_LAUNCH(staged_copy_kernel, 1, 32, 512, nullptr)(src.data(), out.data(), 0, 0);
    for (int t = 0; t < 32; ++t)
      for (int k = 0; k < 4; ++k) ASSERT_EQ(out[size_t(4 * t + k)], src[size_t(4 * ((t + 1) % 32) + k)]);
    // A wait that leaves the copy's group in flight: deferred copies read NaN.
    std::vector<float> early(128, 0.0f);
    if (s.deferred_copies) {
      EXPECT_THROW(
          SEQATTN_LAUNCH(staged_copy_kernel, 1, 32, 512, nullptr)(src.data(), early.data(), 0, 1),
          emu::KernelError)  // the copy is still in flight at exit
          << schedule_name(s);
    }
    // A destination off the 16-byte grid.
    try {
      SEQATTN_LAUNCH(staged_copy_kernel, 1, 32, 528, nullptr)(src.data(), out.data(), 1, 0);
      ADD_FAILURE() << "no error under " << schedule_name(s);
    } catch (const emu::KernelError& e) {
      EXPECT_TRUE(contains(e.what(), "aligned")) << e.what();
    }
  }
}

TEST(EmuChecks, DynamicSharedOverTheDefaultNeedsOptIn) {
  const std::vector<float> src = random_vector(128, 62);
  std::vector<float> out(128, kNaN);
  emu::set_options(kSchedules[0]);
  (void)cudaGetLastError();
  SEQATTN_LAUNCH(staged_copy_kernel, 1, 32, 48 * 1024 + 16, nullptr)(src.data(), out.data(), 0, 0);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  EXPECT_TRUE(std::isnan(out[0])) << "the refused launch ran";
  ASSERT_EQ(cudaFuncSetAttribute(staged_copy_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 48 * 1024 + 16),
            cudaSuccess);
  SEQATTN_LAUNCH(staged_copy_kernel, 1, 32, 48 * 1024 + 16, nullptr)(src.data(), out.data(), 0, 0);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(out[0], src[4]);
}

// ------------------------------------------------------------- mutations
//
// The emulation must catch the bugs it exists for. Each mutant reruns this
// binary on one kernel's tests with SEQATTN_EMU_MUTATE set (emu.hpp): one
// __syncthreads of kernels/ turned into nothing (every call site found in the
// source, so edits of the kernels keep the list current), or every cp.async
// wait count one too high. The mutant must fail a test (a crash does not
// count: the output must show a failed test).

struct Mutant {
  std::string name, mutate, filter;
  std::string survives;  // non-empty: why removing this barrier changes nothing
};

// Barriers the others make redundant, found by their source line (so the
// list survives edits of the kernels). The end of the attention kernel's
// work loop: the next work item's first barrier (after its first cp.async
// wait) comes before any write of shared memory but the cp.async into
// staging buffers last read before the previous item's end-of-chunk barrier.
const std::pair<const char*, const char*> kRedundant[] = {
    {"shared scores and staging are reused by the next work item",
     "redundant: the next work item's first __syncthreads precedes its first write of the "
     "energies, and its copies go to staging last read before the previous chunk barrier"},
    // Pooling, before the second block reduction: the barrier after the
    // first reduction's broadcast already separates the two uses of the
    // storage (CUB's contract, which the shim checks), and the second
    // reduction's own barrier comes before thread 0 overwrites the broadcast.
    {"reduce_storage and broadcast are reused",
     "redundant: the barrier after the first broadcast separates the two reductions' uses of "
     "the storage, and the second reduction's own barrier precedes the new broadcast"},
    // The split decode's two loop ends, for the same reason as the fused
    // kernel's: before its first barrier the next work item writes only what
    // the previous one last read before an earlier barrier (the queries and v;
    // the combine's red), and the shared memory read last (es, scale) is
    // written only after it.
    {"qs, vs and es are refilled by the next work item",
     "redundant: the next item writes qs and vs before its first barrier, last read before the "
     "previous item's energy barrier; es only after that first barrier"},
    {"scale is rewritten by the next work item",
     "redundant: the next item writes red before its first barrier (last read before the "
     "previous scale barrier) and scale only after three more"},
};

const char* const kCombineFilter =
    "Cases/EmuAttention.*/split_te33_*:Cases/EmuAttention.*/split_te4100_masked_fast_*";

std::vector<Mutant> mutants() {
  std::vector<Mutant> out;
  const std::pair<const char*, const char*> files[] = {
      {"attention.cu",
       "Cases/EmuAttention.*/tiles_masked_precise_*:Cases/EmuAttention.*/"
       "global_scratch_masked_precise_*:Cases/EmuAttention.*/primes_masked_precise_*"},
      {"pooling.cu", "Cases/EmuPooling.*/steps_over_a_block_masked_*"},
      {"model.cu", "Schedules/EmuModel.ArgmaxRows/*"},
      // The backward kernels with barriers (test_emulation_backward.cpp):
      // pooling's rows over a block, every schedule; the column sums over
      // 1000 columns, their grid-stride loop on the capped grids.
      {"pooling_backward.cu", "Cases/EmuPoolingBackward.*/steps_over_a_block_masked_*"},
      {"dense_backward.cu", "Cases/EmuDenseBackward.*/vocabulary_*"},
  };
  for (const auto& [file, filter] : files) {
    std::ifstream in(std::string(SEQATTN_SOURCE_DIR) + "/kernels/" + file);
    std::string line;
    // The split decode's combine runs with many chunks (more than a warp
    // of them) only in split_te4100: its barriers get their own filter.
    bool in_combine = false;
    for (int n = 1; std::getline(in, line); ++n) {
      if (line.find("split_combine_kernel(const") != std::string::npos) in_combine = true;
      const size_t at = line.find("__syncthreads()");
      const size_t comment = line.find("//");
      if (at == std::string::npos || (comment != std::string::npos && comment < at)) continue;
      std::string base = file;
      base.replace(base.find('.'), 1, "_");
      std::string survives;
      for (const auto& [text, why] : kRedundant)
        if (line.find(text) != std::string::npos) survives = why;
      out.push_back({"drop_sync_" + base + "_" + std::to_string(n),
                     "sync:" + std::string(file) + ":" + std::to_string(n),
                     in_combine ? std::string(kCombineFilter) : std::string(filter), survives});
    }
  }
  out.push_back({"wait_count_plus_1_attention", "wait:1", files[0].second, ""});
  return out;
}

class EmuMutation : public ::testing::TestWithParam<Mutant> {};

TEST_P(EmuMutation, FailsTheTests) {
  const Mutant& m = GetParam();
  if (const char* e = std::getenv("SEQATTN_EMU_MUTATE"); e && *e) GTEST_SKIP() << "in a mutant";
  if (!m.survives.empty()) GTEST_SKIP() << m.mutate << " survives, " << m.survives;
  std::array<char, 4096> self{};
  const ssize_t len = readlink("/proc/self/exe", self.data(), self.size() - 1);
  ASSERT_GT(len, 0);
  const std::string cmd = "SEQATTN_EMU_MUTATE='" + m.mutate + "' '" + std::string(self.data()) +
                          "' --gtest_fail_fast --gtest_brief=1 '--gtest_filter=" + m.filter +
                          "' 2>&1";
  FILE* child = popen(cmd.c_str(), "r");
  ASSERT_NE(child, nullptr);
  std::string output;
  std::array<char, 4096> buf{};
  for (size_t got; (got = fread(buf.data(), 1, buf.size(), child)) > 0;) output.append(buf.data(), got);
  const int status = pclose(child);
  EXPECT_NE(status, 0) << "the mutant " << m.mutate << " passed:\n" << output;
  EXPECT_TRUE(contains(output, "[  FAILED  ]"))
      << "the mutant " << m.mutate << " did not fail a test (a crash?):\n" << output;
  // What caught it, for the log.
  const size_t f = output.find("Failure");
  std::printf("%s: %s\n", m.mutate.c_str(),
              f == std::string::npos ? "no failure message"
                                     : output.substr(f, output.find('\n', output.find('\n', f) + 1) - f).c_str());
}

INSTANTIATE_TEST_SUITE_P(Mutants, EmuMutation, ::testing::ValuesIn(mutants()),
                         [](const ::testing::TestParamInfo<Mutant>& i) { return i.param.name; });

}  // namespace
