// The CUDA workspace's growth policy (src/cuda/retiring_buffer.hpp) on host
// memory, so it runs without a GPU: a buffer handed out stays allocated until
// release(), growth at least doubles (the retired buffers never exceed the
// current one), and a failed allocation changes nothing.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <new>
#include <set>
#include <vector>

#include "cuda/retiring_buffer.hpp"

namespace {

using seqattn::cuda::RetiringBuffer;

// Host bytes that record their own lifetime in `live`.
struct Tracked {
  std::set<const char*>* live;
  void operator()(char* p) const {
    live->erase(p);
    delete[] p;
  }
};
using Memory = std::unique_ptr<char, Tracked>;

struct Allocator {
  std::set<const char*>* live;
  int calls = 0;
  Memory operator()(size_t n) {
    ++calls;
    char* p = new char[n];
    live->insert(p);
    return Memory(p, Tracked{live});
  }
};

constexpr size_t kMiB = size_t(1) << 20;

TEST(RetiringBuffer, AGrownBufferKeepsEveryBufferItHandedOut) {
  std::set<const char*> live;
  RetiringBuffer<Memory> ws;
  Allocator alloc{&live};
  std::vector<char*> handed;
  for (size_t bytes : {size_t(100), 3 * kMiB, 5 * kMiB, 40 * kMiB}) {
    char* p = ws.reserve(bytes, alloc);
    std::memset(p, 1, bytes);  // the whole request is usable
    handed.push_back(p);
  }
  EXPECT_EQ(alloc.calls, 4);
  EXPECT_EQ(ws.retired_count(), 3u);
  for (char* p : handed)  // what a graph captured earlier would still point at
    EXPECT_EQ(live.count(p), 1u) << "a buffer handed out was freed before release()";
  ws.release();
  EXPECT_TRUE(live.empty()) << live.size() << " buffers outlived release()";
  EXPECT_EQ(ws.capacity(), 0u);
  EXPECT_EQ(ws.retired_bytes(), 0u);
}

TEST(RetiringBuffer, SmallerOrEqualRequestsReuseTheBuffer) {
  std::set<const char*> live;
  RetiringBuffer<Memory> ws;
  Allocator alloc{&live};
  char* first = ws.reserve(2 * kMiB, alloc);
  EXPECT_EQ(ws.reserve(2 * kMiB, alloc), first);
  EXPECT_EQ(ws.reserve(1, alloc), first);
  EXPECT_EQ(alloc.calls, 1);
  EXPECT_EQ(ws.capacity(), 2 * kMiB);
  ws.release();
}

// Growth at least doubles, so however the requests creep up, the retired
// buffers together stay below the current one (the handle's memory is at
// most twice its largest buffer) and the number of allocations is
// logarithmic in the largest request.
TEST(RetiringBuffer, RetiredBytesStayBelowTheCurrentBuffer) {
  std::set<const char*> live;
  RetiringBuffer<Memory> ws;
  Allocator alloc{&live};
  for (size_t bytes = 1; bytes <= 64 * kMiB; bytes += kMiB / 2) {
    ws.reserve(bytes, alloc);
    ASSERT_GE(ws.capacity(), bytes);
    ASSERT_EQ(ws.capacity() % kMiB, 0u);
    ASSERT_LE(ws.retired_bytes(), ws.capacity()) << "after a request of " << bytes << " bytes";
  }
  EXPECT_LE(alloc.calls, 8) << "64 MiB reached in creeping steps should take about log2(64) + 1";
  ws.release();
}

TEST(RetiringBuffer, AFailedAllocationChangesNothing) {
  std::set<const char*> live;
  RetiringBuffer<Memory> ws;
  Allocator alloc{&live};
  char* p = ws.reserve(kMiB, alloc);
  auto failing = [](size_t) -> Memory { throw std::bad_alloc(); };
  EXPECT_THROW(ws.reserve(8 * kMiB, failing), std::bad_alloc);
  EXPECT_EQ(ws.capacity(), kMiB);
  EXPECT_EQ(ws.retired_count(), 0u);
  EXPECT_EQ(ws.reserve(kMiB, alloc), p);
  ws.release();
}

}  // namespace
