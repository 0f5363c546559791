// Attention pooling over one sequence (the layer after a SimpleRNN) — CPU reference.
//
//   e[b,t]  = tanh(x[b,t,:]·w + b[t])       t < lengths[b]
//   a[b,:]  = softmax_t e[b,:]              0 for masked t
//   out[b]  = Σ_t a[b,t]·x[b,t,:]           [B, F]
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/reference.hpp"

namespace seqattn::cpu {

void attention_pooling(const PoolingArgs& p) {
  const int64_t B = p.dims.batch, T = p.dims.steps, F = p.dims.features;
  parallel_for(B, B * T * F > kParallelWork, [&](int64_t b) {
    const int64_t L = p.lengths ? p.lengths[b] : T;
    std::vector<double> e(size_t(T), 0.0);
    for (int64_t t = 0; t < L; ++t) {
      double acc = p.b ? double(p.b[t]) : 0.0;
      for (int64_t f = 0; f < F; ++f) acc += double(p.x[(b * T + t) * F + f]) * double(p.w[f]);
      e[size_t(t)] = std::tanh(acc);
    }
    softmax_inplace(e.data(), L);
    for (int64_t f = 0; f < F; ++f) {
      double acc = 0.0;
      for (int64_t t = 0; t < L; ++t) acc += e[size_t(t)] * double(p.x[(b * T + t) * F + f]);
      p.context_out[b * F + f] = float(acc);
    }
    if (p.weights_out)
      for (int64_t t = 0; t < T; ++t) p.weights_out[b * T + t] = t < L ? float(e[size_t(t)]) : 0.0f;
  });
}

}  // namespace seqattn::cpu
