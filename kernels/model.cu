// The row helpers of whole models (src/model/) on a CUDA handle, so that the
// greedy decoding loop never leaves the device: the token ids a step produces
// are the ids the next step gathers, in device memory throughout.
//
//   gather_rows:  out[r, :] = table[ids[r], :]        table [V, D], ids [R], out [R, D]
//   argmax_rows:  ids[r]    = first j maximising x[r, j]            x [R, C], ids [R]
//   concat_rows:  out[r, :] = concat(a[r, :], b[r, :])  a [R, Da], b [R, Db], out [R, Da + Db]
//
// gather_rows is the embedding lookup (and, for one-hot inputs, the lookup of
// identity or kernel rows). The ids are always in range: the C layer checks
// every host token against its vocabulary, and the ids the decoder feeds back
// come from argmax_rows over the target vocabulary, which is always in
// [0, C). A kernel still never trusts that with memory: an id outside
// [0, V) reads nothing, its row is written as zeros and *error_flag is set to
// 1. The flag lives in mapped pinned host memory owned by the backend, which
// reads it after its next stream synchronisation and fails the call with
// SEQATTN_ERROR_INTERNAL — so a bug upstream is loud, never a silent zero row,
// and costs no copy or synchronisation of its own. A warp per row: the id is
// one broadcast load, the lanes copy the row coalesced (as float4 when D is a
// multiple of 4 and the pointers are 16-byte aligned, the usual case).
//
// argmax_rows picks the next token from the logits [B, V]: few rows, possibly
// many columns (a word vocabulary of 32k), so a block per row, not a warp —
// one row of a 1-row batch then spreads over 256 threads. Ties and NaN follow
// std::max_element with operator< exactly (the CPU backend's argmax), so CPU
// and GPU agree whenever the logits do:
//   - equal maxima: the lowest index wins (also +0 vs -0, which compare equal);
//   - NaN never wins, except that a NaN at j = 0 gives 0 (std::max_element
//     starts from element 0 and nothing compares greater than NaN);
//   - an all-NaN row gives 0.
// Each thread scans columns in increasing order keeping the first maximum; the
// (value, index) pairs then reduce by "larger value, else lower index", which
// is associative, so the shuffle and shared-memory order cannot change the
// answer. The block shrinks to the row for narrow vocabularies (down to one
// warp), so a 40-character vocabulary does not launch 7 idle warps per row.
//
// concat_rows is two strided copies (cudaMemcpy2DAsync into the left and the
// right columns of out): nothing to compute, and the copy engine's strided
// path is correct for any widths, including a single column.
//
// All three enqueue on the caller's stream, allocate nothing and never wait
// for the device; indices are 64-bit (R·D may pass 2^31).
#include <algorithm>
#include <climits>
#include <cmath>

#include "model.cuh"
#include "check.cuh"
#include "device_utils.cuh"

namespace seqattn::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int64_t kMaxBlocks = 65536;  // grid-stride beyond: plenty to fill any GPU

// T is float, or float4 with dim counted in float4s: the same copy loop either way.
template <class T>
__global__ void __launch_bounds__(kThreads)
    gather_rows_kernel(const T* __restrict__ table, int64_t vocab, int64_t dim,
                       const int32_t* __restrict__ ids, int64_t rows, T* __restrict__ out,
                       int32_t* error_flag) {
  const int lane = int(threadIdx.x) % 32;
  const int64_t warps = int64_t(gridDim.x) * kWarps;
  for (int64_t r = (int64_t(blockIdx.x) * kThreads + threadIdx.x) / 32; r < rows; r += warps) {
    const int32_t id = ids[r];
    T* dst = out + r * dim;
    if (id < 0 || id >= vocab) {
      // Not unrolled: a path that should never run, and unrolling it made
      // ptxas spill in the float4 instance.
#pragma unroll 1
      for (int64_t c = lane; c < dim; c += 32) dst[c] = T{};
      if (lane == 0) *reinterpret_cast<volatile int32_t*>(error_flag) = 1;
      continue;
    }
    const T* src = table + int64_t(id) * dim;
    for (int64_t c = lane; c < dim; c += 32) dst[c] = src[c];
  }
}

