// The fast CPU path's thread pool (src/fast/thread_pool.hpp), compiled into
// this test: every item of every job runs exactly once and before its call
// returns, however the jobs' sizes change from one to the next — the case in
// which a worker still looking at a closed job could once take an item of
// it after its caller had returned (under ASan that is a use after scope).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "fast/thread_pool.hpp"

namespace seqattn::fast {
namespace {

// More threads than this machine's cores, so that workers are preempted
// in the middle of jobs, which is where the pool's protocol is tested.
ThreadPool& pool() {
  static ThreadPool& p = [] () -> ThreadPool& {
    setenv("SEQATTN_NUM_THREADS", "4", 1);
    return ThreadPool::instance();
  }();
  return p;
}

TEST(ThreadPool, EveryItemOnceBeforeTheCallReturns) {
  ASSERT_EQ(pool().threads(), 4);
  std::mt19937 rng(7);
  for (int job = 0; job < 20000; ++job) {
    // Sizes that alternate between growing and shrinking, 1 to 64 items.
    const int64_t n = 1 + int64_t(rng() % 64);
    std::vector<std::atomic<int>> runs(static_cast<size_t>(n));  // NOLINT
    for (auto& r : runs) r.store(0);
    std::atomic<int> outstanding{int(n)};
    auto body = [&](int64_t i) {
      runs[size_t(i)].fetch_add(1);
      outstanding.fetch_sub(1);
      ASSERT_LT(ThreadPool::worker_index(), pool().threads());
    };
    pool().run(n, 4, body);
    ASSERT_EQ(outstanding.load(), 0) << "job " << job << " returned before its items ran";
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(runs[size_t(i)].load(), 1) << "job " << job << " item " << i << " of " << n;
  }
}

TEST(ThreadPool, AnExceptionReachesTheCallerAndThePoolGoesOn) {
  auto body = [](int64_t i) {
    if (i == 5) throw std::runtime_error("item 5");
  };
  EXPECT_THROW(pool().run(64, 4, body), std::runtime_error);
  std::atomic<int64_t> sum{0};
  auto add = [&](int64_t i) { sum.fetch_add(i); };
  pool().run(100, 4, add);
  EXPECT_EQ(sum.load(), 99 * 100 / 2);
}

// A call from inside an item (or from a second thread while the pool is
// busy) runs its items on its own thread rather than waiting for the pool.
TEST(ThreadPool, NestedAndConcurrentCallsRunInline) {
  std::atomic<int> inner{0};
  auto inner_body = [&](int64_t) { inner.fetch_add(1); };
  auto outer = [&](int64_t) { pool().run(10, 4, inner_body); };
  pool().run(8, 4, outer);
  EXPECT_EQ(inner.load(), 80);

  std::atomic<int64_t> a{0}, b{0};
  auto add_a = [&](int64_t i) { a.fetch_add(i); };
  auto add_b = [&](int64_t i) { b.fetch_add(i); };
  std::thread other([&] {
    for (int k = 0; k < 200; ++k) pool().run(50, 4, add_b);
  });
  for (int k = 0; k < 200; ++k) pool().run(50, 4, add_a);
  other.join();
  EXPECT_EQ(a.load(), 200 * (49 * 50 / 2));
  EXPECT_EQ(b.load(), 200 * (49 * 50 / 2));
}

}  // namespace
}  // namespace seqattn::fast
