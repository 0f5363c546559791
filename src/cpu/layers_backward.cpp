// Backward of attention pooling and Dense — CPU reference.
//
// Pooling, from the forward's weights a (e = tanh(x·w + b) recomputed):
//   da[t]    = d_context[b,:]·x[b,t,:] + d_weights[b,t]          t < L
//   dz[t]    = a[t]·(da[t] − Σ_u a[u]·da[u])·(1 − e[t]²)
//   d_x[b,t] = a[t]·d_context[b,:] + dz[t]·w,   d_w = Σ dz·x,   d_b[t] = Σ_b dz[t]
// Dense, from the forward's output y:
//   dz = d_y ⊙ act'(y)   (tanh 1 − y², sigmoid y·(1 − y), relu [y > 0],
//                         softmax y ⊙ (d_y − Σ_j y·d_y) per row)
//   d_x = dz·Wᵀ,  d_W = xᵀ·dz,  d_b = Σ_rows dz
#include <cmath>
#include <vector>

#include "cpu/reference.hpp"

namespace seqattn::cpu {

void attention_pooling_backward(const PoolingBackwardArgs& p) {
  const int64_t B = p.dims.batch, T = p.dims.steps, F = p.dims.features;
  // dz of every (b, t), zero where masked: d_w and d_b sum it over the batch
  // in order below, so the result does not depend on the threads.
  std::vector<double> dz(size_t(B * T), 0.0);
  parallel_for(B, B * T * F > kParallelWork, [&](int64_t b) {
    const int64_t L = p.lengths ? p.lengths[b] : T;
    const float* dct = p.d_context + b * F;
    const float* a = p.weights + b * T;
    std::vector<double> da(size_t(T), 0.0), e(size_t(T), 0.0);
    double ada = 0.0;
    for (int64_t t = 0; t < L; ++t) {
      const float* xt = p.x + (b * T + t) * F;
      double z = p.b ? double(p.b[t]) : 0.0, acc = p.d_weights ? double(p.d_weights[b * T + t]) : 0.0;
      for (int64_t f = 0; f < F; ++f) {
        z += double(xt[f]) * double(p.w[f]);
        acc += double(dct[f]) * double(xt[f]);
      }
      e[size_t(t)] = std::tanh(z);
      da[size_t(t)] = acc;
      ada += double(a[t]) * acc;
    }
    for (int64_t t = 0; t < T; ++t) {
      float* dxt = p.d_x + (b * T + t) * F;
      if (t >= L) {
        for (int64_t f = 0; f < F; ++f) dxt[f] = 0.0f;
        continue;
      }
      const double et = e[size_t(t)];
      const double g = double(a[t]) * (da[size_t(t)] - ada) * (1.0 - et * et);
      dz[size_t(b * T + t)] = g;
      for (int64_t f = 0; f < F; ++f)
        dxt[f] = float(double(a[t]) * double(dct[f]) + g * double(p.w[f]));
    }
  });
  std::vector<double> dw(size_t(F), 0.0);
  for (int64_t r = 0; r < B * T; ++r) {
    const double g = dz[size_t(r)];
    for (int64_t f = 0; f < F; ++f) dw[size_t(f)] += g * double(p.x[r * F + f]);
  }
  for (int64_t f = 0; f < F; ++f) p.d_w[f] = float(dw[size_t(f)]);
  if (p.d_b) {
    for (int64_t t = 0; t < T; ++t) {
      double acc = 0.0;
      for (int64_t b = 0; b < B; ++b) acc += dz[size_t(b * T + t)];
      p.d_b[t] = float(acc);
    }
  }
}

void dense_backward(const DenseBackwardArgs& d) {
  const int64_t rows = d.rows, N = d.in_dim, M = d.out_dim;
  std::vector<double> dz(static_cast<size_t>(rows * M));
  parallel_for(rows, rows * M > kParallelWork, [&](int64_t r) {
    const float* y = d.y + r * M;
    const float* dy = d.d_y + r * M;
    double* g = dz.data() + r * M;
    double ydy = 0.0;
    if (d.activation == SEQATTN_ACTIVATION_SOFTMAX)
      for (int64_t j = 0; j < M; ++j) ydy += double(y[j]) * double(dy[j]);
    for (int64_t j = 0; j < M; ++j) {
      const double yj = y[j], dyj = dy[j];
      switch (d.activation) {
        case SEQATTN_ACTIVATION_NONE: g[j] = dyj; break;
        case SEQATTN_ACTIVATION_TANH: g[j] = dyj * (1.0 - yj * yj); break;
        case SEQATTN_ACTIVATION_SIGMOID: g[j] = dyj * yj * (1.0 - yj); break;
        case SEQATTN_ACTIVATION_RELU: g[j] = yj > 0.0 ? dyj : 0.0; break;
        case SEQATTN_ACTIVATION_SOFTMAX: g[j] = yj * (dyj - ydy); break;
      }
    }
  });
  input_gradient(dz.data(), d.W, rows, N, M, nullptr, d.d_x);
  weight_gradient(d.x, dz.data(), rows, N, M, d.d_W);
  if (d.d_b) {
    std::vector<double> db(size_t(M), 0.0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < M; ++j) db[size_t(j)] += dz[size_t(r * M + j)];
    for (int64_t j = 0; j < M; ++j) d.d_b[j] = float(db[size_t(j)]);
  }
}

}  // namespace seqattn::cpu
