// The fused gate kernels of one recurrent step (GRU, both Keras variants, and
// SimpleRNN). The matrix products are cuBLAS (src/cuda/rnn.cpp): the input
// projections of every step in one GEMM before the loop, xproj = x·kernel
// [B, T, G·H]; per step the recurrent GEMM hproj = h·recurrent_kernel [B, G·H].
// The kernels add the biases and apply the gates, an element (b, j) per thread:
//
//   reset-after:   z = σ(xz + bxz + hz + bhz);  r = σ(xr + bxr + hr + bhr)
//                  c = tanh(xh + bxh + r⊙(hh + bhh))
//   reset-before:  r⊙h comes first (launch_gru_reset_gate), then hh = (r⊙h)·Rh is
//                  a second GEMM, then z = σ(xz + bz + hz); c = tanh(xh + bh + hh)
//   both GRUs:     h' = z⊙h + (1−z)⊙c
//   SimpleRNN:     h' = tanh(x·K + b + h·R)
//
// Step `step` of batch row b is the time index t = step (t = L−1−step under
// REVERSE) when step < L = lengths[b]; otherwise the row is finished: its
// state stays and nothing is written (the host zeroed its outputs beforehand).
// Per step the work is B·H elements next to a B×H×G·H GEMM, so the kernels are
// bound by latency and memory, not by tanh: they use the precise tanhf/expf
// in both math modes.
#include <algorithm>
#include <cmath>

#include "rnn.cuh"
#include "check.cuh"
#include "device_utils.cuh"

namespace seqattn::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 65536;

__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

// The time index of this step for row b, or -1 when the row has finished.
__device__ __forceinline__ int step_time(const RnnStepParams& p, int b) {
  const int L = p.lengths ? p.lengths[b] : p.steps;
  if (p.step >= L) return -1;
  return p.reverse ? L - 1 - p.step : p.step;
}

__device__ __forceinline__ float bias_at(const float* bias, int64_t k) {
  return bias ? bias[k] : 0.0f;
}

__global__ void __launch_bounds__(kThreads) gru_reset_gate_kernel(const RnnStepParams p) {
  const int64_t H = p.units, GH = 3 * H, n = int64_t(p.batch) * H;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < n; idx += stride) {
    const int b = int(idx / H);
    const int64_t j = idx % H;
    const int t = step_time(p, b);
    if (t < 0) {
      p.reset_h[idx] = 0.0f;  // the GEMM still reads this row; keep it finite
      continue;
    }
    const float* x = p.xproj + (int64_t(b) * p.steps + t) * GH;
    const float* hp = p.hproj + int64_t(b) * GH;
    const float r = sigmoid(x[H + j] + bias_at(p.bias_x, H + j) + hp[H + j]);
    p.reset_h[idx] = r * p.h[idx];
  }
}

__global__ void __launch_bounds__(kThreads) rnn_step_kernel(const RnnStepParams p) {
  const int64_t H = p.units, n = int64_t(p.batch) * H;
  const int64_t GH = p.cell == RnnStepCell::kSimple ? H : 3 * H;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < n; idx += stride) {
    const int b = int(idx / H);
    const int64_t j = idx % H;
    const int t = step_time(p, b);
    if (t < 0) continue;
    const float* x = p.xproj + (int64_t(b) * p.steps + t) * GH;
    const float* hp = p.hproj + int64_t(b) * GH;
    const float h = p.h[idx];
    float h_new;
    if (p.cell == RnnStepCell::kSimple) {
      h_new = tanhf(x[j] + bias_at(p.bias_x, j) + hp[j]);
    } else {
      const float xz = x[j] + bias_at(p.bias_x, j);
      const float xh = x[2 * H + j] + bias_at(p.bias_x, 2 * H + j);
      float z, c;
      if (p.cell == RnnStepCell::kGruResetAfter) {
        z = sigmoid(xz + hp[j] + bias_at(p.bias_h, j));
        const float r = sigmoid(x[H + j] + bias_at(p.bias_x, H + j) + hp[H + j] +
                                bias_at(p.bias_h, H + j));
        c = tanhf(xh + r * (hp[2 * H + j] + bias_at(p.bias_h, 2 * H + j)));
      } else {  // reset-before: hp's h block already holds (r⊙h)·Rh
        z = sigmoid(xz + hp[j]);
        c = tanhf(xh + hp[2 * H + j]);
      }
      h_new = z * h + (1.0f - z) * c;
    }
    p.h[idx] = h_new;
    if (p.outputs) p.outputs[(int64_t(b) * p.steps + t) * H + j] = h_new;
  }
}

unsigned blocks_for(int64_t n) { return unsigned(std::min(ceil_div(n, kThreads), kMaxBlocks)); }

}  // namespace

void launch_gru_reset_gate(const RnnStepParams& p, cudaStream_t stream) {
  SEQATTN_LAUNCH(gru_reset_gate_kernel, blocks_for(int64_t(p.batch) * p.units), kThreads, 0,
                 stream)(p);
  check_launch("GRU reset gate kernel launch");
}

void launch_rnn_step(const RnnStepParams& p, cudaStream_t stream) {
  SEQATTN_LAUNCH(rnn_step_kernel, blocks_for(int64_t(p.batch) * p.units), kThreads, 0, stream)(p);
  check_launch("recurrent step kernel launch");
}

}  // namespace seqattn::cuda
