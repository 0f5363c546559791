// Additive attention through the C API on a CPU handle: a case worked out by
// hand, the oracle on odd shapes, the invariants of docs/math.md#additive-attention (masking,
// permutation, two-phase = one-phase) and the edge cases.
#include <algorithm>
#include <numeric>

#include "oracle.hpp"
#include "test_util.hpp"

// How GoogleTest shows a shape parameter in failure messages.
void PrintTo(const seqattn_attention_dims& d, std::ostream* os) {
  *os << "{B " << d.batch << ", Te " << d.enc_steps << ", Td " << d.dec_steps << ", He "
      << d.enc_dim << ", Hd " << d.dec_dim << ", A " << d.units << "}";
}

namespace seqattn_test {
namespace {

struct AttentionProblem {
  seqattn_attention_dims d;
  std::vector<float> h, s, W, U, bias, v;  // [B,Te,He] [B,Td,Hd] [He,A] [Hd,A] [A] [A]

  AttentionProblem(seqattn_attention_dims dims, uint32_t seed, float scale = 1.0f) : d(dims) {
    const size_t B = size_t(d.batch), Te = size_t(d.enc_steps), Td = size_t(d.dec_steps);
    const size_t He = size_t(d.enc_dim), Hd = size_t(d.dec_dim), A = size_t(d.units);
    h = random_vector(B * Te * He, seed + 1, -scale, scale);
    s = random_vector(B * Td * Hd, seed + 2, -scale, scale);
    W = random_vector(He * A, seed + 3, -scale, scale);
    U = random_vector(Hd * A, seed + 4, -scale, scale);
    bias = random_vector(A, seed + 5, -scale, scale);
    v = random_vector(A, seed + 6, -scale, scale);
  }
  size_t context_size() const { return size_t(d.batch) * size_t(d.dec_steps) * size_t(d.enc_dim); }
  size_t weights_size() const {
    return size_t(d.batch) * size_t(d.dec_steps) * size_t(d.enc_steps);
  }
  size_t keys_size() const { return size_t(d.batch) * size_t(d.enc_steps) * size_t(d.units); }
};

struct Out {
  std::vector<float> context, weights;
};

Out run_one_phase(seqattn_handle handle, const AttentionProblem& p, const int32_t* enc_lengths,
                  const int32_t* dec_lengths, bool with_bias = true) {
  Out o{sentinels(p.context_size()), sentinels(p.weights_size())};
  EXPECT_EQ(seqattn_additive_attention_forward(handle, &p.d, p.h.data(), p.s.data(), enc_lengths,
                                               dec_lengths, p.W.data(), p.U.data(),
                                               with_bias ? p.bias.data() : nullptr, p.v.data(),
                                               o.context.data(), o.weights.data()),
            SEQATTN_OK)
      << seqattn_last_error();
  return o;
}

Out run_two_phase(seqattn_handle handle, const AttentionProblem& p, const int32_t* enc_lengths,
                  const int32_t* dec_lengths, bool with_bias = true) {
  std::vector<float> keys = sentinels(p.keys_size());
  EXPECT_EQ(
      seqattn_additive_attention_project_keys(handle, &p.d, p.h.data(), p.W.data(),
                                              with_bias ? p.bias.data() : nullptr, keys.data()),
      SEQATTN_OK)
      << seqattn_last_error();
  Out o{sentinels(p.context_size()), sentinels(p.weights_size())};
  EXPECT_EQ(seqattn_additive_attention_forward_projected(
                handle, &p.d, p.h.data(), keys.data(), p.s.data(), enc_lengths, dec_lengths,
                p.U.data(), p.v.data(), o.context.data(), o.weights.data()),
            SEQATTN_OK)
      << seqattn_last_error();
  return o;
}

using AdditiveAttention = CpuTest;

// B=1, Te=3, Td=2, He=2, Hd=1, A=2 with W = I, so keys = h + bias:
//   h = [[1,0],[0,1],[1,1]], bias = [0.1,-0.2]  ->  keys = [[1.1,-0.2],[0.1,0.8],[1.1,0.8]]
//   s = [[0.5],[-1]], U = [[1,-1]]              ->  q = [[0.5,-0.5],[-1,1]]
//   v = [1, 0.5]:  e[t,i] = tanh(keys[i,0]+q[t,0]) + 0.5·tanh(keys[i,1]+q[t,1])
//   e.g. e[0,0] = tanh(1.6) + 0.5·tanh(-0.7);  w = softmax_i(e);  context[t] = Σ_i w[t,i]·h[i]
struct HandCase {
  seqattn_attention_dims d{1, 3, 2, 2, 1, 2};
  std::vector<float> h{1, 0, 0, 1, 1, 1}, s{0.5f, -1}, W{1, 0, 0, 1}, U{1, -1}, bias{0.1f, -0.2f},
      v{1, 0.5f};
};

TEST_F(AdditiveAttention, HandComputedCase) {
  const HandCase c;
  std::vector<float> context = sentinels(4), weights = sentinels(6);
  ASSERT_EQ(seqattn_additive_attention_forward(h(), &c.d, c.h.data(), c.s.data(), nullptr, nullptr,
                                               c.W.data(), c.U.data(), c.bias.data(), c.v.data(),
                                               context.data(), weights.data()),
            SEQATTN_OK);
  const std::vector<double> want_w{0.275467596, 0.293445288, 0.431087117,
                                   0.375765066, 0.191403331, 0.432831603};
  const std::vector<double> want_c{0.706554712, 0.724532404, 0.808596669, 0.624234934};
  EXPECT_TRUE(all_close(weights, want_w, 1e-6, 1e-6, "weights"));
  EXPECT_TRUE(all_close(context, want_c, 1e-6, 1e-6, "context"));
}

// The same with enc_lengths = [2]: the softmax runs over i < 2 only, so
// context[t] = w[t,0]·[1,0] + w[t,1]·[0,1] = [w[t,0], w[t,1]].
TEST_F(AdditiveAttention, HandComputedMaskedCase) {
  const HandCase c;
  const int32_t enc_lengths[1] = {2};
  std::vector<float> context = sentinels(4), weights = sentinels(6);
  ASSERT_EQ(seqattn_additive_attention_forward(h(), &c.d, c.h.data(), c.s.data(), enc_lengths,
                                               nullptr, c.W.data(), c.U.data(), c.bias.data(),
                                               c.v.data(), context.data(), weights.data()),
            SEQATTN_OK);
  const std::vector<double> want_w{0.48419996, 0.51580004, 0.0, 0.662528216, 0.337471784, 0.0};
  const std::vector<double> want_c{0.48419996, 0.51580004, 0.662528216, 0.337471784};
  EXPECT_TRUE(all_close(weights, want_w, 1e-6, 1e-6, "weights"));
  EXPECT_TRUE(all_close(context, want_c, 1e-6, 1e-6, "context"));
  EXPECT_EQ(weights[2], 0.0f);
  EXPECT_EQ(weights[5], 0.0f);
}

TEST_F(AdditiveAttention, TwoPhaseHandComputedKeys) {
  const HandCase c;
  std::vector<float> keys = sentinels(6);
  ASSERT_EQ(seqattn_additive_attention_project_keys(h(), &c.d, c.h.data(), c.W.data(),
                                                    c.bias.data(), keys.data()),
            SEQATTN_OK);
  EXPECT_TRUE(
      all_close(keys, std::vector<double>{1.1, -0.2, 0.1, 0.8, 1.1, 0.8}, 1e-7, 1e-7, "keys"));
  std::vector<float> no_bias = sentinels(6);
  ASSERT_EQ(seqattn_additive_attention_project_keys(h(), &c.d, c.h.data(), c.W.data(), nullptr,
                                                    no_bias.data()),
            SEQATTN_OK);
  EXPECT_TRUE(all_equal(no_bias, c.h, "keys without bias (W = I)"));
}

// Shapes [B, Te, Td, He, Hd, A] with sizes 1 and primes, so no loop can assume a multiple.
class AttentionShapes : public ::testing::TestWithParam<seqattn_attention_dims> {
 protected:
  seqattn::Handle handle_{SEQATTN_DEVICE_CPU_REFERENCE};
};

TEST_P(AttentionShapes, MatchesOracleWithAndWithoutLengths) {
  const AttentionProblem p(GetParam(), 11);
  const int B = p.d.batch;
  // Lengths cycle through 0, full and something between.
  std::vector<int32_t> enc(static_cast<size_t>(B)), dec(static_cast<size_t>(B));
  for (int b = 0; b < B; ++b) {
    enc[size_t(b)] = b % 3 == 0 ? p.d.enc_steps : b % 3 == 1 ? 0 : (p.d.enc_steps + 1) / 2;
    dec[size_t(b)] = b % 2 == 0 ? p.d.dec_steps : p.d.dec_steps / 2;
  }
  for (bool masked : {false, true}) {
    SCOPED_TRACE(masked ? "with lengths" : "NULL lengths");
    const int32_t* e = masked ? enc.data() : nullptr;
    const int32_t* t = masked ? dec.data() : nullptr;
    const oracle::Attention want =
        oracle::additive_attention(p.d, p.h, p.s, e, t, p.W, p.U, p.bias.data(), p.v);
    const Out one = run_one_phase(handle_.get(), p, e, t);
    EXPECT_TRUE(all_close(one.context, want.context, 1e-5, 1e-5, "context"));
    EXPECT_TRUE(all_close(one.weights, want.weights, 1e-6, 1e-5, "weights"));
    const Out two = run_two_phase(handle_.get(), p, e, t);
    EXPECT_TRUE(all_close(two.context, want.context, 1e-5, 1e-5, "two-phase context"));
    EXPECT_TRUE(all_close(two.weights, want.weights, 1e-6, 1e-5, "two-phase weights"));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Primes, AttentionShapes,
    ::testing::Values(seqattn_attention_dims{1, 1, 1, 1, 1, 1},   // everything 1
                      seqattn_attention_dims{1, 7, 13, 3, 5, 1},  // A = 1
                      seqattn_attention_dims{2, 13, 7, 31, 13, 7},
                      seqattn_attention_dims{3, 31, 2, 7, 31, 13},
                      seqattn_attention_dims{4, 1, 5, 13, 7, 31}),  // Te = 1
    [](const ::testing::TestParamInfo<seqattn_attention_dims>& param_info) {
      const seqattn_attention_dims& d = param_info.param;
      return "B" + std::to_string(d.batch) + "_Te" + std::to_string(d.enc_steps) + "_Td" +
             std::to_string(d.dec_steps) + "_He" + std::to_string(d.enc_dim) + "_Hd" +
             std::to_string(d.dec_dim) + "_A" + std::to_string(d.units);
    });

TEST_F(AdditiveAttention, WeightsSumToOneOverValidPositionsAndAreZeroElsewhere) {
  const AttentionProblem p({3, 13, 5, 7, 3, 11}, 21);
  const int32_t enc[3] = {13, 4, 1};
  const Out o = run_one_phase(h(), p, enc, nullptr);
  for (int b = 0; b < 3; ++b) {
    for (int t = 0; t < 5; ++t) {
      const float* row = o.weights.data() + (size_t(b) * 5 + size_t(t)) * 13;
      double sum = 0.0;
      for (int i = 0; i < enc[b]; ++i) {
        EXPECT_GT(row[i], 0.0f) << "b=" << b << " t=" << t << " i=" << i;
        sum += row[i];
      }
      EXPECT_NEAR(sum, 1.0, 1e-6) << "b=" << b << " t=" << t;
      for (int i = enc[b]; i < 13; ++i)
        EXPECT_EQ(row[i], 0.0f) << "masked b=" << b << " t=" << t << " i=" << i;
    }
  }
}

// Attention is a set operation over encoder positions: reordering them reorders
// the weights the same way and leaves the context as it was.
TEST_F(AdditiveAttention, PermutingEncoderPositionsPermutesWeightsOnly) {
  const AttentionProblem p({2, 7, 3, 5, 4, 6}, 31);
  const int Te = 7, He = 5, Td = 3;
  const int perm[7] = {3, 6, 0, 5, 1, 4, 2};  // new position i holds old position perm[i]
  AttentionProblem q = p;
  for (int b = 0; b < 2; ++b)
    for (int i = 0; i < Te; ++i)
      for (int k = 0; k < He; ++k)
        q.h[(size_t(b) * Te + size_t(i)) * He + size_t(k)] =
            p.h[(size_t(b) * Te + size_t(perm[i])) * He + size_t(k)];
  const Out a = run_one_phase(h(), p, nullptr, nullptr);
  const Out c = run_one_phase(h(), q, nullptr, nullptr);
  EXPECT_TRUE(all_close(c.context, std::vector<float>(a.context), 1e-6, 1e-5, "context"));
  std::vector<float> permuted(a.weights.size());
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < Td; ++t)
      for (int i = 0; i < Te; ++i)
        permuted[(size_t(b) * Td + size_t(t)) * Te + size_t(i)] =
            a.weights[(size_t(b) * Td + size_t(t)) * Te + size_t(perm[i])];
  EXPECT_TRUE(all_close(c.weights, permuted, 1e-7, 1e-5, "weights"));
}

TEST_F(AdditiveAttention, TwoPhaseEqualsOnePhase) {
  const AttentionProblem p({3, 11, 6, 9, 5, 8}, 41);
  const int32_t enc[3] = {11, 0, 6};
  const int32_t dec[3] = {2, 6, 0};
  for (bool with_bias : {true, false}) {
    SCOPED_TRACE(with_bias ? "bias" : "NULL bias");
    const Out one = run_one_phase(h(), p, enc, dec, with_bias);
    const Out two = run_two_phase(h(), p, enc, dec, with_bias);
    // Not bit-equal: the two-phase keys are rounded to float in between.
    EXPECT_TRUE(all_close(two.context, one.context, 1e-6, 1e-5, "context"));
    EXPECT_TRUE(all_close(two.weights, one.weights, 1e-7, 1e-5, "weights"));
  }
}

TEST_F(AdditiveAttention, DecoderRowsPastDecLengthsAreExactlyZero) {
  const AttentionProblem p({3, 5, 4, 3, 2, 4}, 51);
  const int32_t dec[3] = {0, 2, 4};
  for (bool two_phase : {false, true}) {
    const Out o =
        two_phase ? run_two_phase(h(), p, nullptr, dec) : run_one_phase(h(), p, nullptr, dec);
    for (int b = 0; b < 3; ++b)
      for (int t = dec[b]; t < 4; ++t) {
        for (int k = 0; k < 3; ++k)
          EXPECT_EQ(o.context[(size_t(b) * 4 + size_t(t)) * 3 + size_t(k)], 0.0f)
              << "context b=" << b << " t=" << t << " two_phase=" << two_phase;
        for (int i = 0; i < 5; ++i)
          EXPECT_EQ(o.weights[(size_t(b) * 4 + size_t(t)) * 5 + size_t(i)], 0.0f)
              << "weights b=" << b << " t=" << t << " two_phase=" << two_phase;
      }
    EXPECT_TRUE(all_finite(o.context, "context"));
  }
}

TEST_F(AdditiveAttention, EncoderLengthZeroGivesZerosNotNaN) {
  const AttentionProblem p({2, 4, 3, 5, 2, 3}, 61);
  const int32_t enc[2] = {0, 0};
  for (bool two_phase : {false, true}) {
    const Out o =
        two_phase ? run_two_phase(h(), p, enc, nullptr) : run_one_phase(h(), p, enc, nullptr);
    EXPECT_TRUE(all_equal(o.context, std::vector<float>(o.context.size(), 0.0f), "context"));
    EXPECT_TRUE(all_equal(o.weights, std::vector<float>(o.weights.size(), 0.0f), "weights"));
  }
}

// One encoder position: its weight is softmax of one score = 1, so the context
// is that encoder output exactly, whatever the parameters.
TEST_F(AdditiveAttention, SingleEncoderStepIsCopied) {
  const AttentionProblem p({2, 1, 3, 4, 3, 5}, 71);
  const Out o = run_one_phase(h(), p, nullptr, nullptr);
  EXPECT_TRUE(all_equal(o.weights, std::vector<float>(6, 1.0f), "weights"));
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 3; ++t)
      for (int k = 0; k < 4; ++k)
        EXPECT_FLOAT_EQ(o.context[(size_t(b) * 3 + size_t(t)) * 4 + size_t(k)],
                        p.h[size_t(b) * 4 + size_t(k)]);
}

TEST_F(AdditiveAttention, LargeMagnitudesStayFinite) {
  const AttentionProblem p({2, 13, 7, 5, 3, 7}, 81,
                           1e3f);  // scores up to ~7e3: exp needs the max shift
  const Out o = run_one_phase(h(), p, nullptr, nullptr);
  EXPECT_TRUE(all_finite(o.context, "context"));
  EXPECT_TRUE(all_finite(o.weights, "weights"));
  const oracle::Attention want =
      oracle::additive_attention(p.d, p.h, p.s, nullptr, nullptr, p.W, p.U, p.bias.data(), p.v);
  EXPECT_TRUE(all_close(o.context, want.context, 1e-3, 1e-5, "context"));
  EXPECT_TRUE(all_close(o.weights, want.weights, 1e-6, 1e-4, "weights"));
}

TEST_F(AdditiveAttention, NullWeightsOutGivesTheSameContext) {
  const AttentionProblem p({2, 6, 3, 4, 5, 3}, 91);
  const int32_t enc[2] = {6, 2};
  const Out full = run_one_phase(h(), p, enc, nullptr);
  std::vector<float> context = sentinels(p.context_size());
  ASSERT_EQ(seqattn_additive_attention_forward(h(), &p.d, p.h.data(), p.s.data(), enc, nullptr,
                                               p.W.data(), p.U.data(), p.bias.data(), p.v.data(),
                                               context.data(), nullptr),
            SEQATTN_OK);
  EXPECT_TRUE(all_equal(context, full.context, "context"));
}

TEST_F(AdditiveAttention, NullBiasEqualsZeroBias) {
  AttentionProblem p({2, 5, 3, 4, 3, 6}, 101);
  const Out without = run_one_phase(h(), p, nullptr, nullptr, false);
  std::fill(p.bias.begin(), p.bias.end(), 0.0f);
  const Out zero = run_one_phase(h(), p, nullptr, nullptr, true);
  EXPECT_TRUE(all_equal(without.context, zero.context, "context"));
  EXPECT_TRUE(all_equal(without.weights, zero.weights, "weights"));
}

}  // namespace
}  // namespace seqattn_test
