// Additive-attention backward: the softmax's row gradient and the fused
// tanh-recomputing pass (seqattn.h, "backward passes"). The products around
// them are cuBLAS (src/cuda/attention.cpp): dw = d_context·hᵀ before, and
// after, from d_keys and d_q, every parameter and input gradient.
//
//   row_grad:   de[b,t,i] = w·(dw − Σ_i w·dw)       dw = d_context·hᵀ + d_weights
//   backward:   th = tanh(keys[b,i,:] + q[b,t,:] + bias)
//               d_keys[b,i,:] = v ⊙ Σ_t de·(1 − th²)
//               d_q[b,t,:]    = v ⊙ Σ_i de·(1 − th²)
//               d_v_rows[b,i,:] = Σ_t de·th
//
// The forward kept only the weights, so th is recomputed: never stored, the
// memory stays O(B·Te·A + B·Td·A). The sums run over t for d_keys and over i
// for d_q; a single pass would have to reduce one of them across threads
// (atomics, whose float order is not deterministic, or partial sums of
// Te/tile times the size of d_q). Instead each direction is its own launch in
// which one warp owns an output row and its lanes 32 units: every output
// element is summed by one thread in a fixed order, with no shared memory, no
// barrier and no atomics — deterministic, at the price of computing each tanh
// twice. The 8 warps of a block take 8 rows of the same batch entry, so the
// rows they stream (q for the keys' direction, keys for the queries') are
// read from L1 once for the block.
//
// Math modes: PRECISE uses tanhf; FAST the forward's tanh.approx.f32
// (relative error at most 2^-11, kernels/device_utils.cuh), so FAST gradients
// carry the same bound per term as the forward's energies.
#include <algorithm>
#include <cmath>

#include "attention_backward.cuh"
#include "check.cuh"
#include "device_utils.cuh"

namespace seqattn::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int64_t kMaxBlocks = 65536;

__device__ __forceinline__ int enc_length(const int32_t* lengths, int b, int Te) {
  return lengths ? lengths[b] : Te;
}

__global__ void __launch_bounds__(kThreads) attention_row_grad_kernel(const AttentionRowGradParams p) {
  const int lane = int(threadIdx.x) % 32;
  const int Te = p.enc_steps, Td = p.dec_steps;
  const int64_t rows = int64_t(p.batch) * Td;
  const int64_t warps = int64_t(gridDim.x) * kWarps;
  for (int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32; r < rows; r += warps) {
    const int b = int(r / Td), t = int(r % Td);
    const int Le = enc_length(p.enc_lengths, b, Te);
    const int Ld = p.dec_lengths ? p.dec_lengths[b] : Td;
    float* g = p.grad + r * Te;
    if (t >= Ld || Le == 0) {  // the forward's zero rows: no gradient (uniform per warp)
      for (int i = lane; i < Te; i += 32) g[i] = 0.0f;
      continue;
    }
    const float* w = p.weights + r * Te;
    const float* dwt = p.d_weights ? p.d_weights + r * Te : nullptr;
    float s = 0.0f;
    for (int i = lane; i < Le; i += 32) {
      const float dw = g[i] + (dwt ? dwt[i] : 0.0f);
      g[i] = dw;
      s += w[i] * dw;
    }
    s = warp_sum(s);
    for (int i = lane; i < Te; i += 32) g[i] = i < Le ? w[i] * (g[i] - s) : 0.0f;
  }
}

