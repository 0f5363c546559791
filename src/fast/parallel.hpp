// Threading of the fast CPU backend.
//
// One pool of threads — OpenMP's — does all the work; OpenBLAS is told to
// run single-threaded (gemm.cpp) and is called from inside these regions on
// row blocks, so the two never oversubscribe the cores.
//
// Why the shapes of parallelism are what they are, measured on a 2-core
// machine with another process busy on one core:
// - Work is handed out in many small items (schedule(dynamic, 1)): a thread
//   that shares its core with another process simply takes fewer items, and
//   the call waits at the end for at most one item of a slowed thread, not
//   for a static half of the work.
// - A call uses one thread per kWorkPerThread units of work (about 0.1 ms of
//   it), so small calls — a decoder step, a short GRU — stay on the calling
//   thread and never wait for a descheduled worker (the scheduler's tick, 4 ms
//   here, is what a busy core makes a barrier cost).
// - Recurrences split the batch into independent slices that each thread
//   runs through all time steps, so there is no barrier per step.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <exception>

namespace seqattn::fast {

// About 0.1 ms of one core's work, in multiply-adds (or tanh evaluations × 8).
inline constexpr double kWorkPerThread = 4e5;

// Threads for a call of `work` units split into `items` pieces.
inline int threads_for(double work, int64_t items) {
  const int64_t by_work = int64_t(work / kWorkPerThread);
  const int64_t n = std::min<int64_t>({int64_t(omp_get_max_threads()), items, by_work});
  return int(std::max<int64_t>(n, 1));
}

// for (i = 0; i < n; ++i) body(i) on `threads` threads, items handed out one
// at a time. An exception may not leave an OpenMP region (std::terminate), so
// the first one is carried out and rethrown on the calling thread.
template <class Body>
void parallel_for(int64_t n, int threads, Body&& body) {
  if (threads <= 1 || n <= 1) {
    for (int64_t i = 0; i < n; ++i) body(i);
    return;
  }
  std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int64_t i = 0; i < n; ++i) {
    try {
      body(i);
    } catch (...) {
#pragma omp critical(seqattn_fast_parallel_for_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

// The index of the calling thread inside parallel_for (0 outside).
inline int thread_index() { return omp_get_thread_num(); }

}  // namespace seqattn::fast
