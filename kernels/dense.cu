// Dense epilogues: y = act(x·W + b), W [in, out], after cuBLAS has written
// x·W into y [rows, out] (src/cuda/dense.cpp).
//
//   bias_activation:  y[r,c] = act(y[r,c] + b[c])     act: none, tanh, sigmoid, relu
//   softmax_rows:     y[r,:] = softmax(y[r,:] + b)    over the last axis
//
// Both are memory-bound passes over y, so they use the precise tanhf/expf in
// both math modes. The elementwise pass is a grid-stride loop with 64-bit
// indices (rows·out may pass 2^31). The softmax gives each row a warp —
// enough for the usual widths (a vocabulary of 32k is 1000 loads per lane,
// from L2) while keeping every reduction a shuffle, no shared memory.
#include <algorithm>
#include <climits>
#include <cmath>

#include "dense.cuh"
#include "check.cuh"
#include "device_utils.cuh"

namespace seqattn::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 65536;  // grid-stride beyond: plenty to fill any GPU

__global__ void __launch_bounds__(kThreads)
    bias_activation_kernel(float* __restrict__ y, int64_t rows, int32_t cols,
                           const float* __restrict__ bias, seqattn_activation act) {
  const int64_t n = rows * cols;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < n; idx += stride) {
    float v = y[idx];
    if (bias) v += bias[idx % cols];
    switch (act) {
      case SEQATTN_ACTIVATION_TANH: v = tanhf(v); break;
      case SEQATTN_ACTIVATION_SIGMOID: v = 1.0f / (1.0f + expf(-v)); break;
      case SEQATTN_ACTIVATION_RELU: v = fmaxf(v, 0.0f); break;
      default: break;
    }
    y[idx] = v;
  }
}

__global__ void __launch_bounds__(kThreads)
    softmax_rows_kernel(float* __restrict__ y, int64_t rows, int32_t cols,
                        const float* __restrict__ bias) {
  const int lane = int(threadIdx.x) % 32;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t r = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32; r < rows; r += warps) {
    float* row = y + r * cols;
    float m = -INFINITY;
    for (int c = lane; c < cols; c += 32) {
      const float v = row[c] + (bias ? bias[c] : 0.0f);
      row[c] = v;
      m = fmaxf(m, v);
    }
    m = warp_max(m);
    float sum = 0.0f;
    for (int c = lane; c < cols; c += 32) {
      const float e = expf(row[c] - m);
      row[c] = e;
      sum += e;
    }
    const float inv = 1.0f / warp_sum(sum);  // >= 1: the maximum contributes exp(0)
    for (int c = lane; c < cols; c += 32) row[c] *= inv;
  }
}

}  // namespace

void launch_bias_activation(float* y, int64_t rows, int32_t cols, const float* bias,
                            seqattn_activation act, cudaStream_t stream) {
  const int64_t blocks = std::min(ceil_div(rows * cols, kThreads), kMaxBlocks);
  SEQATTN_LAUNCH(bias_activation_kernel, unsigned(blocks), kThreads, 0, stream)(y, rows, cols,
                                                                              bias, act);
  check_launch("bias/activation kernel launch");
}

void launch_softmax_rows(float* y, int64_t rows, int32_t cols, const float* bias,
                         cudaStream_t stream) {
  const int64_t blocks = std::min(ceil_div(rows, kThreads / 32), kMaxBlocks);
  SEQATTN_LAUNCH(softmax_rows_kernel, unsigned(blocks), kThreads, 0, stream)(y, rows, cols, bias);
  check_launch("row softmax kernel launch");
}

}  // namespace seqattn::cuda
