#include "cuda/context.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "cuda/check.hpp"

namespace seqattn::cuda {

DeviceMemory device_alloc(size_t bytes, const char* what) {
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e != cudaSuccess)
    check(e, (std::string("cudaMalloc (") + what + ", " + std::to_string(bytes) + " bytes)").c_str());
  return DeviceMemory(p);
}

DeviceGuard::DeviceGuard(int device) : device_(device) {
  check(cudaGetDevice(&previous_), "cudaGetDevice");
  if (previous_ != device_) check(cudaSetDevice(device_), "cudaSetDevice");
}

DeviceGuard::~DeviceGuard() {
  if (previous_ != device_) (void)cudaSetDevice(previous_);
}

char* Workspace::reserve(size_t bytes) {
  // No wait for the stream: the old buffer is retired, not freed, so work
  // still queued on it (or captured with its address) stays valid.
  return buffers_.reserve(bytes, [](size_t n) { return device_alloc(n, "workspace"); });
}

void LengthStager::allocate(Slot& slot, size_t n) {
  slot.memory.reset();
  slot.capacity = 0;
  void* p = nullptr;
  check(cudaMallocHost(&p, n * sizeof(int32_t)), "cudaMallocHost (length staging)");
  slot.memory.reset(p);
  slot.capacity = n;
}

void LengthStager::prepare() {
  for (Slot& slot : slots_) {
    cudaEvent_t e = nullptr;
    check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate");
    slot.copied.reset(e);
    allocate(slot, kInitialInts);
  }
}

int32_t* LengthStager::acquire(size_t n) {
  Slot& slot = slots_[next_];
  if (slot.used)  // the copy that last read this slot must have run
    check(cudaEventSynchronize(slot.copied.get()), "cudaEventSynchronize (length staging)");
  if (n > slot.capacity) allocate(slot, std::max(n, 2 * slot.capacity));
  return static_cast<int32_t*>(slot.memory.get());
}

void LengthStager::submit(int32_t* d_dst, size_t n, cudaStream_t stream) {
  Slot& slot = slots_[next_];
  next_ = (next_ + 1) % kSlots;
  check(cudaMemcpyAsync(d_dst, slot.memory.get(), n * sizeof(int32_t), cudaMemcpyHostToDevice,
                        stream),
        "cudaMemcpyAsync (lengths to the device)");
  check(cudaEventRecord(slot.copied.get(), stream), "cudaEventRecord (length staging)");
  slot.used = true;
}

void LengthStager::release() noexcept {
  for (Slot& slot : slots_) {
    slot.copied.reset();
    slot.memory.reset();
    slot.capacity = 0;
    slot.used = false;
  }
}

CudaContext::CudaContext(const seqattn_handle_options& options)
    : device_(options.device_ordinal), fast_math_(options.math == SEQATTN_MATH_FAST) {
  DeviceGuard guard(device_);
  if (options.cuda_stream) {
    stream_ = static_cast<cudaStream_t>(options.cuda_stream);
  } else {
    // A blocking stream: it still orders after work the caller put on the
    // legacy default stream (a cudaMemcpy that filled our inputs, say).
    cudaStream_t s = nullptr;
    check(cudaStreamCreate(&s), "cudaStreamCreate");
    owned_stream_.reset(s);
    stream_ = s;
  }

  cublasHandle_t h = nullptr;
  check(cublasCreate(&h), "cublasCreate");
  blas_.reset(h);
  check(cublasSetStream(h, stream_), "cublasSetStream");
  // Our own cuBLAS workspace (set after the stream: cublasSetStream resets it),
  // so cuBLAS allocates nothing behind our back; the sizes NVIDIA recommends.
  int major = 0;
  check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device_),
        "cudaDeviceGetAttribute");
  const size_t blas_bytes = size_t(major >= 9 ? 32 : 4) << 20;
  blas_workspace_ = device_alloc(blas_bytes, "cuBLAS workspace");
  check(cublasSetWorkspace(h, blas_workspace_.get(), blas_bytes), "cublasSetWorkspace");
  // FP32 products in both math modes (no TF32): SEQATTN_MATH_FAST approximates
  // only the transcendental functions of the attention kernel, whose error
  // bound is stated in kernels/attention.cu.
  check(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  lengths_.prepare();
}

CudaContext::~CudaContext() {
  // Work still queued may use the workspace: let it finish, then release in
  // dependency order with this device current.
  try {
    DeviceGuard guard(device_);
    (void)cudaStreamSynchronize(stream_);
    blas_.reset();
    blas_workspace_.reset();
    workspace_.release();
    lengths_.release();
    owned_stream_.reset();
  } catch (...) {
    // Could not make the device current; the members still free what they own.
  }
  (void)cudaGetLastError();
}

void CudaContext::gemm(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda,
                       const float* B, int64_t ldb, float* C, int64_t ldc) {
  // cuBLAS is column-major, where a row-major matrix reads as its transpose:
  // Cᵀ = Bᵀ·Aᵀ, so the operands swap and nothing is transposed.
  const float one = 1.0f, zero = 0.0f;
  check(cublasSgemm_64(blas_.get(), CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &one, B, ldb, A, lda,
                       &zero, C, ldc),
        "cublasSgemm_64");
}

void CudaContext::gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                       const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                       float* C, int64_t ldc) {
  // As above: the column-major call computes Cᵀ = op(B)ᵀ·op(A)ᵀ, and a stored
  // row-major operand read column-major is already transposed once, so each
  // operand keeps its own transpose flag.
  const float one = 1.0f;
  check(cublasSgemm_64(blas_.get(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                       trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &one, B, ldb, A, lda, &beta,
                       C, ldc),
        "cublasSgemm_64");
}

void CudaContext::gemm_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                               const float* A, int64_t lda, int64_t stride_a, const float* B,
                               int64_t ldb, int64_t stride_b, float* C, int64_t ldc,
                               int64_t stride_c, int64_t batch) {
  const float one = 1.0f, zero = 0.0f;
  check(cublasSgemmStridedBatched_64(blas_.get(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                     trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &one, B, ldb,
                                     stride_b, A, lda, stride_a, &zero, C, ldc, stride_c, batch),
        "cublasSgemmStridedBatched_64");
}

int32_t* CudaContext::stage_lengths(const int32_t* lengths, size_t count, int32_t* d_dst) {
  if (!lengths) return nullptr;
  int32_t* host = lengths_.acquire(count);
  std::memcpy(host, lengths, count * sizeof(int32_t));
  lengths_.submit(d_dst, count, stream_);
  return d_dst;
}

void CudaContext::stage_lengths2(const int32_t* a, const int32_t* b, size_t count,
                                 int32_t* d_dst, const int32_t** d_a, const int32_t** d_b) {
  *d_a = a ? d_dst : nullptr;
  *d_b = b ? d_dst + count : nullptr;
  if (!a && !b) return;
  int32_t* host = lengths_.acquire(2 * count);
  // One transfer for both halves; an absent array's half is zeros, never read.
  if (a)
    std::memcpy(host, a, count * sizeof(int32_t));
  else
    std::memset(host, 0, count * sizeof(int32_t));
  if (b)
    std::memcpy(host + count, b, count * sizeof(int32_t));
  else
    std::memset(host + count, 0, count * sizeof(int32_t));
  lengths_.submit(d_dst, 2 * count, stream_);
}

}  // namespace seqattn::cuda
