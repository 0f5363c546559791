// Backward through time for the GRU (both Keras variants) and SimpleRNN: the
// elementwise kernels between src/cuda/rnn.cpp's cuBLAS products.
//
// The forward's outputs are its states, so everything but the gradient
// recurrence is recomputed for all steps at once: h_prev (this file) and
// the projections xproj = x·K, hproj = h_prev·R (one GEMM each over B·T rows;
// reset-before: reset_h = r⊙h_prev here, then its Rh product). Only
// dh_prev = f(dh) is sequential, per step (backwards along the forward's walk):
//
//   dht = dh + d_outputs[t]
//   reset-after:  z, r, c from xproj, hproj and the biases; hh = hproj_h + bhh
//                 dz = dht(h − c)   dc_pre = dht(1 − z)(1 − c²)   dr = dc_pre·hh
//                 dgx = [dz·z(1−z), dr·r(1−r), dc_pre]   dgh = [.., .., dc_pre·r]
//                 dh_prev = dht·z + dgh·Rᵀ
//   reset-before: dgx = [dz·z(1−z), dr·r(1−r), dc_pre], with dr = (dc_pre·Rhᵀ)⊙h
//                 dh_prev = dht·z + (dc_pre·Rhᵀ)⊙r + dgx[z, r]·[Rz, Rr]ᵀ
//   SimpleRNN:    dgx = dht(1 − y²) (y the step's output);  dh_prev = dgx·Rᵀ
//
// The step kernels write dh_prev's direct part into dh_next and this step's
// recurrent gate gradients into dg_step; the host adds dg_step·Rᵀ into dh_next
// (a GEMM with β = 1). A finished row passes dh through unchanged and a zero
// dg_step row. The gate gradients of every step stay in dgx (and dgh) for the
// weight gradients at the end: d_K = xᵀ·dgx, d_R = h_prevᵀ·dgh, d_x = dgx·Kᵀ.
// Like the forward's gate kernels these are latency-bound next to the
// per-step GEMM and use the precise expf/tanhf in both math modes.
#include <algorithm>
#include <cmath>

#include "rnn_backward.cuh"
#include "check.cuh"
#include "device_utils.cuh"

namespace seqattn::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 65536;

__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

__device__ __forceinline__ float bias_at(const float* bias, int64_t k) {
  return bias ? bias[k] : 0.0f;
}

__device__ __forceinline__ int row_length(const RnnBackwardParams& p, int b) {
  return p.lengths ? p.lengths[b] : p.steps;
}

// The time index of step p.step for row b, or -1 when the row has finished.
__device__ __forceinline__ int step_time(const RnnBackwardParams& p, int b) {
  const int L = row_length(p, b);
  if (p.step >= L) return -1;
  return p.reverse ? L - 1 - p.step : p.step;
}

// The two all-steps kernels give each (b, t) row a warp, lanes along H: one
// division per row rather than three 64-bit ones per element.
__global__ void __launch_bounds__(kThreads) rnn_prev_states_kernel(const RnnBackwardParams p) {
  const int H = p.units, T = p.steps;
  const int64_t rows = int64_t(p.batch) * T, warps = int64_t(gridDim.x) * (kThreads / 32);
  const int lane = int(threadIdx.x) % 32;
  for (int64_t bt = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32; bt < rows;
       bt += warps) {
    const int b = int(bt / T), t = int(bt - int64_t(b) * T);
    const int L = row_length(p, b);
    const int walked = p.reverse ? L - 1 - t : t;  // steps before this one
    const float* src = nullptr;                    // nullptr: zeros
    if (t < L) {
      if (walked > 0)
        src = p.outputs + (bt + (p.reverse ? 1 : -1)) * H;
      else if (p.h0)
        src = p.h0 + int64_t(b) * H;
    }
    for (int j = lane; j < H; j += 32) p.h_prev[bt * H + j] = src ? src[j] : 0.0f;
  }
}

__global__ void __launch_bounds__(kThreads) gru_reset_states_kernel(const RnnBackwardParams p) {
  const int H = p.units, T = p.steps;
  const int64_t GH = 3 * int64_t(H);
  const int64_t rows = int64_t(p.batch) * T, warps = int64_t(gridDim.x) * (kThreads / 32);
  const int lane = int(threadIdx.x) % 32;
  for (int64_t bt = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32; bt < rows;
       bt += warps) {
    const int b = int(bt / T), t = int(bt - int64_t(b) * T);
    const bool valid = t < row_length(p, b);
    for (int j = lane; j < H; j += 32) {
      float rh = 0.0f;  // the GEMM reads every row: keep the others finite
      if (valid) {
        const float r = sigmoid(p.xproj[bt * GH + H + j] + bias_at(p.bias_x, H + j) +
                                p.hproj[bt * GH + H + j]);
        rh = r * p.h_prev[bt * H + j];
      }
      p.reset_h[bt * H + j] = rh;
    }
  }
}

