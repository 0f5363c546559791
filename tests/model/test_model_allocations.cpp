// A steady stream of translate and score calls allocates nothing per decoder
// step: the model's buffers come from its block cache (src/model/block_cache.*)
// and the fast CPU backend keeps a grow-only workspace, so once a shape has
// been seen, a call's heap allocations are a fixed handful (host-side vectors
// of the call itself), the same for 10 decoder steps as for 30.
//
// The count comes from a replacement global operator new/delete defined here
// and, outside AddressSanitizer builds (whose runtime owns malloc), from
// malloc, calloc, realloc and the aligned allocators forwarded to glibc's own.
// The dynamic linker binds libseqattn's (and OpenBLAS's, OpenMP's) calls to
// these definitions in the program; each test first checks that a cold call
// is seen allocating, so a count of 0 cannot come from counting nothing.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "model_test_util.hpp"

#if defined(__SANITIZE_ADDRESS__)
#  define SEQATTN_COUNT_MALLOC 0
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#    define SEQATTN_COUNT_MALLOC 0
#  endif
#endif
#if !defined(SEQATTN_COUNT_MALLOC)
#  if defined(__GLIBC__)
#    define SEQATTN_COUNT_MALLOC 1
#  else
#    define SEQATTN_COUNT_MALLOC 0
#  endif
#endif

namespace {

std::atomic<bool> g_counting{false};
std::atomic<long> g_news{0}, g_mallocs{0};

void count(std::atomic<long>& counter) {
  if (g_counting.load(std::memory_order_relaxed)) counter.fetch_add(1, std::memory_order_relaxed);
}

void* counted_new(size_t bytes) {
  count(g_news);
  void* p = std::malloc(bytes ? bytes : 1);
  if (!p) throw std::bad_alloc();
  return p;
}

void* counted_aligned_new(size_t bytes, std::align_val_t align) {
  count(g_news);
  const auto a = static_cast<size_t>(align);
  void* p = std::aligned_alloc(a, (bytes + a - 1) / a * a);  // a size that is a multiple of a
  if (!p) throw std::bad_alloc();
  return p;
}

}  // namespace

// ------------------------------------------------ replacement operator new

