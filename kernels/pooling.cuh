// The attention pooling kernel of kernels/pooling.cu: its parameters and
// launcher, called by src/cuda/pooling.cpp. The math is
// docs/math.md#attention-pooling. Pointers are device memory; the launcher
// enqueues on `stream` and throws LaunchError (kernels/check.cuh) if the
// launch fails.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace seqattn::cuda {

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

}  // namespace seqattn::cuda
