// The recurrent backward kernels of kernels/rnn_backward.cu: their parameters
// and launchers, called by src/cuda/rnn.cpp around its cuBLAS products. The
// math is seqattn.h's "backward passes" comment and kernels/rnn_backward.cu.
// Pointers are device memory; each launcher enqueues on `stream` and throws
// LaunchError (kernels/check.cuh) if the launch fails.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "rnn.cuh"

namespace seqattn::cuda {

struct RnnBackwardParams {
  int32_t batch, steps, units;  // B, T, H
  int32_t step;                 // the step kernels: counted along the forward's walk
  bool reverse;
  RnnStepCell cell;
  const int32_t* lengths;  // [B] or nullptr (all T)
  const float* h0;         // [B, H] or nullptr (zeros)
  const float* outputs;    // [B, T, H] the forward's
  const float* xproj;      // [B, T, G·H] = x·kernel, without bias
  const float* bias_x;     // [G·H] or nullptr
  const float* bias_h;     // [G·H] (reset-after only) or nullptr
  const float* hproj;      // [B, T, G·H] = h_prev·recurrent_kernel (reset-before: z, r
                           // blocks, then reset_h·Rh in the h block)
  float* h_prev;           // [B, T, H] the state before each valid step, 0 elsewhere
  float* reset_h;          // [B, T, H] reset-before: r⊙h_prev, 0 elsewhere
  const float* d_outputs;  // [B, T, H] or nullptr
  const float* dh;         // [B, H] the gradient reaching the state after this step
  float* dh_next;          // [B, H] out: its direct part towards the state before it
  float* dg_step;          // [B, G·H] this step's recurrent-side gate gradients (0 for a
                           // finished row), multiplied by Rᵀ on the host
  const float* d_reset_h;  // [B, H] reset-before, second half: dc_pre·Rhᵀ
  float* dgx;              // [B, T, G·H] input-side gate gradients (host zeroes it)
  float* dgh;              // [B, T, G·H] reset-after: recurrent-side ones, else nullptr
};

// h_prev (and, reset-before, reset_h after hproj's z and r blocks are in) for
// every (b, t) at once: the forward's states are its outputs.
void launch_rnn_prev_states(const RnnBackwardParams& p, cudaStream_t stream);
void launch_gru_reset_states(const RnnBackwardParams& p, cudaStream_t stream);
// One step of the backward walk (steps run from max(lengths) − 1 down to 0).
// SimpleRNN and reset-after: one kernel. Reset-before: the first half (z and
// candidate gates), the host's d_reset_h = dg_step[:, 2H:]·Rhᵀ, the second (r).
void launch_rnn_backward_step(const RnnBackwardParams& p, cudaStream_t stream);
void launch_gru_backward_reset_half(const RnnBackwardParams& p, cudaStream_t stream);

}  // namespace seqattn::cuda
