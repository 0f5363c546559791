// The unfused additive attention (see unfused_attention.hpp): cuBLAS for the
// products, two simple kernels for the element-wise steps. They are written the
// way a framework's generic kernels run them: one pass per step, every
// intermediate in device memory, so the peer costs what a materialising
// implementation costs (its time is dominated by writing and re-reading T4).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "unfused_attention.hpp"

namespace bench {
namespace {

void cuda_check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("unfused attention: ") + what + ": " +
                             cudaGetErrorString(err));
}

void cublas_check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("unfused attention: ") + what + ": " +
                             cublasGetStatusString(status));
}

// T4[b,t,i,:] = tanh(keys[b,i,:] + q[b,t,:] + bias). A block of 32 x 8 threads
// covers 8 rows (b,t,i); a warp walks the A entries of its row, so every load
// and store is a contiguous 128-byte line.
constexpr int kRowsPerBlock = 8;

__global__ void add_tanh_kernel(const float* __restrict__ keys,  // [B, Te, A]
                                const float* __restrict__ q,     // [B, Td, A]
                                const float* __restrict__ bias,  // [A] or nullptr
                                float* __restrict__ t4,          // [B, Td, Te, A]
                                int64_t rows, int Td, int Te, int A) {
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.y;  // (b, t, i)
  if (r >= rows) return;
  const int64_t i = r % Te;
  const int64_t bt = r / Te;  // b * Td + t
  const int64_t b = bt / Td;
  const float* key = keys + (b * Te + i) * A;
  const float* qt = q + bt * A;
  float* out = t4 + r * A;
  for (int a = threadIdx.x; a < A; a += 32)
    out[a] = tanhf(key[a] + qt[a] + (bias ? bias[a] : 0.0f));
}

// In place over each row (b,t) of e [B·Td, Te]: softmax over i < enc_lengths[b],
// zeros beyond it, and an all-zero row when the length is 0 (never NaN). One
// warp per row.
__global__ void masked_softmax_kernel(float* __restrict__ e,                    // [B, Td, Te]
                                      const int32_t* __restrict__ enc_lengths,  // [B] or nullptr
                                      int rows, int Td, int Te) {
  const int row = int(blockIdx.x) * (blockDim.x / 32) + int(threadIdx.x / 32);
  const int lane = int(threadIdx.x % 32);
  if (row >= rows) return;
  const int len = enc_lengths ? enc_lengths[row / Td] : Te;
  float* x = e + int64_t(row) * Te;

  float m = -INFINITY;
  for (int i = lane; i < len; i += 32) m = fmaxf(m, x[i]);
  for (int off = 16; off > 0; off /= 2) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
  float sum = 0.0f;
  for (int i = lane; i < len; i += 32) sum += expf(x[i] - m);
  for (int off = 16; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
  // sum >= 1 when len > 0: the maximum contributes exp(0).
  const float inv = len > 0 ? 1.0f / sum : 0.0f;
  for (int i = lane; i < Te; i += 32) x[i] = i < len ? expf(x[i] - m) * inv : 0.0f;
}

}  // namespace

size_t UnfusedAttention::intermediate_bytes(const seqattn_attention_dims& d) {
  const size_t B = size_t(d.batch), Te = size_t(d.enc_steps), Td = size_t(d.dec_steps);
  const size_t A = size_t(d.units);
  return sizeof(float) * (B * Te * A + B * Td * A + B * Td * Te * A + B * Td * Te);
}

