// CUDA and cuBLAS failures as seqattn::Error: OUT_OF_MEMORY when an allocation
// failed, DEVICE otherwise, with CUDA's own name and message after what we were
// doing, e.g. "cudaMalloc (workspace, 8388608 bytes): cudaErrorMemoryAllocation:
// out of memory".
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "core/error.hpp"

namespace seqattn::cuda {

inline void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  // Clear a non-sticky error so that the next call on this thread starts clean;
  // a sticky one (a kernel fault) will fail every later call, as DEVICE.
  (void)cudaGetLastError();
  const seqattn_status status =
      e == cudaErrorMemoryAllocation ? SEQATTN_ERROR_OUT_OF_MEMORY : SEQATTN_ERROR_DEVICE;
  fail(status, std::string(what) + ": " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
}

inline void check(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return;
  const seqattn_status status =
      s == CUBLAS_STATUS_ALLOC_FAILED ? SEQATTN_ERROR_OUT_OF_MEMORY : SEQATTN_ERROR_DEVICE;
  fail(status, std::string(what) + ": " + cublasGetStatusName(s) + ": " + cublasGetStatusString(s));
}

}  // namespace seqattn::cuda
