// Small device helpers shared by the kernels in this folder: warp reductions,
// cp.async staging, and the two math modes' tanh and exp.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace seqattn::cuda {

__host__ __device__ constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Butterfly reductions: every lane ends with the result, which the callers
// need (each lane then scales its own elements).
__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) x += __shfl_xor_sync(0xffffffffu, x, offset);
  return x;
}

__device__ __forceinline__ float warp_max(float x) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2)
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, offset));
  return x;
}

// cp.async (sm_80+): global -> shared without passing through registers, so
// the next tile loads while this one is computed. The source size may be less
// than the copy size (down to 0): the rest of the destination is zero-filled,
// which is how tiles are padded past the end of a tensor. `src` must be a
// valid global address even when nothing is read from it.
__device__ __forceinline__ void cp_async_16(void* smem_dst, const void* src, int src_bytes) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem_dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(src_bytes));
}

__device__ __forceinline__ void cp_async_4(void* smem_dst, const void* src, int src_bytes) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem_dst));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src),
               "r"(src_bytes));
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

// Waits until at most `kPending` of this thread's committed groups are in flight.
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
}

// The math modes. PRECISE: CUDA's tanhf and expf (a few ulp). FAST: one MUFU
// instruction each; tanh.approx.f32 has a maximum relative error of 2^-11
// over the whole range and ex2.approx is within 2 ulp of 2^x (PTX ISA), the
// bound kernels/attention.cu carries through the softmax.
template <bool kFast>
__device__ __forceinline__ float tanh_mode(float x) {
  if constexpr (kFast) {
    float y;
    asm("tanh.approx.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
  } else {
    return tanhf(x);
  }
}

template <bool kFast>
__device__ __forceinline__ float exp_mode(float x) {
  if constexpr (kFast) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x * 1.4426950408889634f));  // log2(e)
    return y;
  } else {
    return expf(x);
  }
}

}  // namespace seqattn::cuda
