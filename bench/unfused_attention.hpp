// The unfused additive attention the fused kernel is measured against: the
// composition that Keras AdditiveAttention and OpenNMT's `mlp` attention run,
// which materialises the [B, Td, Te, A] tensor of tanh arguments.
//
//   keys   = h·W                        cuBLAS SGEMM        [B·Te, A]
//   q      = s·U                        cuBLAS SGEMM        [B·Td, A]
//   T4     = tanh(keys + q + bias)      broadcast kernel    [B, Td, Te, A]
//   e      = T4·v                       cuBLAS SGEMV        [B, Td, Te]
//   w      = masked softmax_i(e)        row kernel          [B, Td, Te]
//   ctx[b] = w[b]·h[b]                  strided-batched GEMM [B, Td, He]
//
// Bench-only code: the library never builds it. Plain FP32 throughout (cuBLAS
// default math, tanhf, expf), so it computes what SEQATTN_MATH_PRECISE does.
#pragma once

#include <cstddef>
#include <cstdint>

#include "seqattn/seqattn.h"

namespace bench {

class UnfusedAttention {
 public:
  // Allocates the intermediates (see intermediate_bytes) and a cuBLAS handle
  // bound to `cuda_stream` (a cudaStream_t).
  UnfusedAttention(const seqattn_attention_dims& dims, void* cuda_stream);
  ~UnfusedAttention();
  UnfusedAttention(const UnfusedAttention&) = delete;
  UnfusedAttention& operator=(const UnfusedAttention&) = delete;

  // Device memory of the intermediates: keys, q, T4, the scores/weights.
  static size_t intermediate_bytes(const seqattn_attention_dims& dims);

  // Enqueues one forward on the stream; all pointers are device memory.
  void forward(const float* d_h,              // [B, Te, He]
               const float* d_s,              // [B, Td, Hd]
               const int32_t* d_enc_lengths,  // [B] or nullptr (all Te valid)
               const float* d_W,              // [He, A]
               const float* d_U,              // [Hd, A]
               const float* d_bias,           // [A] or nullptr
               const float* d_v,              // [A]
               float* d_context);             // [B, Td, He]

  const float* weights() const { return d_scores_; }  // [B, Td, Te] after forward()

 private:
  void release() noexcept;

  seqattn_attention_dims dims_;
  void* stream_;
  void* cublas_ = nullptr;
  float* d_keys_ = nullptr;    // [B, Te, A]
  float* d_q_ = nullptr;       // [B, Td, A]
  float* d_t4_ = nullptr;      // [B, Td, Te, A]
  float* d_scores_ = nullptr;  // [B, Td, Te]: energies, then the weights in place
};

}  // namespace bench