__global__ void __launch_bounds__(kThreads) rnn_backward_step_kernel(const RnnBackwardParams p) {
  const int64_t H = p.units, T = p.steps, n = int64_t(p.batch) * H;
  const int64_t GH = p.cell == RnnStepCell::kSimple ? H : 3 * H;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < n; idx += stride) {
    const int b = int(idx / H);
    const int64_t j = idx % H;
    float* dg = p.dg_step + int64_t(b) * GH;
    const int t = step_time(p, b);
    if (t < 0) {
      p.dh_next[idx] = p.dh[idx];
      for (int64_t k = j; k < GH; k += H) dg[k] = 0.0f;
      continue;
    }
    const int64_t bt = int64_t(b) * T + t;
    const float dht = p.dh[idx] + (p.d_outputs ? p.d_outputs[bt * H + j] : 0.0f);
    float* dgx = p.dgx + bt * GH;
    if (p.cell == RnnStepCell::kSimple) {
      const float y = p.outputs[bt * H + j];
      const float da = dht * (1.0f - y * y);
      dg[j] = da;
      dgx[j] = da;
      p.dh_next[idx] = 0.0f;
      continue;
    }
    const float* x = p.xproj + bt * GH;
    const float* hp = p.hproj + bt * GH;
    const float h = p.h_prev[bt * H + j];
    const float xz = x[j] + bias_at(p.bias_x, j);
    const float xh = x[2 * H + j] + bias_at(p.bias_x, 2 * H + j);
    if (p.cell == RnnStepCell::kGruResetAfter) {
      const float z = sigmoid(xz + hp[j] + bias_at(p.bias_h, j));
      const float r =
          sigmoid(x[H + j] + bias_at(p.bias_x, H + j) + hp[H + j] + bias_at(p.bias_h, H + j));
      const float hh = hp[2 * H + j] + bias_at(p.bias_h, 2 * H + j);
      const float c = tanhf(xh + r * hh);
      const float dc = dht * (1.0f - z) * (1.0f - c * c);
      const float dz = dht * (h - c) * z * (1.0f - z);
      const float dr = dc * hh * r * (1.0f - r);
      float* dgh = p.dgh + bt * GH;
      dgx[j] = dz;
      dgx[H + j] = dr;
      dgx[2 * H + j] = dc;
      dgh[j] = dz;
      dgh[H + j] = dr;
      dgh[2 * H + j] = dc * r;
      dg[j] = dz;
      dg[H + j] = dr;
      dg[2 * H + j] = dc * r;
      p.dh_next[idx] = dht * z;
    } else {  // reset-before, first half: hp's h block holds (r⊙h)·Rh
      const float z = sigmoid(xz + hp[j]);
      const float c = tanhf(xh + hp[2 * H + j]);
      const float dc = dht * (1.0f - z) * (1.0f - c * c);
      const float dz = dht * (h - c) * z * (1.0f - z);
      dgx[j] = dz;
      dgx[2 * H + j] = dc;
      dg[j] = dz;
      dg[H + j] = 0.0f;  // the second half's, after dc·Rhᵀ
      dg[2 * H + j] = dc;
      p.dh_next[idx] = dht * z;
    }
  }
}

// Reset-before, second half: the reset gate's gradient from d_reset_h =
// dc·Rhᵀ, and its share of dh_prev through r⊙h.
__global__ void __launch_bounds__(kThreads) gru_backward_reset_half_kernel(const RnnBackwardParams p) {
  const int64_t H = p.units, T = p.steps, GH = 3 * H, n = int64_t(p.batch) * H;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < n; idx += stride) {
    const int b = int(idx / H);
    const int64_t j = idx % H;
    const int t = step_time(p, b);
    if (t < 0) continue;  // the first half zeroed the row's dg_step and passed dh on
    const int64_t bt = int64_t(b) * T + t;
    const float r = sigmoid(p.xproj[bt * GH + H + j] + bias_at(p.bias_x, H + j) +
                            p.hproj[bt * GH + H + j]);
    const float drh = p.d_reset_h[idx];
    const float dr = drh * p.h_prev[bt * H + j] * r * (1.0f - r);
    p.dgx[bt * GH + H + j] = dr;
    p.dg_step[int64_t(b) * GH + H + j] = dr;
    p.dh_next[idx] += drh * r;
  }
}

unsigned blocks_for(int64_t n) { return unsigned(std::min(ceil_div(n, kThreads), kMaxBlocks)); }
unsigned row_blocks(int64_t rows) {
  return unsigned(std::min(ceil_div(rows, kThreads / 32), kMaxBlocks));
}

}  // namespace

void launch_rnn_prev_states(const RnnBackwardParams& p, cudaStream_t stream) {
  SEQATTN_LAUNCH(rnn_prev_states_kernel, row_blocks(int64_t(p.batch) * p.steps), kThreads, 0,
                 stream)(p);
  check_launch("recurrent backward previous-state kernel launch");
}

void launch_gru_reset_states(const RnnBackwardParams& p, cudaStream_t stream) {
  SEQATTN_LAUNCH(gru_reset_states_kernel, row_blocks(int64_t(p.batch) * p.steps), kThreads, 0,
                 stream)(p);
  check_launch("GRU backward reset-state kernel launch");
}

void launch_rnn_backward_step(const RnnBackwardParams& p, cudaStream_t stream) {
  SEQATTN_LAUNCH(rnn_backward_step_kernel, blocks_for(int64_t(p.batch) * p.units), kThreads, 0,
                 stream)(p);
  check_launch("recurrent backward step kernel launch");
}

void launch_gru_backward_reset_half(const RnnBackwardParams& p, cudaStream_t stream) {
  SEQATTN_LAUNCH(gru_backward_reset_half_kernel, blocks_for(int64_t(p.batch) * p.units), kThreads,
                 0, stream)(p);
  check_launch("GRU backward reset-gate kernel launch");
}

}  // namespace seqattn::cuda
