// Dense — CPU reference:  y = act(x·W + b),  W [in, out]; softmax is over the
// last axis (each row of y).
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/reference.hpp"

namespace seqattn::cpu {

void dense(const DenseArgs& d) {
  const int64_t N = d.in_dim, M = d.out_dim;
  parallel_for(d.rows, d.rows * N * M > kParallelWork, [&](int64_t r) {
    std::vector<double> y(static_cast<size_t>(M));
    for (int64_t j = 0; j < M; ++j) y[size_t(j)] = d.b ? double(d.b[j]) : 0.0;
    for (int64_t k = 0; k < N; ++k) {
      const double xk = d.x[r * N + k];
      for (int64_t j = 0; j < M; ++j) y[size_t(j)] += xk * double(d.W[k * M + j]);
    }
    switch (d.activation) {
      case SEQATTN_ACTIVATION_NONE: break;
      case SEQATTN_ACTIVATION_TANH:
        for (double& v : y) v = std::tanh(v);
        break;
      case SEQATTN_ACTIVATION_SIGMOID:
        for (double& v : y) v = 1.0 / (1.0 + std::exp(-v));
        break;
      case SEQATTN_ACTIVATION_RELU:
        for (double& v : y) v = std::max(v, 0.0);
        break;
      case SEQATTN_ACTIVATION_SOFTMAX: softmax_inplace(y.data(), M); break;
    }
    for (int64_t j = 0; j < M; ++j) d.y[r * M + j] = float(y[size_t(j)]);
  });
}

}  // namespace seqattn::cpu
