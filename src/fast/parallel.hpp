// Threading of the fast CPU backend: how many threads a call uses, and the
// loop that hands out its items (on ThreadPool, thread_pool.hpp, which says
// why it is not an OpenMP region).
//
// OpenBLAS is told to run single-threaded (gemm.cpp) and is called from
// these items on row blocks, so the two never oversubscribe the cores.
//
// - Work is handed out in many small items: a thread that shares its core
//   with another process simply takes fewer of them, and the call waits at
//   the end for at most the one item a preempted thread holds.
// - A call uses one thread per kWorkPerThread units of work (about 0.1 ms of
//   it), so small calls — a decoder step, a short GRU — stay on the calling
//   thread and wait for no one.
// - Recurrences split the batch into independent slices that each thread
//   runs through all time steps, so there is no barrier per step.
#pragma once

#include <algorithm>
#include <cstdint>

#include "fast/thread_pool.hpp"

namespace seqattn::fast {

// About 0.1 ms of one core's work, in multiply-adds (a tanh counts as 8).
inline constexpr double kWorkPerThread = 4e5;

// Threads for a call of `work` units split into `items` pieces.
inline int threads_for(double work, int64_t items) {
  const int64_t by_work = int64_t(work / kWorkPerThread);
  const int64_t n = std::min<int64_t>({int64_t(ThreadPool::instance().threads()), items, by_work});
  return int(std::max<int64_t>(n, 1));
}

// for (i = 0; i < n; ++i) body(i) on up to `threads` threads, the calling
// thread among them; the first exception is rethrown here.
template <class Body>
void parallel_for(int64_t n, int threads, Body&& body) {
  if (threads <= 1 || n <= 1) {
    for (int64_t i = 0; i < n; ++i) body(i);
    return;
  }
  ThreadPool::instance().run(n, threads, body);
}

// The slot of the calling thread's scratch inside parallel_for: 0 for the
// caller, 1… for the pool's workers (below ThreadPool::instance().threads()).
inline int thread_index() { return ThreadPool::worker_index(); }

}  // namespace seqattn::fast