// No valid candidate yet (every element seen so far was NaN).
constexpr int32_t kNone = INT32_MAX;

// Keeps the better of (v, i) and (ov, oi): the larger value, on a tie the
// lower index; a kNone side never wins.
__device__ __forceinline__ void keep_better(float& v, int32_t& i, float ov, int32_t oi) {
  if (oi != kNone && (i == kNone || ov > v || (ov == v && oi < i))) {
    v = ov;
    i = oi;
  }
}

__device__ __forceinline__ void warp_argmax(float& v, int32_t& i) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, offset);
    const int32_t oi = __shfl_xor_sync(0xffffffffu, i, offset);
    keep_better(v, i, ov, oi);
  }
}

// blockDim.x is a multiple of 32, at most kThreads.
__global__ void __launch_bounds__(kThreads)
    argmax_rows_kernel(const float* __restrict__ x, int64_t rows, int64_t cols,
                       int32_t* __restrict__ ids) {
  SEQATTN_SHARED(float[kWarps], warp_value);
  SEQATTN_SHARED(int32_t[kWarps], warp_index);
  const int lane = int(threadIdx.x) % 32, warp = int(threadIdx.x) / 32;
  const int warps = int(blockDim.x) / 32;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* row = x + r * cols;
    float v = -INFINITY;
    int32_t i = kNone;
    // Increasing j per thread with a strict '>': a thread keeps its first maximum.
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const float xj = row[j];
      if (!isnan(xj) && (i == kNone || xj > v)) {
        v = xj;
        i = int32_t(j);
      }
    }
    warp_argmax(v, i);
    if (lane == 0) {
      warp_value[warp] = v;
      warp_index[warp] = i;
    }
    __syncthreads();
    if (warp == 0) {
      v = lane < warps ? warp_value[lane] : -INFINITY;
      i = lane < warps ? warp_index[lane] : kNone;
      warp_argmax(v, i);
      if (lane == 0) ids[r] = (i == kNone || isnan(row[0])) ? 0 : i;
    }
    __syncthreads();  // warp 0 has read the slots before the next row refills them
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

void launch_gather_rows(const float* table, int64_t vocab, int64_t dim, const int32_t* ids,
                        int64_t rows, float* out, int32_t* error_flag, cudaStream_t stream) {
  const unsigned blocks = unsigned(std::min(ceil_div(rows, kWarps), kMaxBlocks));
  if (dim % 4 == 0 && aligned16(table) && aligned16(out))
    SEQATTN_LAUNCH(gather_rows_kernel<float4>, blocks, kThreads, 0, stream)(
        reinterpret_cast<const float4*>(table), vocab, dim / 4, ids, rows,
        reinterpret_cast<float4*>(out), error_flag);
  else
    SEQATTN_LAUNCH(gather_rows_kernel<float>, blocks, kThreads, 0, stream)(table, vocab, dim, ids,
                                                                          rows, out, error_flag);
  check_launch("gather_rows kernel launch");
}

void launch_argmax_rows(const float* x, int64_t rows, int64_t cols, int32_t* ids,
                        cudaStream_t stream) {
  const int threads = int(std::min<int64_t>(ceil_div(cols, 32) * 32, kThreads));
  const unsigned blocks = unsigned(std::min(rows, kMaxBlocks));
  SEQATTN_LAUNCH(argmax_rows_kernel, blocks, threads, 0, stream)(x, rows, cols, ids);
  check_launch("argmax_rows kernel launch");
}

void launch_concat_rows(const float* a, int64_t da, const float* b, int64_t db, int64_t rows,
                        float* out, cudaStream_t stream) {
  const size_t f = sizeof(float), pitch = size_t(da + db) * f;
  launch_check(cudaMemcpy2DAsync(out, pitch, a, size_t(da) * f, size_t(da) * f, size_t(rows),
                                 cudaMemcpyDeviceToDevice, stream),
               "cudaMemcpy2DAsync (concat_rows, left columns)");
  launch_check(cudaMemcpy2DAsync(out + da, pitch, b, size_t(db) * f, size_t(db) * f,
                                 size_t(rows), cudaMemcpyDeviceToDevice, stream),
               "cudaMemcpy2DAsync (concat_rows, right columns)");
}

}  // namespace seqattn::cuda
