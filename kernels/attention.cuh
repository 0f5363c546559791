// The fused additive-attention kernel of kernels/attention.cu: its parameters
// and launcher, called by the host side in src/cuda/attention.cpp. The math is
// docs/math.md#additive-attention. Tensor pointers are device memory;
// the lengths arrays are device copies of the caller's host arrays. The
// launcher enqueues on `stream`, returns at once, and throws LaunchError
// (kernels/check.cuh) if the launch itself fails.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace seqattn::cuda {

struct FusedAttentionParams {
  int32_t batch, enc_steps, dec_steps, enc_dim, units;  // B, Te, Td, He, A
  const float* keys;           // [B, Te, keys_ld], first A columns used
  int64_t keys_ld;             // >= A
  const float* queries;        // [B, Td, queries_ld] = s·U; 16-byte aligned rows
  int64_t queries_ld;          // >= A, a multiple of 4
  const float* bias;           // [A] added to every query, or nullptr
  const float* v;              // [A]
  const float* values;         // h [B, Te, He]
  const int32_t* enc_lengths;  // [B] or nullptr (all Te)
  const int32_t* dec_lengths;  // [B] or nullptr (all Td)
  float* context;              // [B, Td, He]
  float* weights;              // [B, Td, Te] or nullptr
  float* scores;               // attention_scratch_floats() floats when > 0, else unused:
                               // the energies [B, Td, attention_scores_ld(Te)], or the
                               // split path's partial results (kernels/attention.cu)
};

// Row length of the energy scratch: Te rounded up to 4, for 16-byte rows.
int64_t attention_scores_ld(int32_t enc_steps);
// Floats of global scratch the launcher needs for B, Td, Te, He, A: 0 when
// the one-pass kernel's energies fit in shared memory; for step-wise decoding
// with few rows (Td <= 4, B·Td <= 16, A <= 1024), the split path's partial
// maxima, sums and contexts.
int64_t attention_scratch_floats(int32_t batch, int32_t dec_steps, int32_t enc_steps,
                                 int32_t enc_dim, int32_t units);
// Kernel launches launch_fused_attention makes for these sizes: 1, or 2 on
// the split path of step-wise decoding (the chunks, then their combine).
int attention_launches(int32_t batch, int32_t dec_steps, int32_t enc_steps, int32_t units);
void launch_fused_attention(const FusedAttentionParams& p, bool fast_math, cudaStream_t stream);

}  // namespace seqattn::cuda
