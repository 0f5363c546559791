// Dense backward epilogues (seqattn.h, "backward passes"), run by
// src/cuda/dense.cpp before the cuBLAS products d_x = dz·Wᵀ and d_W = xᵀ·dz:
//
//   activation_backward:  dz = d_y ⊙ act'(y)       tanh: 1 − y², sigmoid: y(1 − y),
//                                                  relu: [y > 0], none: 1
//   softmax_backward:     dz[r,:] = y ⊙ (d_y − Σ_c y·d_y)
//   column_sums:          out[c] = Σ_r in[r, c]    (bias gradients of every backward)
//
// The derivatives are taken from the forward's output, so nothing is
// recomputed. All three are memory-bound passes. The softmax gives each row a
// warp, as the forward does. The column sum gives a block 32 columns, its
// warps strided over the rows, then one fixed-order fold through shared
// memory: deterministic, no atomics. Its parallelism is cols/32 blocks, enough
// for the bias widths of these layers (a bias gradient is a few KB; the
// products next to it dominate).
#include <algorithm>
#include <cmath>

#include "dense_backward.cuh"
#include "check.cuh"
#include "device_utils.cuh"

namespace seqattn::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int64_t kMaxBlocks = 65536;

__global__ void __launch_bounds__(kThreads)
    activation_backward_kernel(const float* __restrict__ y, const float* __restrict__ d_y,
                               float* __restrict__ dz, int64_t n, seqattn_activation act) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < n; idx += stride) {
    const float yv = y[idx], g = d_y[idx];
    float d;
    switch (act) {
      case SEQATTN_ACTIVATION_TANH: d = g * (1.0f - yv * yv); break;
      case SEQATTN_ACTIVATION_SIGMOID: d = g * yv * (1.0f - yv); break;
      case SEQATTN_ACTIVATION_RELU: d = yv > 0.0f ? g : 0.0f; break;
      default: d = g; break;
    }
    dz[idx] = d;
  }
}

__global__ void __launch_bounds__(kThreads)
    softmax_backward_kernel(const float* __restrict__ y, const float* __restrict__ d_y,
                            float* __restrict__ dz, int64_t rows, int32_t cols) {
  const int lane = int(threadIdx.x) % 32;
  const int64_t warps = int64_t(gridDim.x) * kWarps;
  for (int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32; r < rows; r += warps) {
    const float* yr = y + r * cols;
    const float* gr = d_y + r * cols;
    float s = 0.0f;
    for (int c = lane; c < cols; c += 32) s += yr[c] * gr[c];
    s = warp_sum(s);
    for (int c = lane; c < cols; c += 32) dz[r * cols + c] = yr[c] * (gr[c] - s);
  }
}

__global__ void __launch_bounds__(kThreads)
    column_sums_kernel(const float* __restrict__ in, int64_t rows, int32_t cols, int64_t ld,
                       float* __restrict__ out) {
  SEQATTN_SHARED(float[kWarps][32], partial);
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
  for (int c0 = int(blockIdx.x) * 32; c0 < cols; c0 += int(gridDim.x) * 32) {
    const int c = c0 + lane;
    float acc = 0.0f;
    if (c < cols)
      for (int64_t r = warp; r < rows; r += kWarps) acc += in[r * ld + c];
    partial[warp][lane] = acc;
    __syncthreads();
    if (warp == 0 && c < cols) {
      float total = 0.0f;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) total += partial[w][lane];
      out[c] = total;
    }
    __syncthreads();  // partial is rewritten for the next columns
  }
}

}  // namespace

void launch_activation_backward(const float* y, const float* d_y, float* dz, int64_t rows,
                                int32_t cols, seqattn_activation act, cudaStream_t stream) {
  const int64_t n = rows * cols;
  const int64_t blocks = std::min(ceil_div(n, kThreads), kMaxBlocks);
  SEQATTN_LAUNCH(activation_backward_kernel, unsigned(blocks), kThreads, 0, stream)(y, d_y, dz, n,
                                                                                  act);
  check_launch("activation backward kernel launch");
}

void launch_softmax_backward(const float* y, const float* d_y, float* dz, int64_t rows,
                             int32_t cols, cudaStream_t stream) {
  const int64_t blocks = std::min(ceil_div(rows, kWarps), kMaxBlocks);
  SEQATTN_LAUNCH(softmax_backward_kernel, unsigned(blocks), kThreads, 0, stream)(y, d_y, dz, rows,
                                                                               cols);
  check_launch("softmax backward kernel launch");
}

void launch_column_sums(const float* in, int64_t rows, int32_t cols, int64_t ld, float* out,
                        cudaStream_t stream) {
  const int64_t blocks = std::min(ceil_div(cols, 32), kMaxBlocks);
  SEQATTN_LAUNCH(column_sums_kernel, unsigned(blocks), kThreads, 0, stream)(in, rows, cols, ld, out);
  check_launch("column sums kernel launch");
}

}  // namespace seqattn::cuda
