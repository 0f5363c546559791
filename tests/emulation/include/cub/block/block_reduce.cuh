// The emulated build's cub::BlockReduce: CUB's contract (the aggregate is
// valid in thread 0 only; the caller synchronises before reusing the
// storage), not its algorithm. Each thread posts its value, a barrier, then
// thread 0 folds them in thread order. Reusing the storage without a
// __syncthreads in between is reported, as CUB forbids it.
#pragma once

#include "../../../emu.hpp"

namespace cub {

template <class T, int kThreads>
class BlockReduce {
 public:
  struct TempStorage {
    T slot[kThreads];
  };
  explicit BlockReduce(TempStorage& storage) : s_(storage) {
    if (blockDim.x != unsigned(kThreads))
      throw seqattn::emu::KernelError("cub::BlockReduce<T, " + std::to_string(kThreads) +
                                      "> in a block of " + std::to_string(blockDim.x));
  }
  template <class Op>
  T Reduce(T x, Op op) {
    seqattn::emu::collective_begin(&s_, "cub::BlockReduce");
    s_.slot[threadIdx.x] = x;
    __syncthreads();
    T r = x;
    if (threadIdx.x == 0) {
      r = s_.slot[0];
      for (int i = 1; i < kThreads; ++i) r = op(r, s_.slot[i]);
    }
    seqattn::emu::collective_end(&s_);
    return r;
  }
  T Sum(T x) {
    return Reduce(x, [](const T& a, const T& b) { return a + b; });
  }

 private:
  TempStorage& s_;
};

}  // namespace cub
