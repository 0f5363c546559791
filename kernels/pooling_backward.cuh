// The attention pooling backward kernel of kernels/pooling_backward.cu: its
// parameters and launcher, called by src/cuda/pooling.cpp. The math is
// seqattn.h's "backward passes" comment. Pointers are device memory; the
// launcher enqueues on `stream` and throws LaunchError (kernels/check.cuh)
// if the launch fails.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace seqattn::cuda {

struct PoolingBackwardParams {
  int32_t batch, steps, features;  // B, T, F
  const float* x;                  // [B, T, F]
  const int32_t* lengths;          // [B] or nullptr
  const float* w;                  // [F]
  const float* b;                  // [T] or nullptr
  const float* weights;            // [B, T] the forward's
  const float* d_context;          // [B, F]
  const float* d_weights;          // [B, T] or nullptr
  float* d_x;                      // [B, T, F]
  float* d_w_rows;                 // [B, F]: Σ_t dz·x per row (d_w = Σ_b, a column sum)
  float* dz;                       // [B, T]: the score gradient, 0 past a row's length
                                   // (d_b = Σ_b dz, a column sum)
  float* da;                       // [B, T] scratch
};

void launch_attention_pooling_backward(const PoolingBackwardParams& p, cudaStream_t stream);

}  // namespace seqattn::cuda
