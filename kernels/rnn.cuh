// The gate kernels of one recurrent step (kernels/rnn.cu): their parameters
// and launchers, called once per step by src/cuda/rnn.cpp. The math is
// docs/math.md#gru-keras-layout and docs/math.md#simplernn-and-dense. Pointers
// are device memory; each launcher enqueues on `stream` and throws LaunchError
// (kernels/check.cuh) if the launch fails.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace seqattn::cuda {

// Which gates a step applies (src/cuda/rnn.cpp maps the backend's RnnCell).
enum class RnnStepCell { kGruResetAfter, kGruResetBefore, kSimple };

// One time step `step` of a recurrent layer over the batch (see kernels/rnn.cu).
struct RnnStepParams {
  int32_t batch, steps, units;  // B, T, H
  int32_t step;                 // 0 .. max(lengths) - 1, counted along the walk
  bool reverse;
  RnnStepCell cell;
  const int32_t* lengths;  // [B] or nullptr (all T)
  const float* xproj;      // [B, T, G·H] = x·kernel, without bias
  const float* bias_x;     // [G·H] or nullptr
  const float* hproj;      // [B, G·H]: h·recurrent_kernel (reset-before: its z, r
                           // blocks, then (r⊙h)·Rh in the h block)
  const float* bias_h;     // [G·H] (reset-after only) or nullptr
  float* h;                // [B, H] the state, updated in place where the step is valid
  float* reset_h;          // [B, H] r⊙h, written by the reset-before gate kernel
  float* outputs;          // [B, T, H] or nullptr
};

// Reset-before GRU, first half of a step: reset_h = σ(xr + h·Rr)⊙h.
void launch_gru_reset_gate(const RnnStepParams& p, cudaStream_t stream);
// The fused gate update of one step for every cell kind.
void launch_rnn_step(const RnnStepParams& p, cudaStream_t stream);

}  // namespace seqattn::cuda
