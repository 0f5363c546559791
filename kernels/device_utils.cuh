// The device layer of the kernels in this folder: warp reductions, cp.async
// staging, the two math modes' tanh and exp, float4 loads, shared memory
// declarations and the launch. Kernels use these (and the CUDA built-ins
// threadIdx, blockIdx, blockDim, gridDim, __syncthreads, __shfl_xor_sync)
// and nothing else of the device, so that the same .cu source compiles with
// nvcc for the GPU and, with SEQATTN_EMULATION defined, as host C++ against
// the CPU emulation of tests/emulation/ (emu.hpp), which runs every kernel in
// CI and checks barriers, shuffles, cp.async groups and alignment.
//   SEQATTN_LAUNCH(kernel, grid, block, smem, stream)(args...)
//                                      kernel<<<grid, block, smem, stream>>>(args...)
//   SEQATTN_SHARED(type, name);          __shared__ type name;
//   SEQATTN_DYNAMIC_SHARED(type, name);  extern __shared__ type name[];
#pragma once

#if defined(SEQATTN_EMULATION)
#include "emulation/emu.hpp"
#else
#include <cuda_runtime.h>
#endif

#include <cstdint>

#if defined(SEQATTN_EMULATION)
#define SEQATTN_LAUNCH(kernel, grid, block, smem, stream) \
  ::seqattn::emu::launch(kernel, grid, block, smem, stream)
#define SEQATTN_DYNAMIC_SHARED(type, name) type* const name = ::seqattn::emu::dynamic_shared<type>()
#define SEQATTN_SHARED(type, name)          \
  static const char name##_emu_tag_ = 0; \
  auto& name = ::seqattn::emu::shared<type>(&name##_emu_tag_)
#else
#define SEQATTN_LAUNCH(kernel, grid, block, smem, stream) kernel<<<grid, block, smem, stream>>>
#define SEQATTN_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#define SEQATTN_SHARED(type, name) __shared__ ::seqattn::cuda::shared_type<type> name
#endif

namespace seqattn::cuda {

// Lets SEQATTN_SHARED name array types: shared_type<float[8][32]> x;
template <class T>
using shared_type = T;

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
#if defined(SEQATTN_EMULATION)
  ::seqattn::emu::cp_async(smem_dst, src, 16, src_bytes);
#else
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem_dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(src_bytes));
#endif
}

__device__ __forceinline__ void cp_async_4(void* smem_dst, const void* src, int src_bytes) {
#if defined(SEQATTN_EMULATION)
  ::seqattn::emu::cp_async(smem_dst, src, 4, src_bytes);
#else
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem_dst));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src),
               "r"(src_bytes));
#endif
}

__device__ __forceinline__ void cp_async_commit() {
#if defined(SEQATTN_EMULATION)
  ::seqattn::emu::cp_async_commit();
#else
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}

// Waits until at most `kPending` of this thread's committed groups are in flight.
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
#if defined(SEQATTN_EMULATION)
  ::seqattn::emu::cp_async_wait(kPending);
#else
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
#endif
}

// A float4 from 16-byte aligned memory (the emulation checks the alignment).
__device__ __forceinline__ float4 load_float4(const float* p) {
#if defined(SEQATTN_EMULATION)
  ::seqattn::emu::check_aligned(p, 16, "a float4 load");
  float4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
#else
  return *reinterpret_cast<const float4*>(p);
#endif
}

// The math modes. PRECISE: CUDA's tanhf and expf (a few ulp). FAST: one MUFU
// instruction each; tanh.approx.f32 has a maximum relative error of 2^-11
// over the whole range and ex2.approx is within 2 ulp of 2^x (PTX ISA), the
// bound kernels/attention.cu carries through the softmax.
template <bool kFast>
__device__ __forceinline__ float tanh_mode(float x) {
  if constexpr (kFast) {
#if defined(SEQATTN_EMULATION)
    return ::seqattn::emu::tanh_approx(x);  // the exact value off by the bound
#else
    float y;
    asm("tanh.approx.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
#endif
  } else {
    return tanhf(x);
  }
}

template <bool kFast>
__device__ __forceinline__ float exp_mode(float x) {
  if constexpr (kFast) {
#if defined(SEQATTN_EMULATION)
    return ::seqattn::emu::ex2_approx_ftz(x * 1.4426950408889634f);
#else
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x * 1.4426950408889634f));  // log2(e)
    return y;
#endif
  } else {
    return expf(x);
  }
}

}  // namespace seqattn::cuda