UnfusedAttention::UnfusedAttention(const seqattn_attention_dims& dims, void* cuda_stream)
    : dims_(dims), stream_(cuda_stream) {
  const size_t B = size_t(dims.batch), Te = size_t(dims.enc_steps), Td = size_t(dims.dec_steps);
  const size_t A = size_t(dims.units);
  try {
    cublasHandle_t handle = nullptr;
    cublas_check(cublasCreate(&handle), "cublasCreate");
    cublas_ = handle;
    cublas_check(cublasSetStream(handle, static_cast<cudaStream_t>(stream_)), "cublasSetStream");
    cuda_check(cudaMalloc(&d_keys_, sizeof(float) * B * Te * A), "cudaMalloc keys");
    cuda_check(cudaMalloc(&d_q_, sizeof(float) * B * Td * A), "cudaMalloc q");
    cuda_check(cudaMalloc(&d_t4_, sizeof(float) * B * Td * Te * A), "cudaMalloc [B,Td,Te,A]");
    cuda_check(cudaMalloc(&d_scores_, sizeof(float) * B * Td * Te), "cudaMalloc scores");
  } catch (...) {
    release();  // the destructor does not run for a constructor that throws
    throw;
  }
}

UnfusedAttention::~UnfusedAttention() { release(); }

void UnfusedAttention::release() noexcept {
  cudaFree(d_scores_);
  cudaFree(d_t4_);
  cudaFree(d_q_);
  cudaFree(d_keys_);
  if (cublas_) cublasDestroy(static_cast<cublasHandle_t>(cublas_));
  d_scores_ = d_t4_ = d_q_ = d_keys_ = nullptr;
  cublas_ = nullptr;
}

void UnfusedAttention::forward(const float* d_h, const float* d_s, const int32_t* d_enc_lengths,
                               const float* d_W, const float* d_U, const float* d_bias,
                               const float* d_v, float* d_context) {
  const int B = dims_.batch, Te = dims_.enc_steps, Td = dims_.dec_steps;
  const int He = dims_.enc_dim, Hd = dims_.dec_dim, A = dims_.units;
  auto handle = static_cast<cublasHandle_t>(cublas_);
  auto stream = static_cast<cudaStream_t>(stream_);
  const float one = 1.0f, zero = 0.0f;

  // Row-major X[M,K]·Y[K,N] is column-major Y^T·X^T: swap the operands.
  cublas_check(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, A, B * Te, He, &one, d_W, A, d_h, He,
                           &zero, d_keys_, A),
               "keys = h·W");
  cublas_check(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, A, B * Td, Hd, &one, d_U, A, d_s, Hd,
                           &zero, d_q_, A),
               "q = s·U");

  const int64_t rows = int64_t(B) * Td * Te;
  const dim3 block(32, kRowsPerBlock);
  const dim3 grid(unsigned((rows + kRowsPerBlock - 1) / kRowsPerBlock));
  add_tanh_kernel<<<grid, block, 0, stream>>>(d_keys_, d_q_, d_bias, d_t4_, rows, Td, Te, A);
  cuda_check(cudaGetLastError(), "add_tanh_kernel launch");

  // e[r] = Σ_a T4[r,a]·v[a]: T4 is column-major [A, rows], so this is T4^T·v.
  // The 64-bit entry point: rows·A exceeds 2^31 at the largest sweep shapes.
  cublas_check(cublasSgemv_64(handle, CUBLAS_OP_T, A, rows, &one, d_t4_, A, d_v, 1, &zero,
                              d_scores_, 1),
               "e = T4·v");

  const int score_rows = B * Td;
  constexpr int kWarpsPerBlock = 8;
  masked_softmax_kernel<<<(score_rows + kWarpsPerBlock - 1) / kWarpsPerBlock, 32 * kWarpsPerBlock,
                          0, stream>>>(d_scores_, d_enc_lengths, score_rows, Td, Te);
  cuda_check(cudaGetLastError(), "masked_softmax_kernel launch");

  // ctx[b] [Td, He] = w[b] [Td, Te] · h[b] [Te, He], batched over b.
  cublas_check(cublasSgemmStridedBatched(handle, CUBLAS_OP_N, CUBLAS_OP_N, He, Td, Te, &one, d_h,
                                         He, int64_t(Te) * He, d_scores_, Te, int64_t(Td) * Te,
                                         &zero, d_context, He, int64_t(Td) * He, B),
               "context = w·h");
}

}  // namespace bench
