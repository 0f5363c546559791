// The CPU emulation of the CUDA device layer (kernels/device_utils.cuh's
// SEQATTN_EMULATION branch): kernels/*.cu compile unchanged as host C++ and
// run here, a block's threads as OS threads, so that every kernel runs in CI
// on a machine without a GPU (tests/emulation/test_emulation.cpp).
//
// What it checks on top of running the kernel:
//   - every thread of a block reaches the same __syncthreads call site (file
//     and line), and none exits while others wait (a deadlock is reported,
//     not hung on);
//   - warp shuffles are a rendezvous of the 32 lanes of a warp at one call
//     site, with the full mask;
//   - cp.async: 16- or 4-byte aligned source and destination, a destination
//     inside the block's shared memory, src_bytes in [0, size], nothing left
//     in flight at exit; the copies happen at issue or are deferred to the
//     cp.async.wait_group that retires their group (both are legal hardware
//     behaviour, and a wrong wait count shows only in the second);
//   - vector (float4) accesses through the layer and float4 kernel arguments
//     are 16-byte aligned;
//   - dynamic and static shared memory is allocated per block at its exact
//     size (AddressSanitizer sees overruns) and filled with NaN first;
//   - more than 48 KB of dynamic shared memory needs cudaFuncSetAttribute.
// The scheduling (Options) is free-running threads, or one thread at a time
// in increasing or decreasing thread order, switching only at barriers and
// shuffles, to a thread of the same warp first: deterministic, and a missing barrier then reads NaN or stale
// data instead of depending on timing. Blocks run one after another; the grid
// can be capped so that grid-stride loops run several work items per block.
//
// Mutations (the tests that show these checks catch real bugs), from the
// environment: SEQATTN_EMU_MUTATE="sync:<file name>:<line>" turns that
// __syncthreads into nothing; "wait:<k>" adds k to every cp.async wait count.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

// ---- the CUDA language as plain C++
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// __shared__ is deliberately not defined: kernels declare shared memory with
// the layer's SEQATTN_SHARED / SEQATTN_DYNAMIC_SHARED, which the emulation
// allocates per block.

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct alignas(16) float4 {
  float x, y, z, w;
};

extern thread_local uint3 threadIdx, blockIdx;
extern thread_local dim3 blockDim, gridDim;

inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a < b ? b : a; }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a < b ? b : a; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a < b ? b : a; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a < b ? b : a; }
using std::isnan;

// ---- the runtime API the launchers use
typedef struct CUstream_st* cudaStream_t;
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
};
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4
};
cudaError_t cudaGetLastError();
const char* cudaGetErrorName(cudaError_t e);
const char* cudaGetErrorString(cudaError_t e);
cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch,
                              size_t width, size_t height, cudaMemcpyKind kind,
                              cudaStream_t stream);

namespace seqattn::emu {

// A check of the emulation failed (or the kernel threw): the launch throws it.
struct KernelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Order { kConcurrent, kForward, kReverse };
struct Options {
  Order order = Order::kConcurrent;
  bool deferred_copies = false;  // cp.async copies at the wait instead of at issue
  unsigned max_grid = 0;         // > 0: run at most this many blocks (grid-stride loops)
  bool fill_huge = false;        // shared memory starts as FLT_MAX instead of NaN
};
void set_options(const Options& o);
Options options();
std::string describe(const Options& o);
// Launches since the process started (a test can check one happened).
int64_t launch_count();

// ---- device-side operations (called from kernel threads)
void syncthreads(const char* file, int line);
uint64_t shfl_xor_bits(unsigned mask, uint64_t bits, int lane_mask, const char* file, int line);
void* dynamic_shared_base();
// A block-wide collective (the cub shim) starts and ends using `storage`: it
// may be reused only after a __syncthreads, CUB's contract.
void collective_begin(const void* storage, const char* what);
void collective_end(const void* storage);
void* shared_var(const void* tag, size_t size, size_t align);
void cp_async(void* dst, const void* src, int size, int src_bytes);
void cp_async_commit();
void cp_async_wait(int pending);
void check_aligned(const void* p, size_t align, const char* what);
// FAST's MUFU instructions at their stated error bounds (emu.cpp).
float tanh_approx(float x);
float ex2_approx_ftz(float x);

template <class T>
T shfl_xor(unsigned mask, T v, int lane_mask, const char* file, int line) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>);
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  bits = shfl_xor_bits(mask, bits, lane_mask, file, line);
  std::memcpy(&v, &bits, sizeof(T));
  return v;
}

template <class T>
T* dynamic_shared() {
  return static_cast<T*>(dynamic_shared_base());
}

template <class T>
T& shared(const void* tag) {
  static_assert(std::is_trivially_default_constructible_v<T>);
  return *static_cast<T*>(shared_var(tag, sizeof(T), alignof(T)));
}

// ---- launch
void run_grid(const void* kernel, dim3 grid, dim3 block, size_t smem,
              const std::function<void()>& thread_body);
void set_function_max_shared(const void* kernel, int bytes);

template <class T>
void check_pointer_arg(const T& arg) {
  if constexpr (std::is_pointer_v<T>)
    if constexpr (std::is_same_v<std::remove_cv_t<std::remove_pointer_t<T>>, float4>)
      check_aligned(arg, 16, "a float4* kernel argument");
}

template <class... P>
struct Launcher {
  void (*kernel)(P...);
  dim3 grid, block;
  size_t smem;
  template <class... A>
  void operator()(A&&... a) const {
    const std::tuple<std::decay_t<P>...> args(std::forward<A>(a)...);
    std::apply([](const auto&... x) { (check_pointer_arg(x), ...); }, args);
    run_grid(reinterpret_cast<const void*>(kernel), grid, block, smem,
             [&] { std::apply(kernel, args); });  // each thread gets its own copy
  }
};

template <class... P>
Launcher<P...> launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t) {
  return {kernel, grid, block, smem};
}

}  // namespace seqattn::emu

template <class K>
cudaError_t cudaFuncSetAttribute(K* kernel, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaErrorInvalidValue;
  if (value < 0 || value > 227 * 1024) return cudaErrorInvalidValue;  // sm_90's opt-in limit
  seqattn::emu::set_function_max_shared(reinterpret_cast<const void*>(kernel), value);
  return cudaSuccess;
}

#define __syncthreads() ::seqattn::emu::syncthreads(__FILE__, __LINE__)
#define __shfl_xor_sync(mask, v, lane_mask) \
  ::seqattn::emu::shfl_xor((mask), (v), (lane_mask), __FILE__, __LINE__)
