// The emulated device of tests/emulation/emu.hpp: blocks, barriers, warp
// shuffles, cp.async and shared memory, with the checks listed there.
#include "emu.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <sstream>
#include <thread>
#include <vector>

thread_local uint3 threadIdx, blockIdx;
thread_local dim3 blockDim, gridDim;

namespace seqattn::emu {
namespace {

// ------------------------------------------------------------ mutations

struct Mutation {
  std::string sync_file;  // a __syncthreads at this file name and line does nothing
  int sync_line = -1;
  int wait_shift = 0;  // added to every cp.async wait count
};

const Mutation& mutation() {
  static const Mutation m = [] {
    Mutation r;
    const char* env = std::getenv("SEQATTN_EMU_MUTATE");
    if (!env || !*env) return r;
    const std::string s = env;
    if (s.rfind("sync:", 0) == 0) {
      const size_t colon = s.rfind(':');
      r.sync_file = s.substr(5, colon - 5);
      r.sync_line = std::atoi(s.c_str() + colon + 1);
    } else if (s.rfind("wait:", 0) == 0) {
      r.wait_shift = std::atoi(s.c_str() + 5);
    } else {
      std::fprintf(stderr, "SEQATTN_EMU_MUTATE=%s: expected sync:<file>:<line> or wait:<k>\n",
                   env);
      std::abort();
    }
    std::fprintf(stderr, "emulation: mutation SEQATTN_EMU_MUTATE=%s\n", env);
    return r;
  }();
  return m;
}

const char* base_name(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

std::string site(const char* file, int line) {
  return std::string(base_name(file)) + ":" + std::to_string(line);
}

// ---------------------------------------------------------------- blocks

// Thrown in a kernel thread to unwind it once the block has failed.
struct Abort {};

enum class State { kRunning, kBarrier, kWarp, kDone };

struct Copy {
  void* dst;
  const void* src;
  int size, src_bytes;
};

void do_copy(const Copy& c) {
  if (c.src_bytes > 0) std::memcpy(c.dst, c.src, size_t(c.src_bytes));
  std::memset(static_cast<char*>(c.dst) + c.src_bytes, 0, size_t(c.size - c.src_bytes));
}

thread_local bool g_fill_huge = false;  // set per launch, read by the block's threads

struct Region {
  char* p;
  size_t size;
  size_t align;
};

// Shared memory starts as NaN, or as the largest float (Options::fill_huge):
// NaN is what fmaxf ignores, so a max over unwritten slots needs the second.
void* alloc_nan(size_t size, size_t align) {
  align = std::max<size_t>(align, 16);
  char* p = static_cast<char*>(::operator new(size, std::align_val_t(align)));
  const float nan = g_fill_huge ? std::numeric_limits<float>::max()
                                : std::numeric_limits<float>::quiet_NaN();
  size_t i = 0;
  for (; i + 4 <= size; i += 4) std::memcpy(p + i, &nan, 4);
  for (; i < size; ++i) p[i] = char(0xff);
  return p;
}

void free_region(const Region& r) { ::operator delete(r.p, std::align_val_t(std::max<size_t>(r.align, 16))); }

struct Warp {
  int count = 0;
  const char* file = nullptr;
  int line = 0;
  uint64_t val[32] = {}, out[32] = {};
  int src[32] = {};
};

struct Block {
  Block(int n_, Order order_, bool deferred_) : n(n_), order(order_), deferred(deferred_),
      st(size_t(n_), State::kRunning), released(size_t(n_), 1), cv(size_t(n_)),
      warps(size_t((n_ + 31) / 32)), pending(size_t(n_)), open(size_t(n_)) {}
  ~Block() {
    if (dyn.p) free_region(dyn);
    for (auto& kv : statics) free_region(kv.second);
  }

  const int n;
  const Order order;
  const bool deferred;
  bool fill_huge = false;
  std::mutex m;
  std::vector<State> st;
  std::vector<char> released;
  std::vector<std::condition_variable> cv;
  int token = 0;  // the running thread in the sequential orders
  int bar_count = 0;
  const char* bar_file = nullptr;
  int bar_line = 0;
  std::vector<Warp> warps;
  bool aborted = false;
  std::string error;
  Region dyn{nullptr, 0, 16};
  std::map<const void*, Region> statics;
  // cp.async state, each thread's own (no lock): committed groups and the open one.
  std::vector<std::deque<std::vector<Copy>>> pending;
  std::vector<std::vector<Copy>> open;
  // Barriers each thread has passed, and when it last used a collective's storage.
  std::vector<uint64_t> passed = std::vector<uint64_t>(size_t(n));
  std::vector<std::map<const void*, uint64_t>> collective_use =
      std::vector<std::map<const void*, uint64_t>>(size_t(n));

  bool sequential() const { return order != Order::kConcurrent; }
  int first() const { return order == Order::kReverse ? n - 1 : 0; }
  int next(int i) const { return order == Order::kReverse ? (i + n - 1) % n : (i + 1) % n; }

  // With the lock held.
  void fail_locked(const std::string& what) {
    if (!aborted) {
      aborted = true;
      error = what;
    }
    for (auto& c : cv) c.notify_all();
  }

  std::string states_locked() const {
    std::ostringstream os;
    int shown = 0;
    for (int i = 0; i < n && shown < 6; ++i) {
      if (st[size_t(i)] == State::kRunning) continue;
      ++shown;
      os << " thread " << i << ": "
         << (st[size_t(i)] == State::kDone      ? "exited"
             : st[size_t(i)] == State::kBarrier ? "at __syncthreads " + site(bar_file, bar_line)
                                                : "at a warp shuffle");
      os << ";";
    }
    return os.str();
  }

  // After thread `tid` stopped running (blocked or exited): hand over the
  // token, or report a deadlock when no thread can run.
  void after_stop_locked(int tid) {
    bool any_blocked = false, any_running = false;
    for (int i = 0; i < n; ++i) {
      any_running = any_running || st[size_t(i)] == State::kRunning;
      any_blocked = any_blocked || st[size_t(i)] == State::kBarrier || st[size_t(i)] == State::kWarp;
    }
    if (!any_running) {
      if (any_blocked)
        fail_locked("deadlock: no thread of the block can run (a barrier or shuffle not reached "
                    "by every thread);" + states_locked());
      return;
    }
    if (!sequential()) return;
    // The same warp first, so that one warp runs as far ahead of the others
    // as the barriers let it (a missing barrier then shows).
    int i = -1;
    const int base = tid - tid % 32, lanes = std::min(32, n - base);
    for (int k = 1; k <= lanes && i < 0; ++k) {
      const int l = order == Order::kReverse ? (tid - base - k + 32 * lanes) % lanes
                                             : (tid - base + k) % lanes;
      if (st[size_t(base + l)] == State::kRunning) i = base + l;
    }
    if (i < 0) {
      i = next(tid);
      while (st[size_t(i)] != State::kRunning) i = next(i);
    }
    token = i;
    cv[size_t(i)].notify_one();
  }

  // Blocks the calling thread (state already set, released = 0) until released.
  void wait_locked(std::unique_lock<std::mutex>& lk, int tid) {
    after_stop_locked(tid);
    cv[size_t(tid)].wait(lk, [&] {
      return aborted || (released[size_t(tid)] && (!sequential() || token == tid));
    });
    if (aborted) throw Abort{};
  }

  void release_locked(int i) {
    st[size_t(i)] = State::kRunning;
    released[size_t(i)] = 1;
    if (!sequential()) cv[size_t(i)].notify_one();
  }
};

thread_local Block* t_block = nullptr;
thread_local int t_tid = 0;

Block& block() {
  if (!t_block) throw KernelError("a device function was called outside an emulated kernel");
  return *t_block;
}

[[noreturn]] void fail(const std::string& what) {
  Block& b = block();
  {
    std::lock_guard<std::mutex> lk(b.m);
    b.fail_locked("thread " + std::to_string(t_tid) + " of block " + std::to_string(blockIdx.x) +
                  ": " + what);
  }
  throw Abort{};
}

// ------------------------------------------------------------- the pool

// Worker threads reused across blocks and launches: creating 256 OS threads
// per block would dominate the run time.
class Pool {
 public:
  static Pool& get() {
    static Pool pool;
    return pool;
  }
  // Runs body(tid) for tid < n on n workers and returns when all are done.
  void run(int n, const std::function<void(int)>& body) {
    std::unique_lock<std::mutex> lk(m_);
    while (int(threads_.size()) < n) {
      const int id = int(threads_.size());
      // A new worker has seen every generation before this one.
      threads_.emplace_back([this, id, seen = generation_] { work(id, seen); });
    }
    body_ = &body;
    n_ = n;
    done_ = 0;
    ++generation_;
    start_.notify_all();
    done_cv_.wait(lk, [&] { return done_ == n_; });
    body_ = nullptr;
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
      start_.notify_all();
    }
    for (auto& t : threads_) t.join();
  }

 private:
  void work(int id, uint64_t seen) {
    std::unique_lock<std::mutex> lk(m_);
    for (;;) {
      start_.wait(lk, [&] { return stop_ || (generation_ != seen && id < n_); });
      if (stop_) return;
      seen = generation_;
      const std::function<void(int)>* body = body_;
      lk.unlock();
      (*body)(id);
      lk.lock();
      if (++done_ == n_) done_cv_.notify_one();
    }
  }

  std::mutex m_;
  std::condition_variable start_, done_cv_;
  std::vector<std::thread> threads_;
  const std::function<void(int)>* body_ = nullptr;
  int n_ = 0, done_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

std::mutex g_mutex;  // options, function attributes, last error
Options g_options;
std::map<const void*, int> g_max_shared;
cudaError_t g_last_error = cudaSuccess;
std::atomic<int64_t> g_launches{0};

// A well-defined deterministic hash of a float, for the sign of FAST's error.
uint32_t mix(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u ^= u >> 16;
  u *= 0x7feb352dU;
  u ^= u >> 15;
  u *= 0x846ca68bU;
  u ^= u >> 16;
  return u;
}

}  // namespace

void set_options(const Options& o) {
  std::lock_guard<std::mutex> lk(g_mutex);
  g_options = o;
}

Options options() {
  std::lock_guard<std::mutex> lk(g_mutex);
  return g_options;
}

std::string describe(const Options& o) {
  std::string s = o.order == Order::kConcurrent ? "concurrent"
                  : o.order == Order::kForward  ? "forward"
                                                : "reverse";
  s += o.deferred_copies ? "_deferred" : "_immediate";
  s += o.max_grid ? "_grid" + std::to_string(o.max_grid) : "_fullgrid";
  if (o.fill_huge) s += "_fillmax";
  return s;
}

int64_t launch_count() { return g_launches.load(); }

void set_function_max_shared(const void* kernel, int bytes) {
  std::lock_guard<std::mutex> lk(g_mutex);
  g_max_shared[kernel] = bytes;
}

void syncthreads(const char* file, int line) {
  const Mutation& mu = mutation();
  if (mu.sync_line == line && mu.sync_file == base_name(file)) return;  // the barrier removed
  Block& b = block();
  const int tid = t_tid;
  std::unique_lock<std::mutex> lk(b.m);
  if (b.aborted) throw Abort{};
  if (b.bar_count == 0) {
    b.bar_file = file;
    b.bar_line = line;
  } else if (b.bar_line != line || std::strcmp(b.bar_file, file) != 0) {
    b.fail_locked("thread " + std::to_string(tid) + " of block " + std::to_string(blockIdx.x) +
                  " reached __syncthreads at " + site(file, line) + " while others wait at " +
                  site(b.bar_file, b.bar_line));
    throw Abort{};
  }
  ++b.passed[size_t(tid)];
  if (++b.bar_count == b.n) {
    b.bar_count = 0;
    for (int i = 0; i < b.n; ++i)
      if (i != tid) b.release_locked(i);
    if (b.sequential()) {  // restart from the first thread of the order
      b.token = b.first();
      if (b.token != tid) {
        b.cv[size_t(b.token)].notify_one();
        b.cv[size_t(tid)].wait(lk, [&] { return b.aborted || b.token == tid; });
        if (b.aborted) throw Abort{};
      }
    }
    return;
  }
  b.st[size_t(tid)] = State::kBarrier;
  b.released[size_t(tid)] = 0;
  b.wait_locked(lk, tid);
}

uint64_t shfl_xor_bits(unsigned mask, uint64_t bits, int lane_mask, const char* file, int line) {
  if (mask != 0xffffffffu) fail("a shuffle with a partial mask at " + site(file, line));
  if (lane_mask < 0 || lane_mask > 31) fail("a shuffle lane mask outside [0, 32)");
  Block& b = block();
  const int tid = t_tid, lane = tid % 32;
  if (b.n % 32 != 0) fail("a shuffle in a block whose size is not a multiple of 32");
  std::unique_lock<std::mutex> lk(b.m);
  if (b.aborted) throw Abort{};
  Warp& w = b.warps[size_t(tid / 32)];
  if (w.count == 0) {
    w.file = file;
    w.line = line;
  } else if (w.line != line || std::strcmp(w.file, file) != 0) {
    b.fail_locked("lane " + std::to_string(lane) + " of warp " + std::to_string(tid / 32) +
                  " shuffles at " + site(file, line) + " while others of its warp do at " +
                  site(w.file, w.line));
    throw Abort{};
  }
  w.val[lane] = bits;
  w.src[lane] = lane ^ lane_mask;
  if (++w.count == 32) {
    w.count = 0;
    for (int l = 0; l < 32; ++l) w.out[l] = w.val[w.src[l]];
    const int base = tid - lane;
    for (int l = 0; l < 32; ++l)
      if (l != lane) b.release_locked(base + l);
    return w.out[lane];
  }
  b.st[size_t(tid)] = State::kWarp;
  b.released[size_t(tid)] = 0;
  b.wait_locked(lk, tid);
  return w.out[lane];
}

void collective_begin(const void* storage, const char* what) {
  Block& b = block();
  const auto& uses = b.collective_use[size_t(t_tid)];
  const auto it = uses.find(storage);
  if (it != uses.end() && it->second == b.passed[size_t(t_tid)])
    fail(std::string(what) + ": its storage reused with no __syncthreads since its last use");
}

void collective_end(const void* storage) {
  Block& b = block();
  b.collective_use[size_t(t_tid)][storage] = b.passed[size_t(t_tid)];
}

void* dynamic_shared_base() { return block().dyn.p; }

void* shared_var(const void* tag, size_t size, size_t align) {
  Block& b = block();
  std::lock_guard<std::mutex> lk(b.m);
  auto it = b.statics.find(tag);
  if (it == b.statics.end())
    it = b.statics.emplace(tag, Region{static_cast<char*>(alloc_nan(size, align)), size, align})
             .first;
  return it->second.p;
}

void check_aligned(const void* p, size_t align, const char* what) {
  if (reinterpret_cast<uintptr_t>(p) % align != 0) {
    std::ostringstream os;
    os << what << " at " << p << " is not " << align << "-byte aligned";
    if (t_block) fail(os.str());
    throw KernelError(os.str());
  }
}

void cp_async(void* dst, const void* src, int size, int src_bytes) {
  Block& b = block();
  const int tid = t_tid;
  auto what = [&] { return "cp.async of " + std::to_string(size) + " bytes"; };
  if (reinterpret_cast<uintptr_t>(dst) % unsigned(size) != 0)
    fail(what() + ": the shared destination is not " + std::to_string(size) + "-byte aligned");
  if (reinterpret_cast<uintptr_t>(src) % unsigned(size) != 0)
    fail(what() + ": the global source is not " + std::to_string(size) + "-byte aligned");
  if (!src) fail(what() + " from a null source");
  if (src_bytes < 0 || src_bytes > size)
    fail(what() + " with src_bytes " + std::to_string(src_bytes));
  // The destination must lie in this block's shared memory.
  const char* d = static_cast<const char*>(dst);
  bool inside = b.dyn.p && d >= b.dyn.p && d + size <= b.dyn.p + b.dyn.size;
  if (!inside) {
    std::lock_guard<std::mutex> lk(b.m);
    for (const auto& kv : b.statics)
      inside = inside || (d >= kv.second.p && d + size <= kv.second.p + kv.second.size);
  }
  if (!inside) fail(what() + ": the destination is not in the block's shared memory");
  const Copy c{dst, src, size, src_bytes};
  if (b.deferred)
    b.open[size_t(tid)].push_back(c);
  else
    do_copy(c);
}

void cp_async_commit() {
  Block& b = block();
  auto& open = b.open[size_t(t_tid)];
  b.pending[size_t(t_tid)].push_back(std::move(open));
  open.clear();
}

void cp_async_wait(int pending) {
  Block& b = block();
  pending += mutation().wait_shift;
  if (pending < 0) pending = 0;
  auto& groups = b.pending[size_t(t_tid)];
  while (int(groups.size()) > pending) {
    for (const Copy& c : groups.front())
      if (c.dst) do_copy(c);
    groups.pop_front();
  }
}

// FAST mode. tanh.approx.f32: maximum relative error 2^-11 (PTX ISA); the
// exact value moved by just under the bound (the final rounding to float
// stays within it), up or down by a hash of x. ex2.approx.ftz.f32: within
// 2 ulp of the correctly rounded 2^x (PTX ISA), here exactly 2 ulp away, and
// subnormal inputs and results flushed to zero.
float tanh_approx(float x) {
  if (std::isnan(x)) return x;
  const double rel = std::ldexp(1.0, -11) * (1.0 - std::ldexp(1.0, -10));
  const double y = std::tanh(double(x));
  return float(y * (mix(x) & 1 ? 1.0 + rel : 1.0 - rel));
}

float ex2_approx_ftz(float x) {
  if (std::isnan(x)) return x;
  if (std::fpclassify(x) == FP_SUBNORMAL) x = 0.0f;
  float y = float(std::exp2(double(x)));
  if (y == 0.0f || std::isinf(y)) return y;
  const float toward = mix(x) & 1 ? std::numeric_limits<float>::infinity() : 0.0f;
  y = std::nextafter(std::nextafter(y, toward), toward);
  if (std::fpclassify(y) == FP_SUBNORMAL) y = 0.0f;
  return y;
}

void run_grid(const void* kernel, dim3 grid, dim3 block_dim, size_t smem,
              const std::function<void()>& body) {
  const Options o = options();
  {
    std::lock_guard<std::mutex> lk(g_mutex);
    const auto it = g_max_shared.find(kernel);
    const size_t limit = it == g_max_shared.end() ? 48 * 1024 : size_t(it->second);
    const uint64_t threads = uint64_t(block_dim.x) * block_dim.y * block_dim.z;
    if (grid.y != 1 || grid.z != 1 || block_dim.y != 1 || block_dim.z != 1)
      throw KernelError("the emulation runs 1-D grids and blocks only");
    if (grid.x == 0 || threads == 0 || threads > 1024 || smem > limit) {
      g_last_error = smem > limit ? cudaErrorInvalidValue : cudaErrorInvalidConfiguration;
      return;  // as CUDA: the launch fails, cudaGetLastError says why
    }
  }
  ++g_launches;
  const unsigned blocks = o.max_grid ? std::min(grid.x, o.max_grid) : grid.x;
  const int n = int(block_dim.x);
  for (unsigned bx = 0; bx < blocks; ++bx) {
    Block b(n, o.order, o.deferred_copies);
    b.fill_huge = o.fill_huge;
    b.token = b.first();
    g_fill_huge = o.fill_huge;
    b.dyn = Region{static_cast<char*>(alloc_nan(smem, 16)), smem, 16};
    Pool::get().run(n, [&](int tid) {
      threadIdx = uint3{unsigned(tid), 0, 0};
      blockIdx = uint3{bx, 0, 0};
      blockDim = dim3(unsigned(n));
      gridDim = dim3(blocks);
      t_block = &b;
      t_tid = tid;
      g_fill_huge = b.fill_huge;
      try {
        if (b.sequential()) {
          std::unique_lock<std::mutex> lk(b.m);
          b.cv[size_t(tid)].wait(lk, [&] { return b.aborted || b.token == tid; });
          if (b.aborted) throw Abort{};
        }
        body();
        bool in_flight = !b.open[size_t(tid)].empty();
        for (const auto& g : b.pending[size_t(tid)]) in_flight = in_flight || !g.empty();
        if (in_flight) fail("exited with cp.async copies not waited for");
      } catch (const Abort&) {
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lk(b.m);
        b.fail_locked("thread " + std::to_string(tid) + " threw: " + e.what());
      }
      {
        std::lock_guard<std::mutex> lk(b.m);
        b.st[size_t(tid)] = State::kDone;
        if (!b.aborted) b.after_stop_locked(tid);
      }
      t_block = nullptr;
    });
    if (b.aborted)
      throw KernelError("emulated kernel failed in block " + std::to_string(bx) + " (" +
                        describe(o) + "): " + b.error);
  }
}

}  // namespace seqattn::emu

cudaError_t cudaGetLastError() {
  std::lock_guard<std::mutex> lk(seqattn::emu::g_mutex);
  const cudaError_t e = seqattn::emu::g_last_error;
  seqattn::emu::g_last_error = cudaSuccess;
  return e;
}

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
  }
  return "unknown error";
}

cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch,
                              size_t width, size_t height, cudaMemcpyKind, cudaStream_t) {
  if (width > dpitch || width > spitch) return cudaErrorInvalidValue;
  for (size_t r = 0; r < height; ++r)
    std::memcpy(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch,
                width);
  return cudaSuccess;
}
