// Dense and attention pooling on the fast CPU backend (the math: docs/math.md,
// "SimpleRNN and Dense", "Attention pooling").
//
// Dense is one OpenBLAS product over row blocks, each block's bias and
// activation applied by a SIMD pass while the block is still in cache.
// Pooling is memory-bound (each x[b] is read twice: energies, then the
// weighted sum), so it is SIMD dot products and axpys, threaded over the batch.
//
// Their backwards: Dense's is the activation's derivative from y, then three
// OpenBLAS products (dz·Wᵀ, xᵀ·dz) and a column sum; pooling's recomputes the
// energies' tanh and is again dot products and axpys over the batch, its
// parameter gradients summed from one partial per batch entry, in order.
#include <algorithm>
#include <cmath>
#include <memory>

#include "fast/gemm.hpp"
#include "fast/kernels.hpp"
#include "fast/ops.hpp"
#include "fast/parallel.hpp"

namespace seqattn::fast {

void dense(const DenseArgs& a) {
  const int64_t N = a.out_dim;
  gemm_rows(a.rows, N, a.in_dim, a.x, a.in_dim, a.W, N, a.y, N, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) bias_activation(a.y + r * N, a.b, size_t(N), a.activation);
  });
}

void attention_pooling(const PoolingArgs& p) {
  const int64_t B = p.dims.batch, T = p.dims.steps, F = p.dims.features;
  parallel_for(B, threads_for(2.0 * double(B) * double(T) * double(F), B), [&](int64_t b) {
    const int64_t L = p.lengths ? p.lengths[b] : T;
    const float* x = p.x + b * T * F;
    float* out = p.context_out + b * F;
    std::fill(out, out + F, 0.0f);
    // The weights row doubles as the scratch for the energies when it is given.
    float local[256];
    float* e = p.weights_out ? p.weights_out + b * T : (T <= 256 ? local : nullptr);
    std::unique_ptr<float[]> heap;
    if (!e) {
      heap.reset(new float[size_t(T)]);
      e = heap.get();
    }
    for (int64_t t = 0; t < L; ++t)
      e[t] = std::tanh(dot(x + t * F, p.w, size_t(F)) + (p.b ? p.b[t] : 0.0f));
    if (L > 0) softmax(e, size_t(L));
    for (int64_t t = 0; t < L; ++t) axpy(e[t], x + t * F, out, size_t(F));
    if (p.weights_out) std::fill(p.weights_out + b * T + L, p.weights_out + (b + 1) * T, 0.0f);
  });
}

// Scratch: kGrad0 dz [rows, out] (d_y itself for NONE).
void dense_backward(const DenseBackwardArgs& a, Workspace& ws) {
  const int64_t rows = a.rows, K = a.in_dim, N = a.out_dim;
  const float* dz = a.d_y;
  if (a.activation != SEQATTN_ACTIVATION_NONE) {
    float* g = ws.get(Workspace::kGrad0, size_t(rows * N));
    parallel_for(rows, threads_for(4.0 * double(rows) * double(N), rows), [&](int64_t r) {
      const float* y = a.y + r * N;
      const float* dy = a.d_y + r * N;
      float* out = g + r * N;
      switch (a.activation) {
        case SEQATTN_ACTIVATION_TANH:
          for (int64_t j = 0; j < N; ++j) out[j] = dy[j] * (1.0f - y[j] * y[j]);
          break;
        case SEQATTN_ACTIVATION_SIGMOID:
          for (int64_t j = 0; j < N; ++j) out[j] = dy[j] * y[j] * (1.0f - y[j]);
          break;
        case SEQATTN_ACTIVATION_RELU:  // y > 0 exactly where the input was
          for (int64_t j = 0; j < N; ++j) out[j] = y[j] > 0.0f ? dy[j] : 0.0f;
          break;
        case SEQATTN_ACTIVATION_SOFTMAX: {
          const float s = dot(y, dy, size_t(N));
          for (int64_t j = 0; j < N; ++j) out[j] = y[j] * (dy[j] - s);
          break;
        }
        default: break;
      }
    });
    dz = g;
  }
  gemm_t_rows(false, true, rows, K, N, dz, N, a.W, N, a.d_x, K);
  gemm_t_rows(true, false, K, N, rows, a.x, K, dz, N, a.d_W, N);
  if (a.d_b) {
    std::fill(a.d_b, a.d_b + N, 0.0f);
    for (int64_t r = 0; r < rows; ++r) axpy(1.0f, dz + r * N, a.d_b, size_t(N));
  }
}

// Scratch: kGrad0 dz [B, T] (0 beyond each length); kGrad1 d_w partials [B, F].
void attention_pooling_backward(const PoolingBackwardArgs& p, Workspace& ws) {
  const int64_t B = p.dims.batch, T = p.dims.steps, F = p.dims.features;
  float* dz_all = ws.get(Workspace::kGrad0, size_t(B * T));
  float* dw_parts = ws.get(Workspace::kGrad1, size_t(B * F));
  parallel_for(B, threads_for(4.0 * double(B) * double(T) * double(F), B), [&](int64_t b) {
    const int64_t L = p.lengths ? p.lengths[b] : T;
    const float* x = p.x + b * T * F;
    const float* a = p.weights + b * T;
    const float* dctx = p.d_context + b * F;
    float* dz = dz_all + b * T;
    float* dx = p.d_x + b * T * F;
    float* dw = dw_parts + b * F;
    // da = d_context·xᵀ + d_weights, held in dz until the softmax's Jacobian.
    float s = 0.0f;
    for (int64_t t = 0; t < L; ++t) {
      dz[t] = dot(dctx, x + t * F, size_t(F)) + (p.d_weights ? p.d_weights[b * T + t] : 0.0f);
      s += a[t] * dz[t];
    }
    std::fill(dw, dw + F, 0.0f);
    for (int64_t t = 0; t < L; ++t) {
      // The forward's energy, recomputed: e = tanh(x·w + b).
      const float e = std::tanh(dot(x + t * F, p.w, size_t(F)) + (p.b ? p.b[t] : 0.0f));
      dz[t] = a[t] * (dz[t] - s) * (1.0f - e * e);
      float* dxt = dx + t * F;
      for (int64_t f = 0; f < F; ++f) dxt[f] = a[t] * dctx[f] + dz[t] * p.w[f];
      axpy(dz[t], x + t * F, dw, size_t(F));
    }
    std::fill(dz + L, dz + T, 0.0f);
    std::fill(dx + L * F, dx + T * F, 0.0f);
  });
  std::fill(p.d_w, p.d_w + F, 0.0f);
  for (int64_t b = 0; b < B; ++b) axpy(1.0f, dw_parts + b * F, p.d_w, size_t(F));
  if (p.d_b) {
    std::fill(p.d_b, p.d_b + T, 0.0f);
    for (int64_t b = 0; b < B; ++b) axpy(1.0f, dz_all + b * T, p.d_b, size_t(T));
  }
}

}  // namespace seqattn::fast