// kKeys: a warp per key row (b, i), summing over t; else a warp per query
// row (b, t), summing over i. Blocks take kWarps consecutive rows of one b.
template <bool kFast, bool kKeys>
__global__ void __launch_bounds__(kThreads) attention_backward_kernel(const AttentionBackwardParams p) {
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
  const int Te = p.enc_steps, Td = p.dec_steps, A = p.units;
  const int rows = kKeys ? Te : Td;  // output rows per batch entry
  const int groups = int(ceil_div(rows, kWarps));
  const int64_t items = int64_t(p.batch) * groups;
  for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
    const int b = int(item / groups);
    const int row = int(item % groups) * kWarps + warp;
    if (row >= rows) continue;  // no barrier or shuffle below: a warp may leave
    const int Le = enc_length(p.enc_lengths, b, Te);
    const int Ld = p.dec_lengths ? p.dec_lengths[b] : Td;
    // The other index runs over the valid positions; an invalid output row
    // (or an empty other side) gets exact zeros.
    const bool valid = kKeys ? (row < Le && Ld > 0) : (row < Ld && Le > 0);
    const int others = valid ? (kKeys ? Ld : Le) : 0;
    float* out = (kKeys ? p.d_keys + (int64_t(b) * Te + row) * A
                        : p.d_queries + (int64_t(b) * Td + row) * A);
    float* dv_out = kKeys ? p.d_v_rows + (int64_t(b) * Te + row) * A : nullptr;
    // de[b, t, i]: along t the stride is Te, along i it is 1.
    const float* de = kKeys ? p.de + int64_t(b) * Td * Te + row : p.de + (int64_t(b) * Td + row) * Te;
    const int64_t de_stride = kKeys ? Te : 1;
    for (int a0 = 0; a0 < A; a0 += 32) {
      const int a = a0 + lane;
      if (a >= A) break;
      const float bias = p.bias ? p.bias[a] : 0.0f;
      // The row's own operand, with the bias folded in once.
      const float mine = kKeys ? p.keys[(int64_t(b) * Te + row) * p.keys_ld + a] + bias
                               : p.queries[(int64_t(b) * Td + row) * p.queries_ld + a] + bias;
      const float* other = kKeys ? p.queries + int64_t(b) * Td * p.queries_ld + a
                                 : p.keys + int64_t(b) * Te * p.keys_ld + a;
      const int64_t other_ld = kKeys ? p.queries_ld : p.keys_ld;
      float sech2 = 0.0f, dv = 0.0f;  // Σ de·(1 − th²), Σ de·th
#pragma unroll 4
      for (int m = 0; m < others; ++m) {
        const float th = tanh_mode<kFast>(mine + other[m * other_ld]);
        const float e = de[m * de_stride];
        sech2 += e - e * th * th;
        if (kKeys) dv += e * th;
      }
      out[a] = p.v[a] * sech2;
      if (kKeys) dv_out[a] = dv;
    }
  }
}

unsigned warp_blocks(int64_t rows) { return unsigned(std::min(ceil_div(rows, kWarps), kMaxBlocks)); }

void launch_both(const AttentionBackwardParams& p, bool fast_math, cudaStream_t stream) {
  const int64_t key_items = int64_t(p.batch) * ceil_div(p.enc_steps, kWarps);
  const int64_t query_items = int64_t(p.batch) * ceil_div(p.dec_steps, kWarps);
  const auto keys = fast_math ? attention_backward_kernel<true, true>
                              : attention_backward_kernel<false, true>;
  const auto queries = fast_math ? attention_backward_kernel<true, false>
                                 : attention_backward_kernel<false, false>;
  SEQATTN_LAUNCH(keys, unsigned(std::min(key_items, kMaxBlocks)), kThreads, 0, stream)(p);
  check_launch("attention backward kernel launch (keys)");
  SEQATTN_LAUNCH(queries, unsigned(std::min(query_items, kMaxBlocks)), kThreads, 0, stream)(p);
  check_launch("attention backward kernel launch (queries)");
}

}  // namespace

void launch_attention_row_grad(const AttentionRowGradParams& p, cudaStream_t stream) {
  SEQATTN_LAUNCH(attention_row_grad_kernel, warp_blocks(int64_t(p.batch) * p.dec_steps), kThreads,
                 0, stream)(p);
  check_launch("attention row gradient kernel launch");
}

void launch_attention_backward(const AttentionBackwardParams& p, bool fast_math,
                               cudaStream_t stream) {
  launch_both(p, fast_math, stream);
}

}  // namespace seqattn::cuda
