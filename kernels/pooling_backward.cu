// Attention pooling backward (seqattn.h, "backward passes"), a block per
// batch row, from the forward's weights a:
//
//   da[t]     = d_context·x[b,t,:] + d_weights[b,t]
//   dz[t]     = a[t]·(da[t] − Σ_t a·da)·(1 − e[t]²)   e[t] = tanh(x[b,t,:]·w + bias[t])
//   d_x[b,t]  = a[t]·d_context[b] + dz[t]·w           0 for t >= L = lengths[b]
//   d_w_rows[b] = Σ_t dz[t]·x[b,t,:]                  (d_w and d_b: column sums after)
//
// e is recomputed with the precise tanhf, as the forward computes it. The two
// dot products of a step share one pass over x[b,t,:] (a warp per step, lanes
// along F, as the forward's scores); da and e go to global scratch [B, T]
// rather than shared memory, so any T runs without a second path (they are
// 2·T floats next to T·F of x). d_w_rows gives each thread its own features
// and loops over the steps: a fixed summation order, no atomics.
#include <cub/block/block_reduce.cuh>

#include <cmath>

#include "pooling_backward.cuh"
#include "check.cuh"
#include "device_utils.cuh"

namespace seqattn::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

__global__ void __launch_bounds__(kThreads)
    attention_pooling_backward_kernel(const PoolingBackwardParams p) {
  using BlockReduce = cub::BlockReduce<float, kThreads>;
  SEQATTN_SHARED(typename BlockReduce::TempStorage, reduce_storage);
  SEQATTN_SHARED(float, broadcast);

  const int T = p.steps, F = p.features;
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
  for (int b = int(blockIdx.x); b < p.batch; b += int(gridDim.x)) {
    const int L = p.lengths ? p.lengths[b] : T;
    const float* x_b = p.x + int64_t(b) * T * F;
    const float* dc = p.d_context + int64_t(b) * F;
    const float* a = p.weights + int64_t(b) * T;
    float* da = p.da + int64_t(b) * T;
    float* dz = p.dz + int64_t(b) * T;

    for (int t = warp; t < L; t += kWarps) {
      float dot_c = 0.0f, dot_w = 0.0f;
      for (int f = lane; f < F; f += 32) {
        const float xv = x_b[int64_t(t) * F + f];
        dot_c += xv * dc[f];
        dot_w += xv * p.w[f];
      }
      dot_c = warp_sum(dot_c);
      dot_w = warp_sum(dot_w);
      if (lane == 0) {
        da[t] = dot_c + (p.d_weights ? p.d_weights[int64_t(b) * T + t] : 0.0f);
        dz[t] = tanhf(dot_w + (p.b ? p.b[t] : 0.0f));  // e, until dz replaces it
      }
    }
    __syncthreads();

    float s = 0.0f;
    for (int t = int(threadIdx.x); t < L; t += kThreads) s += a[t] * da[t];
    s = BlockReduce(reduce_storage).Sum(s);
    if (threadIdx.x == 0) broadcast = s;
    __syncthreads();
    s = broadcast;
    for (int t = int(threadIdx.x); t < T; t += kThreads) {
      float g = 0.0f;
      if (t < L) {
        const float e = dz[t];
        g = a[t] * (da[t] - s) * (1.0f - e * e);
      }
      dz[t] = g;
    }
    __syncthreads();  // dz complete before every thread reads all of it

    float* dx_b = p.d_x + int64_t(b) * T * F;
    for (int t = warp; t < T; t += kWarps)
      for (int f = lane; f < F; f += 32)
        dx_b[int64_t(t) * F + f] = t < L ? a[t] * dc[f] + dz[t] * p.w[f] : 0.0f;
    for (int f = int(threadIdx.x); f < F; f += kThreads) {
      float acc = 0.0f;
      for (int t = 0; t < L; ++t) acc += dz[t] * x_b[int64_t(t) * F + f];
      p.d_w_rows[int64_t(b) * F + f] = acc;
    }
    // No barrier here: the next row writes only its own da and dz before its
    // first barrier, and broadcast and the reduction storage after it.
  }
}

}  // namespace

void launch_attention_pooling_backward(const PoolingBackwardParams& p, cudaStream_t stream) {
  SEQATTN_LAUNCH(attention_pooling_backward_kernel, unsigned(p.batch), kThreads, 0, stream)(p);
  check_launch("attention pooling backward kernel launch");
}

}  // namespace seqattn::cuda