void* operator new(size_t n) { return counted_new(n); }
void* operator new[](size_t n) { return counted_new(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted_new(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted_new(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(size_t n, std::align_val_t a) { return counted_aligned_new(n, a); }
void* operator new[](size_t n, std::align_val_t a) { return counted_aligned_new(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { std::free(p); }

// ------------------------------------------------------ counting malloc

#if SEQATTN_COUNT_MALLOC
// glibc's allocator under its exported internal names, so that these
// replacements (glibc documents replacing malloc) keep its heap.
extern "C" {
void* __libc_malloc(size_t);
void __libc_free(void*);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);

void* malloc(size_t n) noexcept {
  count(g_mallocs);
  return __libc_malloc(n);
}
void free(void* p) noexcept { __libc_free(p); }
void* calloc(size_t n, size_t size) noexcept {
  count(g_mallocs);
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t n) noexcept {
  count(g_mallocs);
  return __libc_realloc(p, n);
}
void* memalign(size_t align, size_t n) noexcept {
  count(g_mallocs);
  return __libc_memalign(align, n);
}
void* aligned_alloc(size_t align, size_t n) noexcept {
  count(g_mallocs);
  return __libc_memalign(align, n);
}
int posix_memalign(void** out, size_t align, size_t n) noexcept {
  if (align < sizeof(void*) || (align & (align - 1)) != 0) return EINVAL;
  count(g_mallocs);
  void* p = __libc_memalign(align, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
}  // extern "C"
#endif

namespace {

using namespace model_test;

struct Counts {
  long news = 0, mallocs = 0;
  bool operator==(const Counts& o) const { return news == o.news && mallocs == o.mallocs; }
};

std::ostream& operator<<(std::ostream& os, const Counts& c) {
  os << c.news << " operator new";
  if (SEQATTN_COUNT_MALLOC) os << ", " << c.mallocs << " malloc";
  return os;
}

// The allocations `f` makes, on any thread.
template <class F>
Counts allocations_of(F&& f) {
  g_news = 0;
  g_mallocs = 0;
  g_counting = true;
  f();
  g_counting = false;
  return {g_news.load(), g_mallocs.load()};
}

// A random model whose greedy decoding never ends early: the <end> token's
// output bias is so low that it is never the argmax, so a call runs exactly
// max_steps decoder steps. Sizes like the date model's, large enough that the
// fast path's products take its threaded branches.
struct Shape;
Spec decoding_spec(const Shape& shape);

// The output layer's product is [B, Hd + He] x [Hd + He, Vt] (bahdanau:
// [B, Hd] x [Hd, Vt]), one per decoder step; the target vocabulary Vt is its N.
struct Shape {
  std::string name;
  int32_t tgt_vocab;
  bool bahdanau = false;  // decoder.kind "bahdanau": a step is attention, concat, GRU, dense
  bool unmasked = false;  // source_mask false, source_padding "pre"
};

Spec decoding_spec(const Shape& shape) {
  const int32_t tgt_vocab = shape.tgt_vocab;
  Spec s;
  s.bahdanau = shape.bahdanau;
  s.mask = !shape.unmasked;
  s.pad_pre = shape.unmasked;
  s.units = 32;
  s.src_embedding = 16;
  s.tgt_embedding = 16;
  s.attention_units = 32;
  s.src_vocab = 40;
  s.tgt_vocab = tgt_vocab;
  s.scale = 0.3;
  s.seed = 11;
  return s;
}

Bytes never_ending_model(const Shape& shape) {
  SafetensorsFile f = random_model(decoding_spec(shape));
  std::vector<float> bias = f.tensors.at("output.bias").f32();
  bias[2] = -1e4f;  // <end>
  f.tensors["output.bias"] = f32_tensor({int64_t(bias.size())}, bias);
  return f.serialize();
}

void PrintTo(const Shape& s, std::ostream* os) { *os << s.name; }

class SteadyState : public ::testing::TestWithParam<Shape> {
 protected:
  void SetUp() override {
    spec_ = decoding_spec(GetParam());
    handle_ = std::make_unique<HandleOwner>(SEQATTN_DEVICE_CPU);
    ASSERT_EQ(handle_->status, SEQATTN_OK) << last_error();
    const Bytes bytes = never_ending_model(GetParam());
    ASSERT_EQ(seqattn_model_load_from_memory(handle_->h, bytes.data(), bytes.size(), &model_.m),
              SEQATTN_OK)
        << last_error();
    Lcg rng(5);
    for (int32_t i = 0; i < kB * kTs; ++i) src_.push_back(2 + rng.below(spec_.src_vocab - 2));
    for (int32_t b = 0; b < kB; ++b) src_len_.push_back(1 + b % kTs);
  }
  void TearDown() override {
    seqattn_model_destroy(model_.m);
    model_.m = nullptr;
  }

  // One translate call of `steps` decoder steps; every row runs all of them.
  void translate(int32_t steps) {
    out_.assign(size_t(kB * steps), -1);
    lengths_.assign(kB, -1);
    att_.assign(size_t(kB * steps * kTs), -1.0f);
    ASSERT_EQ(seqattn_model_translate(handle_->h, model_.m, kB, kTs, src_.data(), src_len_.data(),
                                      steps, out_.data(), lengths_.data(), att_.data()),
              SEQATTN_OK)
        << last_error();
    ASSERT_EQ(lengths_, std::vector<int32_t>(kB, steps)) << "a row stopped early";
  }

  void score(int32_t steps) {
    const int32_t vt = spec_.tgt_vocab;
    tgt_.assign(size_t(kB * steps), 3);
    for (int32_t b = 0; b < kB; ++b) tgt_[size_t(b * steps)] = 1;  // <start>
    probs_.assign(size_t(kB * steps * vt), -1.0f);
    att_.assign(size_t(kB * steps * kTs), -1.0f);
    ASSERT_EQ(seqattn_model_score(handle_->h, model_.m, kB, kTs, src_.data(), src_len_.data(),
                                  steps, tgt_.data(), nullptr, probs_.data(), att_.data()),
              SEQATTN_OK)
        << last_error();
  }

  static constexpr int32_t kB = 24, kTs = 13;
  Spec spec_;
  std::unique_ptr<HandleOwner> handle_;
  ModelOwner model_;
  std::vector<int32_t> src_, src_len_, out_, lengths_, tgt_;
  std::vector<float> att_, probs_;
};

TEST_P(SteadyState, TranslateAllocatesNothingPerStep) {
  // The host vectors the test fills are sized before counting starts.
  out_.reserve(size_t(kB * 30));
  lengths_.reserve(kB);
  att_.reserve(size_t(kB * 30 * kTs));
  const Counts cold = allocations_of([&] { translate(10); });
  ASSERT_GT(cold.news, 0) << "the counter did not see the library's first call allocate: "
                             "is operator new interposed?";
  if (SEQATTN_COUNT_MALLOC) {
    ASSERT_GT(cold.mallocs, 0) << "the counter did not see the library's first call malloc";
  }
  const Counts warm10 = allocations_of([&] { translate(10); });
  translate(30);  // a new shape: its larger buffers go into the cache
  const Counts warm30 = allocations_of([&] { translate(30); });
  const Counts again10 = allocations_of([&] { translate(10); });
  std::printf("translate, Vt = %d: cold %ld new; steady 10 steps: %s; 30 steps: %s\n",
              spec_.tgt_vocab, cold.news,
              ::testing::PrintToString(warm10).c_str(), ::testing::PrintToString(warm30).c_str());
  EXPECT_EQ(warm30, warm10) << "a steady call of 30 decoder steps allocates other than one of 10: "
                               "something allocates per step";
  EXPECT_EQ(again10, warm10) << "the cache lost the 10-step buffers to the 30-step ones";
  EXPECT_LT(warm10.news, cold.news) << "a steady call allocates as much as a cold one";
}

TEST_P(SteadyState, ScoreAllocatesNothingPerStep) {
  const int32_t vt = spec_.tgt_vocab;
  tgt_.reserve(size_t(kB * 30));
  probs_.reserve(size_t(kB * 30 * vt));
  att_.reserve(size_t(kB * 30 * kTs));
  const Counts cold = allocations_of([&] { score(10); });
  ASSERT_GT(cold.news, 0) << "the counter did not see the library's first call allocate";
  const Counts warm10 = allocations_of([&] { score(10); });
  score(30);
  const Counts warm30 = allocations_of([&] { score(30); });
  std::printf("score, Vt = %d: cold %ld new; steady 10 steps: %s; 30 steps: %s\n",
              spec_.tgt_vocab, cold.news,
              ::testing::PrintToString(warm10).c_str(), ::testing::PrintToString(warm30).c_str());
  EXPECT_EQ(warm30, warm10) << "a steady score of 30 target steps allocates other than one of 10";
}

// The promise is the fast CPU path's. (The reference allocates in every op,
// by design: it is written to be read, not to be fast.) Vt = 14 is the date
// model's; 32 a multiple of the SIMD width; 20 and 40 (N % 16 in 1..8) are
// where OpenBLAS 0.3.21's SkylakeX small-matrix sgemm mallocs on every call,
// which src/fast/gemm.cpp keeps the output layer away from.
INSTANTIATE_TEST_SUITE_P(FastCpu, SteadyState,
                         ::testing::Values(Shape{"vocab14", 14}, Shape{"vocab32", 32},
                                           Shape{"vocab20", 20}, Shape{"vocab40", 40},
                                           Shape{"bahdanau_vocab14", 14, true},
                                           Shape{"bahdanau_vocab40", 40, true},
                                           Shape{"unmasked_pre_vocab14", 14, false, true}),
                         [](const auto& p) { return p.param.name; });

// A sequence head (seqattn_model_predict) keeps its buffers between calls:
// after the first call at a batch size, a call of that size or smaller
// allocates nothing at all, with or without the pooling weights. Two GRU
// layers of 32 units over 40 steps and two Dense layers, so that the fast
// path's products take their threaded branches; T = 300 steps in a second
// head goes past the pooling's stack scratch (256 steps).
std::string head_config(int32_t steps) {
  return R"({"input_features": 3, "steps": )" + std::to_string(steps) +
         R"(, "rnn": [{"cell": "gru", "units": 32, "gru_variant": "reset_after"},
                      {"cell": "simple_rnn", "units": 24}],
             "pooling": {},
             "dense": [{"units": 16, "activation": "relu"}, {"units": 5, "activation": "softmax"}]})";
}

Bytes random_head(int32_t steps) {
  Lcg rng(3);
  SafetensorsFile f;
  f.metadata = {{"format", "seqattn.sequence_head"}, {"format_version", "1"},
                {"config", head_config(steps)}};
  const auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    size_t n = 1;
    for (int64_t d : shape) n *= size_t(d);
    f.tensors[name] = f32_tensor(std::move(shape), rng.vec(n, 0.3));
  };
  add("rnn.0.kernel", {3, 96});
  add("rnn.0.recurrent_kernel", {32, 96});
  add("rnn.0.bias", {2, 96});
  add("rnn.1.kernel", {32, 24});
  add("rnn.1.recurrent_kernel", {24, 24});
  add("rnn.1.bias", {24});
  add("pooling.w", {24});
  add("pooling.b", {steps});
  add("dense.0.kernel", {24, 16});
  add("dense.0.bias", {16});
  add("dense.1.kernel", {16, 5});
  add("dense.1.bias", {5});
  return f.serialize();
}

class HeadSteadyState : public ::testing::TestWithParam<int32_t> {};

TEST_P(HeadSteadyState, PredictAllocatesNothingOnceWarm) {
  const int32_t T = GetParam(), F = 3, N = 5, kB = 24;
  HandleOwner handle(SEQATTN_DEVICE_CPU);
  ASSERT_EQ(handle.status, SEQATTN_OK) << last_error();
  ModelOwner model;
  const Bytes bytes = random_head(T);
  ASSERT_EQ(seqattn_model_load_from_memory(handle.h, bytes.data(), bytes.size(), &model.m),
            SEQATTN_OK)
      << last_error();
  Lcg rng(9);
  const std::vector<float> x = rng.vec(size_t(kB * T * F), 1.0);
  std::vector<float> y(size_t(kB * N)), w(size_t(kB * T));
  const auto predict = [&](int32_t batch, bool weights) {
    ASSERT_EQ(seqattn_model_predict(handle.h, model.m, batch, T, F, x.data(), y.data(),
                                    weights ? w.data() : nullptr),
              SEQATTN_OK)
        << last_error();
  };
  const Counts cold = allocations_of([&] { predict(kB, true); });
  ASSERT_GT(cold.news, 0) << "the counter did not see the library's first call allocate";
  const Counts warm = allocations_of([&] { predict(kB, true); });
  const Counts no_weights = allocations_of([&] { predict(kB, false); });
  const Counts smaller = allocations_of([&] { predict(7, true); });
  std::printf("predict, T = %d: cold %ld new; steady: %s; without weights: %s; batch 7: %s\n", T,
              cold.news, ::testing::PrintToString(warm).c_str(),
              ::testing::PrintToString(no_weights).c_str(),
              ::testing::PrintToString(smaller).c_str());
  EXPECT_EQ(warm, Counts{}) << "a steady predict call allocates";
  EXPECT_EQ(no_weights, Counts{}) << "predict without the pooling weights allocates";
  EXPECT_EQ(smaller, Counts{}) << "a smaller batch after a larger one allocates";
}

INSTANTIATE_TEST_SUITE_P(FastCpu, HeadSteadyState, ::testing::Values(40, 300),
                         [](const auto& p) { return "steps" + std::to_string(p.param); });

}  // namespace
