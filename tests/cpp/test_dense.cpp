// Dense through the C API on a CPU handle, all five activations.
#include "oracle.hpp"
#include "test_util.hpp"

namespace seqattn_test {
namespace {

using Dense = CpuTest;

const seqattn_activation kActivations[] = {SEQATTN_ACTIVATION_NONE, SEQATTN_ACTIVATION_TANH,
                                           SEQATTN_ACTIVATION_SIGMOID, SEQATTN_ACTIVATION_RELU,
                                           SEQATTN_ACTIVATION_SOFTMAX};

// rows=2, in=3, out=2:  x = [[1,-1,0.5],[0,2,-3]],  W = [[0.5,-1],[0.25,0.75],[1,-0.5]],
// b = [0.1,-0.2]  ->  x·W + b = [[0.5-0.25+0.5+0.1, -1-0.75-0.25-0.2], [0.5-3, 1.5+1.5-0.2]]
//                             = [[0.85, -2.2], [-2.4, 2.8]]
TEST_F(Dense, HandComputedAllActivations) {
  const std::vector<float> x{1, -1, 0.5f, 0, 2, -3}, W{0.5f, -1, 0.25f, 0.75f, 1, -0.5f},
      b{0.1f, -0.2f};
  const std::vector<double> want[5] = {
      {0.85, -2.2, -2.4, 2.8},                                  // none
      {0.69106947, -0.97574313, -0.983674858, 0.99263152},      // tanh
      {0.700567142, 0.0997504891, 0.0831726965, 0.942675824},   // 1 / (1 + exp(-v))
      {0.85, 0.0, 0.0, 2.8},                                    // max(v, 0)
      {0.954782527, 0.0452174735, 0.0054862989, 0.994513701}};  // exp(v) / Σ_row exp
  for (int a = 0; a < 5; ++a) {
    SCOPED_TRACE("activation " + std::to_string(a));
    std::vector<float> y = sentinels(4);
    ASSERT_EQ(seqattn_dense_forward(h(), 2, 3, 2, x.data(), W.data(), b.data(), kActivations[a],
                                    y.data()),
              SEQATTN_OK);
    EXPECT_TRUE(all_close(y, want[a], 1e-7, 1e-6, "y"));
  }
}

TEST_F(Dense, MatchesOracleOnPrimeShapes) {
  for (const auto& [rows, in, out] :
       {std::tuple{1, 1, 1}, std::tuple{7, 13, 31}, std::tuple{31, 7, 13}, std::tuple{13, 31, 1}}) {
    SCOPED_TRACE("rows=" + std::to_string(rows) + " in=" + std::to_string(in) +
                 " out=" + std::to_string(out));
    const std::vector<float> x = random_vector(size_t(rows * in), 1),
                             W = random_vector(size_t(in * out), 2),
                             b = random_vector(size_t(out), 3);
    for (seqattn_activation act : kActivations) {
      for (const float* bp : {static_cast<const float*>(nullptr), b.data()}) {
        std::vector<float> y = sentinels(size_t(rows * out));
        ASSERT_EQ(seqattn_dense_forward(h(), rows, in, out, x.data(), W.data(), bp, act, y.data()),
                  SEQATTN_OK);
        EXPECT_TRUE(all_close(y, oracle::dense(rows, in, out, x, W, bp, act), 1e-6, 1e-5, "y"))
            << "activation " << int(act) << (bp ? " with bias" : " no bias");
      }
    }
  }
}

TEST_F(Dense, SoftmaxRowsSumToOne) {
  const int rows = 13, in = 5, out = 7;
  const std::vector<float> x = random_vector(rows * in, 4, -3, 3),
                           W = random_vector(in * out, 5, -3, 3);
  std::vector<float> y = sentinels(rows * out);
  ASSERT_EQ(seqattn_dense_forward(h(), rows, in, out, x.data(), W.data(), nullptr,
                                  SEQATTN_ACTIVATION_SOFTMAX, y.data()),
            SEQATTN_OK);
  for (int r = 0; r < rows; ++r) {
    double sum = 0.0;
    for (int j = 0; j < out; ++j) {
      EXPECT_GE(y[size_t(r * out + j)], 0.0f);
      sum += y[size_t(r * out + j)];
    }
    EXPECT_NEAR(sum, 1.0, 1e-6) << "row " << r;
  }
}

// Softmax of values ~1e6 apart overflows exp unless the row maximum is subtracted.
TEST_F(Dense, LargeMagnitudesStayFinite) {
  const int rows = 7, in = 13, out = 5;
  const std::vector<float> x = random_vector(rows * in, 6, -1e3f, 1e3f),
                           W = random_vector(in * out, 7, -1e3f, 1e3f);
  for (seqattn_activation act : kActivations) {
    std::vector<float> y = sentinels(rows * out);
    ASSERT_EQ(seqattn_dense_forward(h(), rows, in, out, x.data(), W.data(), nullptr, act, y.data()),
              SEQATTN_OK);
    EXPECT_TRUE(all_finite(y, "y")) << "activation " << int(act);
    EXPECT_TRUE(all_close(y, oracle::dense(rows, in, out, x, W, nullptr, act), 1e-6, 1e-5, "y"))
        << "activation " << int(act);
  }
}

}  // namespace
}  // namespace seqattn_test
