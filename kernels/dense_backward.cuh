// The Dense backward kernels of kernels/dense_backward.cu, and the column sum
// every backward uses for its bias gradients; called by src/cuda/*.cpp around
// their cuBLAS products. Pointers are device memory; each launcher enqueues
// on `stream` and throws LaunchError (kernels/check.cuh) if the launch fails.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "seqattn/seqattn.h"

namespace seqattn::cuda {

// dz = d_y ⊙ act'(y), the derivative taken from the forward's output y; act is
// not SOFTMAX.  y, d_y, dz [rows, cols]
void launch_activation_backward(const float* y, const float* d_y, float* dz, int64_t rows,
                                int32_t cols, seqattn_activation act, cudaStream_t stream);
// dz[r, :] = y[r, :] ⊙ (d_y[r, :] − Σ_c y·d_y), the row softmax's gradient.
void launch_softmax_backward(const float* y, const float* d_y, float* dz, int64_t rows,
                             int32_t cols, cudaStream_t stream);
// out[c] = Σ_r in[r·ld + c] for c < cols, summed in a fixed order.  in [rows, ld]
void launch_column_sums(const float* in, int64_t rows, int32_t cols, int64_t ld, float* out,
                        cudaStream_t stream);

}  // namespace seqattn::cuda
