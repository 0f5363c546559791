// GRU (both variants) and SimpleRNN through the C API on a CPU handle: cases
// worked out by hand, the oracle on odd shapes, and the lengths / REVERSE /
// h0 rules of docs/math.md#lengths-and-direction-gru-and-simplernn.
#include "oracle.hpp"
#include "test_util.hpp"

namespace oracle {
inline const char* cell_name(Cell c) {
  return c == Cell::kGruResetAfter    ? "GruResetAfter"
         : c == Cell::kGruResetBefore ? "GruResetBefore"
                                      : "SimpleRnn";
}
// How GoogleTest shows the parameter in failure messages.
void PrintTo(Cell c, std::ostream* os) { *os << cell_name(c); }
}  // namespace oracle

namespace seqattn_test {
namespace {

using oracle::Cell;
using oracle::cell_name;

struct RnnProblem {
  Cell cell;
  seqattn_rnn_dims d;
  std::vector<float> x, kernel, rec, bias, h0;  // [B,T,I] [I,G*H] [H,G*H] by cell [B,H]

  RnnProblem(Cell c, seqattn_rnn_dims dims, uint32_t seed, float scale = 1.0f) : cell(c), d(dims) {
    const size_t B = size_t(d.batch), T = size_t(d.steps), I = size_t(d.input_dim),
                 H = size_t(d.units);
    const size_t GH = (c == Cell::kSimple ? 1 : 3) * H;
    x = random_vector(B * T * I, seed + 1, -scale, scale);
    kernel = random_vector(I * GH, seed + 2, -scale, scale);
    rec = random_vector(H * GH, seed + 3, -scale, scale);
    bias = random_vector(c == Cell::kGruResetAfter ? 2 * GH : GH, seed + 4, -scale, scale);
    h0 = random_vector(B * H, seed + 5);
  }
  size_t outputs_size() const { return size_t(d.batch) * size_t(d.steps) * size_t(d.units); }
  size_t state_size() const { return size_t(d.batch) * size_t(d.units); }
};

seqattn_status call(seqattn_handle handle, const RnnProblem& p, uint32_t flags,
                    const int32_t* lengths, const float* h0, const float* bias, float* outputs,
                    float* h_last) {
  if (p.cell == Cell::kSimple)
    return seqattn_simple_rnn_forward(handle, &p.d, flags, p.x.data(), lengths, h0, p.kernel.data(),
                                      p.rec.data(), bias, outputs, h_last);
  return seqattn_gru_forward(
      handle, &p.d,
      p.cell == Cell::kGruResetAfter ? SEQATTN_GRU_RESET_AFTER : SEQATTN_GRU_RESET_BEFORE, flags,
      p.x.data(), lengths, h0, p.kernel.data(), p.rec.data(), bias, outputs, h_last);
}

struct Out {
  std::vector<float> outputs, h_last;
};

Out run(seqattn_handle handle, const RnnProblem& p, uint32_t flags, const int32_t* lengths,
        bool with_h0 = true, bool with_bias = true) {
  Out o{sentinels(p.outputs_size()), sentinels(p.state_size())};
  EXPECT_EQ(call(handle, p, flags, lengths, with_h0 ? p.h0.data() : nullptr,
                 with_bias ? p.bias.data() : nullptr, o.outputs.data(), o.h_last.data()),
            SEQATTN_OK)
      << seqattn_last_error();
  return o;
}

using RnnHand = CpuTest;

// B=1, T=2, I=1, H=1, h0 = 0.5, x = [1, -2], kernel = [0.5,-0.3,0.8] (z,r,h),
// recurrent_kernel = [0.2,0.4,-0.6], bias = [[0.1,0.2,0.3],[-0.1,0.05,0.2]]:
//   z = σ(x·0.5+0.1 + h·0.2-0.1),  r = σ(x·(-0.3)+0.2 + h·0.4+0.05)
//   c = tanh(x·0.8+0.3 + r·(h·(-0.6)+0.2)),  h' = z·h + (1-z)·c
//   step 1: z = σ(0.6), r = σ(0.15), c = tanh(1.1 + r·(-0.1)) -> h1 = 0.599339156
TEST_F(RnnHand, GruResetAfter) {
  const seqattn_rnn_dims d{1, 2, 1, 1};
  const std::vector<float> x{1, -2}, k{0.5f, -0.3f, 0.8f}, rk{0.2f, 0.4f, -0.6f},
      b{0.1f, 0.2f, 0.3f, -0.1f, 0.05f, 0.2f}, h0{0.5f};
  std::vector<float> out = sentinels(2), last = sentinels(1);
  ASSERT_EQ(seqattn_gru_forward(h(), &d, SEQATTN_GRU_RESET_AFTER, 0, x.data(), nullptr, h0.data(),
                                k.data(), rk.data(), b.data(), out.data(), last.data()),
            SEQATTN_OK);
  EXPECT_TRUE(
      all_close(out, std::vector<double>{0.599339156, -0.453032993}, 1e-7, 1e-6, "outputs"));
  EXPECT_TRUE(all_close(last, std::vector<double>{-0.453032993}, 1e-7, 1e-6, "h_last"));
}

// Same weights, bias [0.1,0.2,0.3] (one row):
//   z = σ(x·0.5+0.1 + h·0.2),  r = σ(x·(-0.3)+0.2 + h·0.4),  c = tanh(x·0.8+0.3 + (r·h)·(-0.6))
TEST_F(RnnHand, GruResetBefore) {
  const seqattn_rnn_dims d{1, 2, 1, 1};
  const std::vector<float> x{1, -2}, k{0.5f, -0.3f, 0.8f}, rk{0.2f, 0.4f, -0.6f},
      b{0.1f, 0.2f, 0.3f}, h0{0.5f};
  std::vector<float> out = sentinels(2), last = sentinels(1);
  ASSERT_EQ(seqattn_gru_forward(h(), &d, SEQATTN_GRU_RESET_BEFORE, 0, x.data(), nullptr, h0.data(),
                                k.data(), rk.data(), b.data(), out.data(), last.data()),
            SEQATTN_OK);
  EXPECT_TRUE(
      all_close(out, std::vector<double>{0.578430994, -0.446797086}, 1e-7, 1e-6, "outputs"));
  EXPECT_TRUE(all_close(last, std::vector<double>{-0.446797086}, 1e-7, 1e-6, "h_last"));
}

// h' = tanh(0.7·x - 0.4·h + 0.1), h0 = 0.25, x = [1, -0.5, 2]:
//   h1 = tanh(0.7 - 0.1 + 0.1) = tanh(0.7) = 0.604367777, ...
TEST_F(RnnHand, SimpleRnn) {
  const seqattn_rnn_dims d{1, 3, 1, 1};
  const std::vector<float> x{1, -0.5f, 2}, k{0.7f}, rk{-0.4f}, b{0.1f}, h0{0.25f};
  std::vector<float> out = sentinels(3), last = sentinels(1);
  ASSERT_EQ(seqattn_simple_rnn_forward(h(), &d, 0, x.data(), nullptr, h0.data(), k.data(),
                                       rk.data(), b.data(), out.data(), last.data()),
            SEQATTN_OK);
  EXPECT_TRUE(all_close(out, std::vector<double>{0.604367777, -0.455601992, 0.933151733}, 1e-7,
                        1e-6, "outputs"));
  EXPECT_TRUE(all_close(last, std::vector<double>{0.933151733}, 1e-7, 1e-6, "h_last"));
}

class RnnCells : public ::testing::TestWithParam<Cell> {
 protected:
  seqattn::Handle handle_{SEQATTN_DEVICE_CPU_REFERENCE};
  seqattn_handle h() const { return handle_.get(); }
};

TEST_P(RnnCells, MatchesOracleOnPrimeShapes) {
  for (const seqattn_rnn_dims d : {seqattn_rnn_dims{1, 1, 1, 1}, seqattn_rnn_dims{2, 7, 3, 13},
                                   seqattn_rnn_dims{3, 13, 31, 7}, seqattn_rnn_dims{4, 5, 1, 2}}) {
    SCOPED_TRACE("B=" + std::to_string(d.batch) + " T=" + std::to_string(d.steps) +
                 " I=" + std::to_string(d.input_dim) + " H=" + std::to_string(d.units));
    const RnnProblem p(GetParam(), d, 17);
    std::vector<int32_t> len(static_cast<size_t>(d.batch));
    for (size_t b = 0; b < len.size(); ++b)
      len[b] = b % 3 == 1 ? 0 : b % 3 == 2 ? (d.steps + 1) / 2 : d.steps;
    for (uint32_t flags : {0u, uint32_t(SEQATTN_RNN_REVERSE)}) {
      for (bool masked : {false, true}) {
        for (bool with_h0 : {false, true}) {
          SCOPED_TRACE(std::string(flags ? "reverse" : "forward") + (masked ? " lengths" : "") +
                       (with_h0 ? " h0" : ""));
          const int32_t* lp = masked ? len.data() : nullptr;
          const oracle::Rnn want =
              oracle::rnn(p.cell, d, flags != 0, p.x, lp, with_h0 ? p.h0.data() : nullptr, p.kernel,
                          p.rec, p.bias.data());
          const Out o = run(h(), p, flags, lp, with_h0);
          EXPECT_TRUE(all_close(o.outputs, want.outputs, 1e-6, 1e-5, "outputs"));
          EXPECT_TRUE(all_close(o.h_last, want.h_last, 1e-6, 1e-5, "h_last"));
        }
      }
    }
  }
}

// REVERSE over lengths L = the forward pass over x[L-1], ..., x[0], with
// outputs mapped back to the input positions they belong to.
TEST_P(RnnCells, ReverseEqualsForwardOnReversedValidSteps) {
  const RnnProblem p(GetParam(), {3, 6, 4, 5}, 27);
  const int32_t len[3] = {6, 3, 0};
  const size_t T = 6, I = 4, H = 5;
  RnnProblem flipped = p;
  for (size_t b = 0; b < 3; ++b)
    for (size_t t = 0; t < size_t(len[b]); ++t)
      for (size_t k = 0; k < I; ++k)
        flipped.x[(b * T + t) * I + k] = p.x[(b * T + size_t(len[b]) - 1 - t) * I + k];
  const Out rev = run(h(), p, SEQATTN_RNN_REVERSE, len);
  const Out fwd = run(h(), flipped, 0, len);
  std::vector<float> realigned(fwd.outputs.size(), 0.0f);
  for (size_t b = 0; b < 3; ++b)
    for (size_t t = 0; t < size_t(len[b]); ++t)
      for (size_t j = 0; j < H; ++j)
        realigned[(b * T + t) * H + j] = fwd.outputs[(b * T + size_t(len[b]) - 1 - t) * H + j];
  EXPECT_TRUE(all_close(rev.outputs, realigned, 1e-7, 1e-6, "outputs"));
  EXPECT_TRUE(all_close(rev.h_last, fwd.h_last, 1e-7, 1e-6, "h_last"));
}

// h_last = the state after step lengths[b]-1, i.e. what a run over exactly
// lengths[b] steps ends with; outputs past the length are zero.
TEST_P(RnnCells, LengthsStopTheStateAndZeroTheOutputs) {
  const RnnProblem p(GetParam(), {3, 7, 3, 4}, 37);
  const int32_t len[3] = {7, 2, 0};
  const size_t T = 7, I = 3, H = 4;
  for (uint32_t flags : {0u, uint32_t(SEQATTN_RNN_REVERSE)}) {
    SCOPED_TRACE(flags ? "reverse" : "forward");
    const Out o = run(h(), p, flags, len);
    for (size_t b = 0; b < 3; ++b) {
      for (size_t t = size_t(len[b]); t < T; ++t)
        for (size_t j = 0; j < H; ++j)
          EXPECT_EQ(o.outputs[(b * T + t) * H + j], 0.0f) << "b=" << b << " t=" << t << " j=" << j;
      const std::vector<float> got_last(o.h_last.begin() + long(b * H),
                                        o.h_last.begin() + long((b + 1) * H));
      const std::vector<float> h0(p.h0.begin() + long(b * H), p.h0.begin() + long((b + 1) * H));
      if (len[b] == 0) {
        EXPECT_TRUE(all_equal(got_last, h0, "h_last for length 0 is h0"));
        continue;
      }
      // The same sequence alone, cut to its length.
      RnnProblem cut = p;
      cut.d = {1, len[b], 3, 4};
      cut.x.assign(p.x.begin() + long(b * T * I), p.x.begin() + long((b * T + size_t(len[b])) * I));
      cut.h0 = h0;
      const Out alone = run(h(), cut, flags, nullptr);
      EXPECT_TRUE(all_close(got_last, alone.h_last, 1e-7, 1e-6, "h_last"));
      const std::vector<float> got_out(o.outputs.begin() + long(b * T * H),
                                       o.outputs.begin() + long((b * T + size_t(len[b])) * H));
      EXPECT_TRUE(all_close(got_out, alone.outputs, 1e-7, 1e-6, "outputs"));
    }
  }
}

TEST_P(RnnCells, NullH0EqualsZeroH0) {
  RnnProblem p(GetParam(), {2, 4, 3, 5}, 47);
  const Out without = run(h(), p, 0, nullptr, false);
  std::fill(p.h0.begin(), p.h0.end(), 0.0f);
  const Out zeros = run(h(), p, 0, nullptr, true);
  EXPECT_TRUE(all_equal(without.outputs, zeros.outputs, "outputs"));
  EXPECT_TRUE(all_equal(without.h_last, zeros.h_last, "h_last"));
}

TEST_P(RnnCells, NullBiasEqualsZeroBias) {
  RnnProblem p(GetParam(), {2, 4, 3, 5}, 57);
  const Out without = run(h(), p, 0, nullptr, true, false);
  std::fill(p.bias.begin(), p.bias.end(), 0.0f);
  const Out zeros = run(h(), p, 0, nullptr, true, true);
  EXPECT_TRUE(all_equal(without.outputs, zeros.outputs, "outputs"));
  EXPECT_TRUE(all_equal(without.h_last, zeros.h_last, "h_last"));
}

// outputs and h_last are each optional; either alone matches the full call.
TEST_P(RnnCells, OutputsAndHLastAreEachOptional) {
  const RnnProblem p(GetParam(), {2, 5, 3, 4}, 67);
  const int32_t len[2] = {5, 3};
  const Out full = run(h(), p, 0, len);
  std::vector<float> outputs = sentinels(p.outputs_size()), last = sentinels(p.state_size());
  ASSERT_EQ(call(h(), p, 0, len, p.h0.data(), p.bias.data(), outputs.data(), nullptr), SEQATTN_OK);
  ASSERT_EQ(call(h(), p, 0, len, p.h0.data(), p.bias.data(), nullptr, last.data()), SEQATTN_OK);
  ASSERT_EQ(call(h(), p, 0, len, p.h0.data(), p.bias.data(), nullptr, nullptr), SEQATTN_OK);
  EXPECT_TRUE(all_equal(outputs, full.outputs, "outputs"));
  EXPECT_TRUE(all_equal(last, full.h_last, "h_last"));
}

TEST_P(RnnCells, LargeMagnitudesStayFinite) {
  const RnnProblem p(GetParam(), {2, 13, 7, 3}, 77, 1e3f);
  const Out o = run(h(), p, 0, nullptr);
  EXPECT_TRUE(all_finite(o.outputs, "outputs"));
  EXPECT_TRUE(all_finite(o.h_last, "h_last"));
  const oracle::Rnn want =
      oracle::rnn(p.cell, p.d, false, p.x, nullptr, p.h0.data(), p.kernel, p.rec, p.bias.data());
  // Saturated gates: equal up to float rounding of the state.
  EXPECT_TRUE(all_close(o.h_last, want.h_last, 1e-5, 1e-5, "h_last"));
}

INSTANTIATE_TEST_SUITE_P(AllCells, RnnCells,
                         ::testing::Values(Cell::kGruResetAfter, Cell::kGruResetBefore,
                                           Cell::kSimple),
                         [](const ::testing::TestParamInfo<Cell>& param_info) {
                           return std::string(cell_name(param_info.param));
                         });

// The variant argument is honoured: with a recurrent bias and H > 1 the two
// GRU formulas give different states.
TEST_F(RnnHand, GruVariantsDiffer) {
  const RnnProblem after(Cell::kGruResetAfter, {1, 3, 2, 3}, 87);
  RnnProblem before = after;
  before.cell = Cell::kGruResetBefore;
  before.bias.resize(9);  // the input row of the reset-after bias
  const Out a = run(h(), after, 0, nullptr), b = run(h(), before, 0, nullptr);
  EXPECT_FALSE(all_close(a.h_last, b.h_last, 1e-4, 0.0, "h_last"));
}

}  // namespace
}  // namespace seqattn_test
