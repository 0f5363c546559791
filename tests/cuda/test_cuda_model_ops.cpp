// The model helpers of kernels/model.cu (gather_rows, argmax_rows,
// concat_rows) called through their launchers: the library hides its C++, so
// this test compiles that file itself. The model tests (tests/model/) already
// run them through the C API on a CUDA handle (translate and score against the
// reference); this adds what those cannot reach: argmax ties across threads
// and warps, NaN and infinities, single-column and wide rows, many rows (the
// grid-stride loops), a large-vocabulary gather on both the float4 and the
// scalar path, and the bad-id flag, which validated input never triggers.
// Expected values are exact (these ops only move and compare floats): copies
// from the host table, and std::max_element, whose semantics argmax promises.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kernels/model.cuh"
#include "seqattn/seqattn.h"

namespace {

using seqattn::cuda::launch_argmax_rows;
using seqattn::cuda::launch_concat_rows;
using seqattn::cuda::launch_gather_rows;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Uniform in [lo, hi) from a fixed-seed LCG.
std::vector<float> random_vector(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::vector<float> out(n);
  uint64_t state = seed * 6364136223846793005ull + 1442695040888963407ull;
  for (float& x : out) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    x = float(lo + (hi - lo) * (double(state >> 11) / double(1ull << 53)));
  }
  return out;
}

std::vector<int32_t> random_ids(size_t n, int64_t vocab, uint32_t seed) {
  const std::vector<float> u = random_vector(n, seed, 0.0f, 1.0f);
  std::vector<int32_t> ids(n);
  for (size_t i = 0; i < n; ++i)
    ids[i] = int32_t(std::min<int64_t>(int64_t(double(u[i]) * double(vocab)), vocab - 1));
  return ids;
}

// Device memory holding `count` T, freed with the object.
template <class T>
class Device {
 public:
  explicit Device(size_t count) : count_(count) {
    if (cudaMalloc(&ptr_, std::max<size_t>(count, 1) * sizeof(T)) != cudaSuccess) ptr_ = nullptr;
  }
  explicit Device(const std::vector<T>& host) : Device(host.size()) {
    if (ptr_) cudaMemcpy(ptr_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice);
  }
  ~Device() { cudaFree(ptr_); }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  T* get() const { return static_cast<T*>(ptr_); }
  std::vector<T> download() const {
    std::vector<T> host(count_);
    cudaMemcpy(host.data(), ptr_, count_ * sizeof(T), cudaMemcpyDeviceToHost);
    return host;
  }

 private:
  void* ptr_ = nullptr;
  size_t count_;
};

// Bitwise equality (these ops copy floats; NaN payloads and -0 must survive),
// naming the first mismatch.
::testing::AssertionResult same(const std::vector<float>& got, const std::vector<float>& want,
                                const std::string& what) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure()
           << what << ": size " << got.size() << " vs " << want.size();
  for (size_t i = 0; i < got.size(); ++i)
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0)
      return ::testing::AssertionFailure() << what << ": first mismatch at [" << i << "]: cuda "
                                           << got[i] << ", expected " << want[i];
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult same_ids(const std::vector<int32_t>& got,
                                    const std::vector<int32_t>& want, const std::string& what) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure()
           << what << ": size " << got.size() << " vs " << want.size();
  for (size_t i = 0; i < got.size(); ++i)
    if (got[i] != want[i])
      return ::testing::AssertionFailure() << what << ": first mismatch at row " << i << ": cuda "
                                           << got[i] << ", expected " << want[i];
  return ::testing::AssertionSuccess();
}

