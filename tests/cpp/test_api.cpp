// The API around the ops: version and SOVERSION, status strings, the
// thread-local last error, handles on several threads, CUDA requests on this
// build, and the memory functions of a CPU handle.
#include <cstdint>
#include <limits>
#include <thread>

#include "oracle.hpp"
#include "test_util.hpp"

// A test below asks seqattn_malloc for SIZE_MAX bytes; under AddressSanitizer
// an impossible allocation must come back as NULL (as it does from glibc)
// rather than abort the process. ASAN_OPTIONS still overrides this. Visible
// and exported (tests/cpp_tests.cmake) so that the runtime's lookup finds it.
extern "C" __attribute__((visibility("default"))) const char* __asan_default_options() {
  return "allocator_may_return_null=1";
}

namespace seqattn_test {
namespace {

TEST(Version, RuntimeMacrosCMakeAndSonameAgree) {
  EXPECT_EQ(seqattn_version(), uint32_t(SEQATTN_VERSION));
  EXPECT_EQ(seqattn::version(), seqattn_version());
  EXPECT_EQ(SEQATTN_VERSION,
            SEQATTN_VERSION_MAJOR * 10000 + SEQATTN_VERSION_MINOR * 100 + SEQATTN_VERSION_PATCH);
  // The project version CMake configured, passed in by tests/cpp_tests.cmake.
  EXPECT_EQ(SEQATTN_VERSION_MAJOR, SEQATTN_TEST_PROJECT_VERSION_MAJOR);
  EXPECT_EQ(SEQATTN_VERSION_MINOR, SEQATTN_TEST_PROJECT_VERSION_MINOR);
  EXPECT_EQ(SEQATTN_VERSION_PATCH, SEQATTN_TEST_PROJECT_VERSION_PATCH);
  const std::string soname = SEQATTN_TEST_SONAME;  // the built library's, e.g. libseqattn.so.0
  const std::string suffix = ".so." + std::to_string(SEQATTN_VERSION_MAJOR);
  ASSERT_GE(soname.size(), suffix.size());
  EXPECT_EQ(soname.substr(soname.size() - suffix.size()), suffix) << "SONAME " << soname;
}

TEST(StatusString, NamesEveryStatus) {
  const std::pair<seqattn_status, const char*> known[] = {
      {SEQATTN_OK, "SEQATTN_OK"},
      {SEQATTN_ERROR_INVALID_ARGUMENT, "SEQATTN_ERROR_INVALID_ARGUMENT"},
      {SEQATTN_ERROR_UNSUPPORTED, "SEQATTN_ERROR_UNSUPPORTED"},
      {SEQATTN_ERROR_NO_DEVICE, "SEQATTN_ERROR_NO_DEVICE"},
      {SEQATTN_ERROR_OUT_OF_MEMORY, "SEQATTN_ERROR_OUT_OF_MEMORY"},
      {SEQATTN_ERROR_DEVICE, "SEQATTN_ERROR_DEVICE"},
      {SEQATTN_ERROR_IO, "SEQATTN_ERROR_IO"},
      {SEQATTN_ERROR_FORMAT, "SEQATTN_ERROR_FORMAT"},
      {SEQATTN_ERROR_INTERNAL, "SEQATTN_ERROR_INTERNAL"}};
  for (const auto& [status, name] : known) EXPECT_STREQ(seqattn_status_string(status), name);
  // 15 is a value of the enum in C++ (0..15), not a status: still a string, not NULL.
  const char* unknown = seqattn_status_string(static_cast<seqattn_status>(15));
  ASSERT_NE(unknown, nullptr);
  EXPECT_GT(std::string(unknown).size(), 0u);
  for (const auto& entry : known) EXPECT_STRNE(unknown, entry.second);
}

// An error on one thread is not visible on another, and does not overwrite it.
TEST(LastError, IsPerThread) {
  ASSERT_EQ(seqattn_synchronize(nullptr), SEQATTN_ERROR_INVALID_ARGUMENT);
  const std::string mine = seqattn_last_error();
  ASSERT_TRUE(contains(mine, "handle")) << mine;

  std::string other_before, other_after;
  std::thread other([&] {
    other_before = seqattn_last_error();  // a fresh thread has had no failure
    seqattn::Handle cpu;
    seqattn_additive_attention_forward(cpu.get(), nullptr, nullptr, nullptr, nullptr, nullptr,
                                       nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
    other_after = seqattn_last_error();
  });
  other.join();
  EXPECT_EQ(other_before, "");
  EXPECT_TRUE(contains(other_after, "dims")) << other_after;
  EXPECT_EQ(std::string(seqattn_last_error()), mine);
}

// Separate handles are independent: two threads at once give bit-identical
// results to the same calls made one after the other.
TEST(Threads, TwoHandlesAtOnceMatchSequentialRuns) {
  const seqattn_attention_dims d{3, 11, 7, 8, 6, 9};
  const size_t B = 3, Te = 11, Td = 7, He = 8, Hd = 6, A = 9;
  struct Inputs {
    std::vector<float> h, s, W, U, v;
  };
  auto inputs = [&](uint32_t seed) {
    return Inputs{random_vector(B * Te * He, seed), random_vector(B * Td * Hd, seed + 1),
                  random_vector(He * A, seed + 2), random_vector(Hd * A, seed + 3),
                  random_vector(A, seed + 4)};
  };
  const Inputs in[2] = {inputs(100), inputs(200)};
  const int32_t enc[3] = {11, 5, 0};
  const seqattn_rnn_dims rd{3, 9, 8, 6};
  const std::vector<float> gru_kernel = random_vector(8 * 18, 300),
                           gru_rec = random_vector(6 * 18, 301);

  struct Result {
    std::vector<float> context, weights, h_last;
  };
  auto work = [&](seqattn_handle handle, const Inputs& x) {
    Result r{sentinels(B * Td * He), sentinels(B * Td * Te), sentinels(B * 6)};
    for (int rep = 0; rep < 20; ++rep) {  // long enough for the two threads to overlap
      EXPECT_EQ(seqattn_additive_attention_forward(handle, &d, x.h.data(), x.s.data(), enc, nullptr,
                                                   x.W.data(), x.U.data(), nullptr, x.v.data(),
                                                   r.context.data(), r.weights.data()),
                SEQATTN_OK);
      // The encoder outputs as a GRU input sequence [B, T=9, I=8].
      EXPECT_EQ(
          seqattn_gru_forward(handle, &rd, SEQATTN_GRU_RESET_AFTER, 0, x.h.data(), nullptr, nullptr,
                              gru_kernel.data(), gru_rec.data(), nullptr, nullptr, r.h_last.data()),
          SEQATTN_OK);
    }
    return r;
  };

  seqattn::Handle first, second;
  const Result seq0 = work(first.get(), in[0]), seq1 = work(second.get(), in[1]);
  Result par0, par1;
  std::thread t0([&] { par0 = work(first.get(), in[0]); });
  std::thread t1([&] { par1 = work(second.get(), in[1]); });
  t0.join();
  t1.join();
  EXPECT_TRUE(all_equal(par0.context, seq0.context, "thread 0 context"));
  EXPECT_TRUE(all_equal(par0.weights, seq0.weights, "thread 0 weights"));
  EXPECT_TRUE(all_equal(par0.h_last, seq0.h_last, "thread 0 h_last"));
  EXPECT_TRUE(all_equal(par1.context, seq1.context, "thread 1 context"));
  EXPECT_TRUE(all_equal(par1.weights, seq1.weights, "thread 1 weights"));
  EXPECT_TRUE(all_equal(par1.h_last, seq1.h_last, "thread 1 h_last"));
  const oracle::Attention want = oracle::additive_attention(d, in[1].h, in[1].s, enc, nullptr,
                                                            in[1].W, in[1].U, nullptr, in[1].v);
  EXPECT_TRUE(all_close(par1.context, want.context, 1e-5, 1e-5, "thread 1 context vs oracle"));
}

// What a CUDA handle request gives depends on the build and the machine; each
// refusal says why.
TEST(CudaRequest, RefusedWithAReasonWhenUnavailable) {
  const bool built_with_cuda = (seqattn_build_features() & SEQATTN_FEATURE_CUDA) != 0;
  const int32_t devices = seqattn_cuda_device_count();
  EXPECT_GE(devices, 0);
  if (!built_with_cuda) {
    EXPECT_EQ(devices, 0);
  }

  seqattn_handle_options options;
  seqattn_handle_options_init(&options);
  options.device = SEQATTN_DEVICE_CUDA;
  static int marker;
  seqattn_handle out = reinterpret_cast<seqattn_handle>(&marker);
  const seqattn_status status = seqattn_handle_create(&options, &out);
  if (!built_with_cuda) {
    EXPECT_EQ(status, SEQATTN_ERROR_UNSUPPORTED);
    EXPECT_GT(std::string(seqattn_last_error()).size(), 0u);
    EXPECT_EQ(out, reinterpret_cast<seqattn_handle>(&marker));
  } else if (devices == 0) {
    EXPECT_EQ(status, SEQATTN_ERROR_NO_DEVICE);
    EXPECT_GT(std::string(seqattn_last_error()).size(), 0u);
    EXPECT_EQ(out, reinterpret_cast<seqattn_handle>(&marker));
  } else {
    ASSERT_EQ(status, SEQATTN_OK) << seqattn_last_error();
    seqattn_device device = SEQATTN_DEVICE_CPU;
    EXPECT_EQ(seqattn_handle_get_device(out, &device), SEQATTN_OK);
    EXPECT_EQ(device, SEQATTN_DEVICE_CUDA);
    seqattn_handle_destroy(out);
    // An ordinal past the last device is a bad argument, not a crash.
    options.device_ordinal = devices;
    out = reinterpret_cast<seqattn_handle>(&marker);
    EXPECT_NE(seqattn_handle_create(&options, &out), SEQATTN_OK);
    EXPECT_EQ(out, reinterpret_cast<seqattn_handle>(&marker));
  }
}

TEST(BuildFeatures, OnlyKnownBits) {
  EXPECT_EQ(seqattn_build_features() & ~uint32_t(SEQATTN_FEATURE_CUDA | SEQATTN_FEATURE_OPENMP),
            0u);
}

using CpuMemory = CpuTest;

TEST_F(CpuMemory, HandleReportsCpu) {
  seqattn_device device = SEQATTN_DEVICE_CUDA;
  ASSERT_EQ(seqattn_handle_get_device(h(), &device), SEQATTN_OK);
  EXPECT_EQ(device, SEQATTN_DEVICE_CPU_REFERENCE);
  seqattn::Handle fast(SEQATTN_DEVICE_CPU);
  ASSERT_EQ(seqattn_handle_get_device(fast.get(), &device), SEQATTN_OK);
  EXPECT_EQ(device, SEQATTN_DEVICE_CPU);
  EXPECT_EQ(seqattn_synchronize(h()), SEQATTN_OK);
}

TEST_F(CpuMemory, MallocCopyRoundTripAndFree) {
  const std::vector<float> src = random_vector(37, 1);
  void* p = nullptr;
  ASSERT_EQ(seqattn_malloc(h(), src.size() * sizeof(float), &p), SEQATTN_OK);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % alignof(float), 0u);
  ASSERT_EQ(seqattn_copy_to_device(h(), p, src.data(), src.size() * sizeof(float)), SEQATTN_OK);
  std::vector<float> back = sentinels(src.size());
  ASSERT_EQ(seqattn_copy_to_host(h(), back.data(), p, src.size() * sizeof(float)), SEQATTN_OK);
  EXPECT_TRUE(all_equal(back, src, "round trip"));
  // Zero-byte copies need no pointers.
  EXPECT_EQ(seqattn_copy_to_device(h(), nullptr, nullptr, 0), SEQATTN_OK);
  EXPECT_EQ(seqattn_copy_to_host(h(), nullptr, nullptr, 0), SEQATTN_OK);
  EXPECT_EQ(seqattn_free(h(), p), SEQATTN_OK);
}

TEST_F(CpuMemory, ZeroBytesGivesNull) {
  int marker = 0;
  void* p = &marker;
  ASSERT_EQ(seqattn_malloc(h(), 0, &p), SEQATTN_OK);
  EXPECT_EQ(p, nullptr);
}

// A size no allocator can satisfy is refused, never served by a smaller block.
TEST_F(CpuMemory, ImpossibleSizeIsRefused) {
  for (size_t bytes : {std::numeric_limits<size_t>::max(), std::numeric_limits<size_t>::max() - 31,
                       std::numeric_limits<size_t>::max() / 2}) {
    SCOPED_TRACE("bytes = " + std::to_string(bytes));
    int marker = 0;
    void* p = &marker;
    const seqattn_status status = seqattn_malloc(h(), bytes, &p);
    EXPECT_TRUE(status == SEQATTN_ERROR_OUT_OF_MEMORY || status == SEQATTN_ERROR_INVALID_ARGUMENT)
        << seqattn_status_string(status);
    EXPECT_EQ(p, static_cast<void*>(&marker));
    if (status == SEQATTN_OK) seqattn_free(h(), p);
  }
}

// Destroying a handle releases what was allocated on it (LeakSanitizer checks).
TEST(HandleLifetime, DestroyReleasesOutstandingAllocations) {
  seqattn_handle_options options;
  seqattn_handle_options_init(&options);
  seqattn_handle handle = nullptr;
  ASSERT_EQ(seqattn_handle_create(&options, &handle), SEQATTN_OK);
  for (size_t bytes : {1u, 100u, 4096u}) {
    void* p = nullptr;
    ASSERT_EQ(seqattn_malloc(handle, bytes, &p), SEQATTN_OK);
  }
  seqattn_handle_destroy(handle);
}

}  // namespace
}  // namespace seqattn_test
