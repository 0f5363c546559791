// ThreadPool (thread_pool.hpp says why it exists).
//
// The job's claim word packs a generation (high 24 bits) with the next item
// (low 40 bits), so a worker that woke for an earlier job can never take an
// item of a later one: its compare-and-swap fails on the generation. The
// caller closes the job by exchanging the claim word, which tells it exactly
// how many items were taken, and waits for that many to finish.
#include "fast/thread_pool.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace seqattn::fast {
namespace {

constexpr int kIndexBits = 40;
constexpr uint64_t kIndexMask = (uint64_t(1) << kIndexBits) - 1;
thread_local int t_worker = 0;

int configured_threads() {
  if (const char* s = std::getenv("SEQATTN_NUM_THREADS")) {
    const int n = std::atoi(s);
    if (n >= 1) return std::min(n, 1024);
  }
  return std::max(1, omp_get_max_threads());
}

}  // namespace

struct ThreadPool::State {
  std::atomic<bool> busy{false};  // a job is running (a second caller runs serially)

  std::mutex m;
  std::condition_variable wake, finished;
  uint64_t generation = 0;  // of the latest job; guarded by m
  bool stopping = false;    // guarded by m
  std::vector<std::thread> workers;

  // The job of `generation`, written before the generation is published.
  Call call = nullptr;
  void* ctx = nullptr;
  std::atomic<int64_t> n{0};            // read by late workers while the next job is set up
  int helpers = 0;                      // workers wanted (threads − 1)
  int joined = 0;                       // workers that came for it; guarded by m
  std::atomic<uint64_t> claim{0};       // generation << 40 | next item
  std::atomic<int64_t> done{0};         // items finished
  std::atomic<bool> abort{false};       // an item threw: take no more
  std::atomic<bool> caller_waiting{false};
  std::exception_ptr error;             // guarded by m

  static uint64_t tag_of(uint64_t g) { return (g & 0xFFFFFF) << kIndexBits; }

  // Takes and runs items of generation g until none are left.
  void work(uint64_t g) {
    const uint64_t tag = tag_of(g);
    while (!abort.load(std::memory_order_acquire)) {
      uint64_t c = claim.load(std::memory_order_acquire);
      int64_t item;
      do {
        if ((c & ~kIndexMask) != tag) return;
        item = int64_t(c & kIndexMask);
        if (item >= n.load(std::memory_order_relaxed)) return;
      } while (!claim.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel));
      try {
        call(ctx, item);
      } catch (...) {
        std::lock_guard<std::mutex> lock(m);
        if (!error) error = std::current_exception();
        abort.store(true, std::memory_order_release);
      }
      done.fetch_add(1, std::memory_order_seq_cst);
      if (caller_waiting.load(std::memory_order_seq_cst)) {
        std::lock_guard<std::mutex> lock(m);
        finished.notify_all();
      }
    }
  }

  void worker_loop(int index) {
    t_worker = index;
    uint64_t seen = 0;
    for (;;) {
      uint64_t g;
      {
        std::unique_lock<std::mutex> lock(m);
        wake.wait(lock, [&] { return stopping || generation != seen; });
        if (stopping) return;
        g = seen = generation;
        // A job that wants fewer helpers than there are workers leaves the rest asleep.
        if (joined++ >= helpers) continue;
      }
      work(g);
    }
  }
};

// Never destroyed: at exit, a thread may still be inside a call (or exit may
// be called from a worker), and joining or freeing the pool under it would
// crash; the process's end stops the workers.
ThreadPool& ThreadPool::instance() {
  static ThreadPool* pool = new ThreadPool(configured_threads());
  return *pool;
}

int ThreadPool::worker_index() { return t_worker; }

ThreadPool::ThreadPool(int threads) : state_(new State), threads_(threads) {}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(state_->m);
    state_->stopping = true;
  }
  state_->wake.notify_all();
  for (auto& t : state_->workers) t.join();
  delete state_;
}

void ThreadPool::run_items(int64_t n, int threads, Call call, void* ctx) {
  State& s = *state_;
  threads = int(std::min<int64_t>({int64_t(threads), int64_t(threads_), n}));
  bool expected = false;
  if (threads <= 1 || !s.busy.compare_exchange_strong(expected, true)) {
    for (int64_t i = 0; i < n; ++i) call(ctx, i);  // small, nested, or the pool is taken
    return;
  }
  struct Release {
    std::atomic<bool>& busy;
    ~Release() { busy.store(false, std::memory_order_release); }
  } release{s.busy};

  uint64_t g;
  {
    std::lock_guard<std::mutex> lock(s.m);
    // Workers start on first use: a process that never runs a parallel call
    // never has them.
    while (int(s.workers.size()) < threads_ - 1) {
      const int index = int(s.workers.size()) + 1;
      s.workers.emplace_back([&s, index] { s.worker_loop(index); });
    }
    g = ++s.generation;
    s.call = call;
    s.ctx = ctx;
    s.n.store(n, std::memory_order_relaxed);
    s.helpers = threads - 1;
    s.joined = 0;
    s.error = nullptr;
    s.abort.store(false, std::memory_order_relaxed);
    s.caller_waiting.store(false, std::memory_order_relaxed);
    s.done.store(0, std::memory_order_relaxed);
    s.claim.store(State::tag_of(g), std::memory_order_release);
  }
  s.wake.notify_all();
  const int saved = t_worker;
  t_worker = 0;
  s.work(g);
  t_worker = saved;
  // Close the job: no item can be taken after this exchange, and its result
  // says how many were. Wait for those (never for a worker that took none).
  // The closed word's index is the largest there is, not n: a worker that
  // read the word when it said "n taken" must fail its compare-and-swap even
  // after the next job has raised n (it would otherwise take item n of a job
  // whose caller is gone).
  const uint64_t last = s.claim.exchange(State::tag_of(g) | kIndexMask, std::memory_order_acq_rel);
  const int64_t taken = std::min<int64_t>(int64_t(last & kIndexMask), n);
  std::unique_lock<std::mutex> lock(s.m);
  s.caller_waiting.store(true, std::memory_order_seq_cst);
  s.finished.wait(lock, [&] { return s.done.load(std::memory_order_seq_cst) >= taken; });
  if (s.error) std::rethrow_exception(s.error);
}

}  // namespace seqattn::fast