class CudaModelOps : public ::testing::Test {
 protected:
  void SetUp() override {
    if (seqattn_cuda_device_count() == 0)
      GTEST_SKIP() << "no usable CUDA device (seqattn_cuda_device_count() == 0), so the "
                      "kernels of kernels/model.cu cannot run here";
    ASSERT_EQ(cudaStreamCreate(&stream_), cudaSuccess);
    // The backend's flag: mapped pinned memory, read on the host after a sync.
    ASSERT_EQ(cudaHostAlloc(&flag_, sizeof(int32_t), cudaHostAllocMapped | cudaHostAllocPortable),
              cudaSuccess);
    *static_cast<volatile int32_t*>(flag_) = 0;
    void* d_flag = nullptr;
    ASSERT_EQ(cudaHostGetDevicePointer(&d_flag, flag_, 0), cudaSuccess);
    d_flag_ = static_cast<int32_t*>(d_flag);
  }
  void TearDown() override {
    if (stream_) cudaStreamDestroy(stream_);
    if (flag_) cudaFreeHost(flag_);
  }
  int32_t flag() const { return *static_cast<volatile int32_t*>(flag_); }
  void sync() { ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess); }

  // Gathers ids from a random [vocab, dim] table into out + out_offset and
  // compares with the host copy; the flag must stay clear.
  void check_gather(int64_t vocab, int64_t dim, const std::vector<int32_t>& ids, size_t out_offset,
                    uint32_t seed) {
    const std::vector<float> table = random_vector(size_t(vocab * dim), seed);
    const size_t rows = ids.size();
    Device<float> d_table(table), d_out(std::vector<float>(out_offset + rows * size_t(dim), kNaN));
    Device<int32_t> d_ids(ids);
    ASSERT_TRUE(d_table.get() && d_out.get() && d_ids.get());
    launch_gather_rows(d_table.get(), vocab, dim, d_ids.get(), int64_t(rows),
                       d_out.get() + out_offset, d_flag_, stream_);
    sync();
    std::vector<float> want(out_offset, kNaN);
    for (int32_t id : ids)
      want.insert(want.end(), table.begin() + id * dim, table.begin() + (id + 1) * dim);
    EXPECT_TRUE(same(d_out.download(), want,
                     "gather V=" + std::to_string(vocab) + " D=" + std::to_string(dim)));
    EXPECT_EQ(flag(), 0) << "the error flag was set for ids all in range";
  }

  // argmax of each row on the device against std::max_element on the host,
  // and against `expected` when given (hand-computed).
  void check_argmax(const std::vector<float>& x, int64_t cols, const std::vector<int32_t>& expected,
                    const std::string& what) {
    const size_t rows = x.size() / size_t(cols);
    std::vector<int32_t> want(rows);
    for (size_t r = 0; r < rows; ++r) {
      const float* row = x.data() + r * size_t(cols);
      want[r] = int32_t(std::max_element(row, row + cols) - row);
    }
    if (!expected.empty()) {
      ASSERT_TRUE(same_ids(want, expected, what + " (std::max_element)"));
    }
    Device<float> d_x(x);
    Device<int32_t> d_ids(std::vector<int32_t>(rows, -7));
    ASSERT_TRUE(d_x.get() && d_ids.get());
    launch_argmax_rows(d_x.get(), int64_t(rows), cols, d_ids.get(), stream_);
    sync();
    EXPECT_TRUE(same_ids(d_ids.download(), want, what));
  }

  cudaStream_t stream_ = nullptr;
  void* flag_ = nullptr;
  int32_t* d_flag_ = nullptr;
};

// ------------------------------------------------------------------- gather

TEST_F(CudaModelOps, GatherLargeVocabularyFloat4Path) {
  // 50k x 64 floats: 12.8 MB, ids over the whole table including both ends.
  std::vector<int32_t> ids = random_ids(1000, 50000, 1);
  ids.insert(ids.end(), {0, 49999, 0, 49999});
  check_gather(50000, 64, ids, 0, 2);
}

TEST_F(CudaModelOps, GatherScalarPathOddWidthsAndUnalignedOutput) {
  for (int64_t dim : {1, 3, 37, 33, 1029}) check_gather(41, dim, random_ids(77, 41, 3), 0, 4);
  // dim % 4 == 0 but out not 16-byte aligned: must fall back to the scalar copy.
  check_gather(41, 8, random_ids(77, 41, 5), 1, 6);
}

TEST_F(CudaModelOps, GatherManyRowsGridStride) {
  // More rows than the 65536 blocks x 8 warps of one pass.
  check_gather(3, 1, random_ids(600001, 3, 7), 0, 8);
}

TEST_F(CudaModelOps, GatherBadIdZeroesItsRowAndSetsTheFlag) {
  const int64_t vocab = 5, dim = 8;
  const std::vector<float> table = random_vector(size_t(vocab * dim), 9);
  const std::vector<int32_t> ids = {
      2, -1, 4, 5, 0, std::numeric_limits<int32_t>::max(), std::numeric_limits<int32_t>::min()};
  Device<float> d_table(table), d_out(std::vector<float>(ids.size() * size_t(dim), kNaN));
  Device<int32_t> d_ids(ids);
  ASSERT_TRUE(d_table.get() && d_out.get() && d_ids.get());
  launch_gather_rows(d_table.get(), vocab, dim, d_ids.get(), int64_t(ids.size()), d_out.get(),
                     d_flag_, stream_);
  sync();
  std::vector<float> want;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab)
      want.insert(want.end(), size_t(dim), 0.0f);
    else
      want.insert(want.end(), table.begin() + id * dim, table.begin() + (id + 1) * dim);
  }
  EXPECT_TRUE(same(d_out.download(), want, "gather with bad ids"));
  EXPECT_EQ(flag(), 1) << "ids -1, 5 (= vocab), INT32_MAX and INT32_MIN must set the flag";
}

// ------------------------------------------------------------------- argmax

