// The launchers of the device code in kernels/*.cu, called by the host side
// in src/cuda/. Each launcher enqueues on `stream`, returns at once, and throws
// seqattn::Error if the launch itself fails. Tensor pointers are device
// memory; lengths arrays here are device copies of the caller's host arrays.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/backend.hpp"

namespace seqattn::cuda {

// ------------------------------------------------------ kernels/attention.cu

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
  float* scores;               // [B, Td, attention_scores_ld(Te)] when
                               // attention_scratch_floats() > 0, else unused
};

// Row length of the energy scratch: Te rounded up to 4, for 16-byte rows.
int64_t attention_scores_ld(int32_t enc_steps);
// Floats of global scratch the fused kernel needs for B, Td, Te: 0 when a
// block's energies fit in shared memory.
int64_t attention_scratch_floats(int32_t batch, int32_t dec_steps, int32_t enc_steps);
void launch_fused_attention(const FusedAttentionParams& p, bool fast_math, cudaStream_t stream);

// -------------------------------------------------------- kernels/pooling.cu

struct PoolingParams {
  int32_t batch, steps, features;  // B, T, F
  const float* x;                  // [B, T, F]
  const int32_t* lengths;          // [B] or nullptr
  const float* w;                  // [F]
  const float* b;                  // [T] or nullptr
  float* context;                  // [B, F]
  float* weights;                  // [B, T] or nullptr
  float* scores;                   // [B, T] when pooling_scratch_floats() > 0
};

int64_t pooling_scratch_floats(int32_t batch, int32_t steps);
void launch_attention_pooling(const PoolingParams& p, cudaStream_t stream);

// ---------------------------------------------------------- kernels/dense.cu

// y[r, c] = act(y[r, c] + bias[c]) in place; act is not SOFTMAX.  y [rows, cols]
void launch_bias_activation(float* y, int64_t rows, int32_t cols, const float* bias,
                            seqattn_activation act, cudaStream_t stream);
// y[r, :] = softmax(y[r, :] + bias) in place.  y [rows, cols], bias [cols] or nullptr
void launch_softmax_rows(float* y, int64_t rows, int32_t cols, const float* bias,
                         cudaStream_t stream);

// ------------------------------------------------------------ kernels/rnn.cu

// One time step `step` of a recurrent layer over the batch (see kernels/rnn.cu).
struct RnnStepParams {
  int32_t batch, steps, units;  // B, T, H
  int32_t step;                 // 0 .. max(lengths) - 1, counted along the walk
  bool reverse;
  RnnCell cell;
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

// ---------------------------------------------------------- kernels/model.cu

// out[r, :] = table[ids[r], :]. An id outside [0, vocab) reads nothing: its row
// becomes zeros and *error_flag (device-visible, e.g. mapped pinned) is set to 1.
void launch_gather_rows(const float* table /* [vocab, dim] */, int64_t vocab, int64_t dim,
                        const int32_t* ids /* [rows] */, int64_t rows, float* out /* [rows, dim] */,
                        int32_t* error_flag, cudaStream_t stream);
// ids[r] = the first j maximising x[r, j], as std::max_element (NaN: see the
// file). cols <= INT32_MAX.
void launch_argmax_rows(const float* x /* [rows, cols] */, int64_t rows, int64_t cols,
                        int32_t* ids /* [rows] */, cudaStream_t stream);
// out[r, :] = concat(a[r, :], b[r, :]): two strided device-to-device copies.
void launch_concat_rows(const float* a /* [rows, da] */, int64_t da,
                        const float* b /* [rows, db] */, int64_t db, int64_t rows,
                        float* out /* [rows, da + db] */, cudaStream_t stream);

}  // namespace seqattn::cuda
