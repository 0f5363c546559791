// Dense and attention pooling on the fast CPU backend (the math: docs/math.md,
// "SimpleRNN and Dense", "Attention pooling").
//
// Dense is one OpenBLAS product over row blocks, each block's bias and
// activation applied by a SIMD pass while the block is still in cache.
// Pooling is memory-bound (each x[b] is read twice: energies, then the
// weighted sum), so it is SIMD dot products and axpys, threaded over the batch.
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

}  // namespace seqattn::fast
