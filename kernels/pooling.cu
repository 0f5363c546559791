// Attention pooling over one sequence (the layer after a SimpleRNN): score,
// masked softmax and weighted sum in one kernel, a block per batch row.
//
//   e[b,t]  = tanh(x[b,t,:]·w + bias[t])      t < L = lengths[b]
//   a[b,:]  = softmax_t e[b,:]                0 for t >= L
//   out[b]  = Σ_t a[b,t]·x[b,t,:]             x [B, T, F], w [F], bias [T], out [B, F]
//
// A row of length 0 gives zeros. One tanh per (b, t) against F multiply-adds:
// the kernel is bound by reading x (twice: once for the scores, once for the
// sum, the second mostly from L2), so it uses the precise tanhf/expf in both
// math modes — the fast approximations would buy nothing here.
// Scores: a warp per step, lanes along F for coalesced reads, kept in shared
// memory (global scratch for very long rows). Softmax: CUB block reductions.
// Weighted sum: lanes along F, the 8 warps splitting the steps, partial sums
// combined through shared memory, so any F from 1 up keeps all warps busy.
#include <cub/block/block_reduce.cuh>

#include <climits>
#include <cmath>

#include "pooling.cuh"
#include "check.cuh"
#include "device_utils.cuh"

namespace seqattn::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxSharedSteps = 10 * 1024;  // 40 KB of scores, under the 48 KB default

// The block maximum's operator. A functor of our own rather than CCCL's
// ::cuda::maximum<> (new in late 2024) or cub::Max (deprecated since), so the
// kernel compiles with every CUDA 12.x and 13.x toolkit.
struct MaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

__global__ void __launch_bounds__(kThreads)
    attention_pooling_kernel(const PoolingParams p, bool scores_shared) {
  using BlockReduce = cub::BlockReduce<float, kThreads>;
  SEQATTN_SHARED(typename BlockReduce::TempStorage, reduce_storage);
  SEQATTN_SHARED(float, broadcast);
  SEQATTN_SHARED(float[kWarps][32], partial);
  SEQATTN_DYNAMIC_SHARED(float, shared_scores);

  const int T = p.steps, F = p.features;
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
  for (int b = int(blockIdx.x); b < p.batch; b += int(gridDim.x)) {
    const int L = p.lengths ? p.lengths[b] : T;
    const float* x_b = p.x + int64_t(b) * T * F;
    float* e = scores_shared ? shared_scores : p.scores + int64_t(b) * T;

    for (int t = warp; t < L; t += kWarps) {
      float dot = 0.0f;
      for (int f = lane; f < F; f += 32) dot += x_b[int64_t(t) * F + f] * p.w[f];
      dot = warp_sum(dot);
      if (lane == 0) e[t] = tanhf(dot + (p.b ? p.b[t] : 0.0f));
    }
    __syncthreads();

    float m = -INFINITY;
    for (int t = int(threadIdx.x); t < L; t += kThreads) m = fmaxf(m, e[t]);
    m = BlockReduce(reduce_storage).Reduce(m, MaxOp{});
    if (threadIdx.x == 0) broadcast = m;
    __syncthreads();
    m = broadcast;
    float sum = 0.0f;
    for (int t = int(threadIdx.x); t < L; t += kThreads) {
      const float x = expf(e[t] - m);
      e[t] = x;
      sum += x;
    }
    __syncthreads();  // reduce_storage and broadcast are reused
    sum = BlockReduce(reduce_storage).Sum(sum);
    if (threadIdx.x == 0) broadcast = sum;
    __syncthreads();
    const float inv = L > 0 ? 1.0f / broadcast : 0.0f;  // sum >= 1 when L > 0
    for (int t = int(threadIdx.x); t < T; t += kThreads) {
      const float a = t < L ? e[t] * inv : 0.0f;
      if (t < L) e[t] = a;
      if (p.weights) p.weights[int64_t(b) * T + t] = a;
    }
    __syncthreads();

    for (int f0 = 0; f0 < F; f0 += 32) {
      const int f = f0 + lane;
      float acc = 0.0f;
      if (f < F)
        for (int t = warp; t < L; t += kWarps) acc += e[t] * x_b[int64_t(t) * F + f];
      partial[warp][lane] = acc;
      __syncthreads();
      if (warp == 0 && f < F) {
        float total = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) total += partial[w][lane];
        p.context[int64_t(b) * F + f] = total;
      }
      __syncthreads();
    }
  }
}

}  // namespace

int64_t pooling_scratch_floats(int32_t batch, int32_t steps) {
  return steps <= kMaxSharedSteps ? 0 : int64_t(batch) * steps;
}

void launch_attention_pooling(const PoolingParams& p, cudaStream_t stream) {
  const bool scores_shared = pooling_scratch_floats(p.batch, p.steps) == 0;
  if (!scores_shared && !p.scores)
    launch_fail(SEQATTN_ERROR_INTERNAL, "pooling: score scratch missing");
  const size_t smem = scores_shared ? sizeof(float) * size_t(p.steps) : 0;
  SEQATTN_LAUNCH(attention_pooling_kernel, unsigned(p.batch), kThreads, smem, stream)(p, scores_shared);
  check_launch("attention pooling kernel launch");
}

}  // namespace seqattn::cuda
