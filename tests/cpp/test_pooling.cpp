// Attention pooling through the C API on a CPU handle.
#include "oracle.hpp"
#include "test_util.hpp"

namespace seqattn_test {
namespace {

using AttentionPooling = CpuTest;

// B=1, T=3, F=2:  x = [[1,2],[0,-1],[0.5,0.5]],  w = [0.5,-0.25],  b = [0, 0.1, -0.1]
//   e = tanh(x·w + b) = [tanh(0), tanh(0.35), tanh(0.025)]
//   a = softmax(e),  out = Σ_t a[t]·x[t]
TEST_F(AttentionPooling, HandComputedCase) {
  const seqattn_pooling_dims d{1, 3, 2};
  const std::vector<float> x{1, 2, 0, -1, 0.5f, 0.5f}, w{0.5f, -0.25f}, b{0, 0.1f, -0.1f};
  std::vector<float> out = sentinels(2), a = sentinels(3);
  ASSERT_EQ(seqattn_attention_pooling_forward(h(), &d, x.data(), nullptr, w.data(), b.data(),
                                              out.data(), a.data()),
            SEQATTN_OK);
  EXPECT_TRUE(all_close(a, std::vector<double>{0.291955935, 0.408698789, 0.299345276}, 1e-7, 1e-6,
                        "weights"));
  EXPECT_TRUE(all_close(out, std::vector<double>{0.441628573, 0.324885719}, 1e-7, 1e-6, "out"));

  // lengths = [2]: a = softmax([tanh(0), tanh(0.35)]), out = a[0]·[1,2] + a[1]·[0,-1]
  const int32_t len[1] = {2};
  ASSERT_EQ(seqattn_attention_pooling_forward(h(), &d, x.data(), len, w.data(), b.data(),
                                              out.data(), a.data()),
            SEQATTN_OK);
  EXPECT_TRUE(all_close(a, std::vector<double>{0.416690168, 0.583309832, 0.0}, 1e-7, 1e-6,
                        "masked weights"));
  EXPECT_EQ(a[2], 0.0f);
  EXPECT_TRUE(
      all_close(out, std::vector<double>{0.416690168, 0.250070505}, 1e-7, 1e-6, "masked out"));
}

TEST_F(AttentionPooling, MatchesOracleOnPrimeShapesWithLengths) {
  for (const seqattn_pooling_dims d :
       {seqattn_pooling_dims{1, 1, 1}, seqattn_pooling_dims{2, 7, 13},
        seqattn_pooling_dims{5, 31, 7}, seqattn_pooling_dims{3, 13, 1}}) {
    SCOPED_TRACE("B=" + std::to_string(d.batch) + " T=" + std::to_string(d.steps) +
                 " F=" + std::to_string(d.features));
    const size_t B = size_t(d.batch), T = size_t(d.steps), F = size_t(d.features);
    const std::vector<float> x = random_vector(B * T * F, 5), w = random_vector(F, 6),
                             b = random_vector(T, 7);
    std::vector<int32_t> len(B);
    for (size_t i = 0; i < B; ++i)
      len[i] = int32_t(i % 3 == 1 ? 0 : (i % 3 == 2 ? (T + 1) / 2 : T));
    for (const int32_t* lp :
         {static_cast<const int32_t*>(nullptr), static_cast<const int32_t*>(len.data())}) {
      for (const float* bp : {static_cast<const float*>(nullptr), b.data()}) {
        const oracle::Pooling want = oracle::attention_pooling(d, x, lp, w, bp);
        std::vector<float> out = sentinels(B * F), a = sentinels(B * T);
        ASSERT_EQ(seqattn_attention_pooling_forward(h(), &d, x.data(), lp, w.data(), bp, out.data(),
                                                    a.data()),
                  SEQATTN_OK);
        EXPECT_TRUE(all_close(out, want.context, 1e-6, 1e-5, "out"));
        EXPECT_TRUE(all_close(a, want.weights, 1e-7, 1e-5, "weights"));
      }
    }
  }
}

TEST_F(AttentionPooling, WeightsSumToOneAndLengthZeroGivesZeros) {
  const seqattn_pooling_dims d{3, 6, 4};
  const std::vector<float> x = random_vector(72, 8), w = random_vector(4, 9);
  const int32_t len[3] = {6, 0, 1};
  std::vector<float> out = sentinels(12), a = sentinels(18);
  ASSERT_EQ(seqattn_attention_pooling_forward(h(), &d, x.data(), len, w.data(), nullptr, out.data(),
                                              a.data()),
            SEQATTN_OK);
  for (int b = 0; b < 3; ++b) {
    double sum = 0.0;
    for (int t = 0; t < 6; ++t) {
      const float at = a[size_t(b) * 6 + size_t(t)];
      if (t < len[b]) {
        sum += at;
      } else {
        EXPECT_EQ(at, 0.0f) << "b=" << b << " t=" << t;
      }
    }
    EXPECT_NEAR(sum, len[b] > 0 ? 1.0 : 0.0, 1e-6) << "b=" << b;
  }
  for (int f = 0; f < 4; ++f) EXPECT_EQ(out[4 + size_t(f)], 0.0f) << "length 0 row, f=" << f;
  // Length 1: all weight on step 0, the output is x[b,0,:] itself.
  EXPECT_EQ(a[12], 1.0f);
  for (int f = 0; f < 4; ++f) EXPECT_FLOAT_EQ(out[8 + size_t(f)], x[size_t(2 * 6 * 4 + f)]);
}

TEST_F(AttentionPooling, LargeMagnitudesStayFinite) {
  const seqattn_pooling_dims d{2, 13, 7};
  const std::vector<float> x = random_vector(182, 10, -1e3f, 1e3f),
                           w = random_vector(7, 11, -1e3f, 1e3f);
  std::vector<float> out = sentinels(14), a = sentinels(26);
  ASSERT_EQ(seqattn_attention_pooling_forward(h(), &d, x.data(), nullptr, w.data(), nullptr,
                                              out.data(), a.data()),
            SEQATTN_OK);
  EXPECT_TRUE(all_finite(out, "out"));
  EXPECT_TRUE(all_finite(a, "weights"));
  const oracle::Pooling want = oracle::attention_pooling(d, x, nullptr, w, nullptr);
  EXPECT_TRUE(all_close(out, want.context, 1e-3, 1e-5, "out"));
}

TEST_F(AttentionPooling, NullWeightsOutGivesTheSameContext) {
  const seqattn_pooling_dims d{2, 5, 3};
  const std::vector<float> x = random_vector(30, 12), w = random_vector(3, 13);
  std::vector<float> with = sentinels(6), without = sentinels(6), a = sentinels(10);
  ASSERT_EQ(seqattn_attention_pooling_forward(h(), &d, x.data(), nullptr, w.data(), nullptr,
                                              with.data(), a.data()),
            SEQATTN_OK);
  ASSERT_EQ(seqattn_attention_pooling_forward(h(), &d, x.data(), nullptr, w.data(), nullptr,
                                              without.data(), nullptr),
            SEQATTN_OK);
  EXPECT_TRUE(all_equal(without, with, "out"));
}

}  // namespace
}  // namespace seqattn_test
