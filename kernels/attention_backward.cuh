// The additive-attention backward kernels of kernels/attention_backward.cu:
// their parameters and launchers, called by the host side in
// src/cuda/attention.cpp between its cuBLAS products. The math is seqattn.h's
// "backward passes" comment. Tensor pointers are device memory; the lengths
// arrays are device copies of the caller's host arrays. Each launcher
// enqueues on `stream` and throws LaunchError (kernels/check.cuh) if the
// launch fails.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace seqattn::cuda {

// de = w ⊙ (dw − Σ_i w·dw) over the valid i of each valid row, in place.
struct AttentionRowGradParams {
  int32_t batch, enc_steps, dec_steps;  // B, Te, Td
  const float* weights;                 // [B, Td, Te] the forward's
  const float* d_weights;               // [B, Td, Te] or nullptr
  const int32_t* enc_lengths;           // [B] or nullptr (all Te)
  const int32_t* dec_lengths;           // [B] or nullptr (all Td)
  float* grad;                          // [B, Td, Te]: in d_context·hᵀ, out de (0 where masked)
};
void launch_attention_row_grad(const AttentionRowGradParams& p, cudaStream_t stream);

// From de, the gradients of the energies' inputs, tanh recomputed:
//   d_keys[b,i,a]  = v[a]·Σ_t de[b,t,i]·(1 − th²)     th = tanh(keys[b,i,a] + q[b,t,a] + bias[a])
//   d_q[b,t,a]     = v[a]·Σ_i de[b,t,i]·(1 − th²)
//   d_v_rows[b,i,a] = Σ_t de[b,t,i]·th                 (d_v = Σ_{b,i} d_v_rows)
// Zeros where masked (i >= enc_lengths[b], t >= dec_lengths[b], empty rows).
struct AttentionBackwardParams {
  int32_t batch, enc_steps, dec_steps, units;  // B, Te, Td, A
  const float* keys;                           // [B, Te, keys_ld], first A columns used
  int64_t keys_ld;
  const float* queries;  // [B, Td, queries_ld] = s·U
  int64_t queries_ld;
  const float* bias;  // [A] added to every query, or nullptr
  const float* v;     // [A]
  const float* de;    // [B, Td, Te] from launch_attention_row_grad
  const int32_t* enc_lengths;
  const int32_t* dec_lengths;
  float* d_keys;    // [B, Te, A]
  float* d_queries;  // [B, Td, A]
  float* d_v_rows;  // [B, Te, A]
};
// Two launches: the keys' direction (d_keys, d_v_rows), then the queries'.
void launch_attention_backward(const AttentionBackwardParams& p, bool fast_math,
                               cudaStream_t stream);

}  // namespace seqattn::cuda
