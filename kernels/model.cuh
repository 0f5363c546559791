// The row helpers of whole models (kernels/model.cu), called by the CUDA
// backend (src/cuda/cuda_backend.cpp) for greedy decoding on the device.
// Pointers are device memory; each launcher enqueues on `stream` and throws
// LaunchError (kernels/check.cuh) if the launch or a copy fails.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace seqattn::cuda {

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
