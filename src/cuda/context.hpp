// The state behind a CUDA handle: its device, its stream (own or the
// caller's), a cuBLAS handle bound to that stream, the device workspace and
// the pinned staging of host lengths — every resource owned through RAII.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "cuda/retiring_buffer.hpp"
#include "seqattn/seqattn.h"

namespace seqattn::cuda {

struct DeviceFree {
  void operator()(void* p) const noexcept { cudaFree(p); }
};
struct PinnedFree {
  void operator()(void* p) const noexcept { cudaFreeHost(p); }
};
struct StreamDestroy {
  void operator()(cudaStream_t s) const noexcept { cudaStreamDestroy(s); }
};
struct EventDestroy {
  void operator()(cudaEvent_t e) const noexcept { cudaEventDestroy(e); }
};
struct CublasDestroy {
  void operator()(cublasHandle_t h) const noexcept { cublasDestroy(h); }
};
using DeviceMemory = std::unique_ptr<void, DeviceFree>;
using PinnedMemory = std::unique_ptr<void, PinnedFree>;
using OwnedStream = std::unique_ptr<std::remove_pointer_t<cudaStream_t>, StreamDestroy>;
using OwnedEvent = std::unique_ptr<std::remove_pointer_t<cudaEvent_t>, EventDestroy>;
using OwnedCublas = std::unique_ptr<std::remove_pointer_t<cublasHandle_t>, CublasDestroy>;

DeviceMemory device_alloc(size_t bytes, const char* what);

// Makes `device` current for a scope and restores the caller's device after,
// so a handle on GPU 1 leaves the calling thread's current device alone.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int device_, previous_ = -1;
};

// Lays out one call's scratch buffers in the workspace: offsets aligned to
// 256 bytes (what cudaMalloc gives, and enough for any vector access).
class WorkspaceLayout {
 public:
  size_t add(size_t bytes) {
    const size_t offset = total_;
    total_ += (bytes + 255) / 256 * 256;
    return offset;
  }
  size_t total() const { return total_; }

 private:
  size_t total_ = 0;
};

// Device scratch that grows to the largest request and is then reused: a
// steady-state call allocates nothing. A buffer once handed out stays
// allocated until release() (the handle's destruction), so work queued on
// the old buffer, or a CUDA graph captured with its address, stays valid when
// a later call grows the workspace (src/cuda/retiring_buffer.hpp).
class Workspace {
 public:
  // A buffer of at least `bytes`.
  char* reserve(size_t bytes);
  size_t capacity() const { return buffers_.capacity(); }
  void release() noexcept { buffers_.release(); }

 private:
  RetiringBuffer<DeviceMemory> buffers_;
};

// Host lengths reach the device through pinned slots, so the copy is truly
// asynchronous and the caller may reuse its array as soon as the call returns.
// A slot is refilled only after the copy that last read it has run (its
// event), which lets the host run up to kSlots calls ahead of the device.
// (So a call with lengths cannot be captured into a CUDA graph: a replay
// would copy whatever the slot then holds. Calls without lengths can.)
class LengthStager {
 public:
  // Makes every slot's event and pinned buffer, with the handle's device
  // current (the CudaContext constructor), so that no call with lengths of
  // up to kInitialInts allocates anything, not even the first in each slot.
  void prepare();
  // A pinned host buffer of n int32 to fill, then hand to submit().
  int32_t* acquire(size_t n);
  // Copies the n values filled in the acquired buffer to d_dst on `stream`.
  void submit(int32_t* d_dst, size_t n, cudaStream_t stream);
  void release() noexcept;

 private:
  static constexpr size_t kSlots = 4;
  // Both lengths arrays of a batch of 2048 rows; a larger batch grows a slot
  // when it first uses it.
  static constexpr size_t kInitialInts = 4096;
  struct Slot {
    PinnedMemory memory;
    size_t capacity = 0;  // int32 elements
    OwnedEvent copied;    // recorded after the copy that read this slot
    bool used = false;    // `copied` has been recorded
  };
  static void allocate(Slot& slot, size_t n);
  std::array<Slot, kSlots> slots_;
  size_t next_ = 0;
};

class CudaContext {
 public:
  explicit CudaContext(const seqattn_handle_options& options);
  ~CudaContext();
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  bool fast_math() const { return fast_math_; }
  Workspace& workspace() { return workspace_; }

  // Row-major C[m, n] = A[m, k]·B[k, n], leading dimensions in elements. The
  // 64-bit cuBLAS API: m = B·Te rows may pass 2^31.
  void gemm(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B,
            int64_t ldb, float* C, int64_t ldc);
  // The backward passes' products: row-major C[m, n] = op(A)·op(B) + beta·C,
  // op(X) = Xᵀ when trans_X; A is stored [m, k] (or [k, m] transposed), B
  // [k, n] (or [n, k]); the leading dimensions are those of the stored arrays.
  void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* A,
            int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
  // The same for `batch` products, the operands `stride_*` floats apart.
  void gemm_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* A,
                    int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b,
                    float* C, int64_t ldc, int64_t stride_c, int64_t batch);

  // Copies host lengths [count] (nullptr: nothing) to d_dst and returns d_dst,
  // or nullptr when `lengths` is nullptr — which the kernels read as "full".
  int32_t* stage_lengths(const int32_t* lengths, size_t count, int32_t* d_dst);
  // Both attention lengths arrays in one copy: d_dst [2, count].
  void stage_lengths2(const int32_t* a, const int32_t* b, size_t count, int32_t* d_dst,
                      const int32_t** d_a, const int32_t** d_b);

 private:
  int device_;
  bool fast_math_;
  OwnedStream owned_stream_;  // empty when the caller gave its stream
  cudaStream_t stream_ = nullptr;
  OwnedCublas blas_;
  DeviceMemory blas_workspace_;
  Workspace workspace_;
  LengthStager lengths_;
};

}  // namespace seqattn::cuda