TEST_F(CudaModelOps, ArgmaxTiesTakeTheLowestIndex) {
  const int64_t cols = 2000;  // 8 columns per thread: ties inside a thread, across warps
  std::vector<float> x = random_vector(size_t(6 * cols), 10, -1.0f, 0.5f);
  auto set = [&](int r, std::initializer_list<int> js, float v) {
    for (int j : js) x[size_t(r * cols + j)] = v;
  };
  set(0, {1000, 7, 300}, 2.0f);     // 7: lower than the others, other warps
  set(1, {1999, 256, 1792}, 2.0f);  // 256: same thread (column ≡ 0 mod 256) as 1792
  set(2, {33, 32}, 2.0f);           // adjacent lanes of one warp
  set(3, {0, 1999}, 2.0f);          // first and last
  // Row 4 below 0 but -0 at 5 and +0 at 900, which compare equal: 5, whatever the sign.
  for (int64_t j = 0; j < cols; ++j) x[size_t(4 * cols + j)] -= 2.0f;
  set(4, {5}, -0.0f);
  set(4, {900}, 0.0f);
  set(5, {1999}, 2.0f);  // the last column alone
  check_argmax(x, cols, {7, 256, 32, 0, 5, 1999}, "ties");
}

TEST_F(CudaModelOps, ArgmaxNaNAndInfinities) {
  const int64_t cols = 300;  // more than one warp per block
  std::vector<float> x = random_vector(size_t(7 * cols), 11);
  auto at = [&](int r, int j) -> float& { return x[size_t(r * cols + j)]; };
  at(0, 0) = kNaN;  // NaN first: std::max_element stays at 0
  at(0, 100) = 5.0f;
  at(1, 100) = kNaN;  // NaN later never wins
  at(1, 200) = 5.0f;
  at(1, 299) = kNaN;
  for (int j = 0; j < cols; ++j) at(2, j) = kNaN;   // all NaN: 0
  for (int j = 0; j < cols; ++j) at(3, j) = -kInf;  // all -inf: the first
  at(4, 150) = kInf;                                // +inf wins; the second +inf does not
  at(4, 250) = kInf;
  for (int j = 0; j < cols; ++j) at(5, j) = j == 0 ? -kInf : kNaN;  // only x[0] not NaN
  // x[0] = -1, NaN up to 289, then 2 0 1 2 0 1 ...: the first 2, at 290.
  for (int j = 0; j < cols; ++j) at(6, j) = j == 0 ? -1.0f : j < 290 ? kNaN : float(j % 3);
  check_argmax(x, cols, {0, 200, 0, 0, 150, 0, 290}, "NaN and infinities");
}

TEST_F(CudaModelOps, ArgmaxShapes) {
  // Single column, narrow (one warp), exactly a warp and a block, wide rows
  // past 1024 columns, a large vocabulary, and more rows than 65536 blocks.
  const struct {
    int64_t rows, cols;
  } shapes[] = {{1, 1},   {70000, 1}, {5, 3},    {9, 32},    {9, 33},   {3, 256},
                {3, 257}, {4, 1025},  {2, 4097}, {1, 50000}, {70000, 3}};
  uint32_t seed = 20;
  for (const auto& s : shapes) {
    // Values from a handful of levels, so ties are common.
    std::vector<float> x = random_vector(size_t(s.rows * s.cols), seed++, 0.0f, 8.0f);
    for (float& v : x) v = std::floor(v);
    check_argmax(x, s.cols, {},
                 "rows=" + std::to_string(s.rows) + " cols=" + std::to_string(s.cols));
  }
}

// ------------------------------------------------------------------- concat

TEST_F(CudaModelOps, ConcatRows) {
  const struct {
    int64_t rows, da, db;
  } shapes[] = {{1, 1, 1}, {7, 1, 3}, {5, 37, 64}, {3, 64, 1}, {1000, 128, 256}, {2, 1500, 700}};
  uint32_t seed = 40;
  for (const auto& s : shapes) {
    const std::vector<float> a = random_vector(size_t(s.rows * s.da), seed++);
    const std::vector<float> b = random_vector(size_t(s.rows * s.db), seed++);
    Device<float> d_a(a), d_b(b), d_out(std::vector<float>(size_t(s.rows * (s.da + s.db)), kNaN));
    ASSERT_TRUE(d_a.get() && d_b.get() && d_out.get());
    launch_concat_rows(d_a.get(), s.da, d_b.get(), s.db, s.rows, d_out.get(), stream_);
    sync();
    std::vector<float> want;
    for (int64_t r = 0; r < s.rows; ++r) {
      want.insert(want.end(), a.begin() + r * s.da, a.begin() + (r + 1) * s.da);
      want.insert(want.end(), b.begin() + r * s.db, b.begin() + (r + 1) * s.db);
    }
    EXPECT_TRUE(same(d_out.download(), want,
                     "concat rows=" + std::to_string(s.rows) + " da=" + std::to_string(s.da) +
                         " db=" + std::to_string(s.db)));
  }
}

}  // namespace
