// The dense epilogues of kernels/dense.cu, run by src/cuda/dense.cpp after
// cuBLAS has written x·W (docs/math.md#simplernn-and-dense). Pointers are
// device memory; each launcher enqueues on `stream` and throws LaunchError
// (kernels/check.cuh) if the launch fails.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "seqattn/seqattn.h"

namespace seqattn::cuda {

// y[r, c] = act(y[r, c] + bias[c]) in place; act is not SOFTMAX.  y [rows, cols]
void launch_bias_activation(float* y, int64_t rows, int32_t cols, const float* bias,
                            seqattn_activation act, cudaStream_t stream);
// y[r, :] = softmax(y[r, :] + bias) in place.  y [rows, cols], bias [cols] or nullptr
void launch_softmax_rows(float* y, int64_t rows, int32_t cols, const float* bias,
                         cudaStream_t stream);

}  // namespace seqattn::cuda
