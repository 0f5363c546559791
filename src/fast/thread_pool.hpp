// The fast CPU backend's threads: one pool for the process, and a call that
// finishes when its work is done, not when every thread has checked in.
//
// Why not an OpenMP parallel region: a region ends at a barrier that every
// thread of the team must reach, so on a machine where another process is
// busy, a worker the scheduler has not run yet holds the call until it does
// — a scheduler tick (4 ms here) at a time. Measured on this project's 2-core
// machine with one core kept busy, that is what turned an 8.7 ms model call
// into 40 ms (bench/busy_core.py). Here the caller works through the items
// itself; workers join when they wake and take items while there are any; a
// worker that wakes after the last item has been taken does nothing, and the
// call does not wait for it. What the call can still wait for is an item
// that a preempted worker holds, which is why the items are small.
//
// One job runs at a time. A second caller (another handle on another thread)
// that finds the pool busy runs its items on its own thread: the cores are
// taken either way, and nobody waits for anybody.
#pragma once

#include <cstdint>
#include <exception>

namespace seqattn::fast {

class ThreadPool {
 public:
  // The process's pool: SEQATTN_NUM_THREADS threads if set, else OpenMP's
  // default (OMP_NUM_THREADS, else the cores this process may use), the
  // calling thread included.
  static ThreadPool& instance();

  int threads() const { return threads_; }

  // body(item) for item in [0, n), on up to `threads` threads (the caller
  // among them). The first exception thrown is rethrown here, after every
  // item taken has finished; items not yet taken then are skipped.
  template <class Body>
  void run(int64_t n, int threads, Body& body) {
    auto call = [](void* ctx, int64_t i) { (*static_cast<Body*>(ctx))(i); };
    run_items(n, threads, call, &body);
  }

  // 0 on the calling thread, 1… on the pool's workers: the slot of the
  // per-thread scratch a body may use.
  static int worker_index();

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

 private:
  using Call = void (*)(void*, int64_t);
  explicit ThreadPool(int threads);
  ~ThreadPool();
  void run_items(int64_t n, int threads, Call call, void* ctx);
  struct State;
  State* state_;
  int threads_;
};

}  // namespace seqattn::fast
