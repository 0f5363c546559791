// Helpers shared by the C API tests: deterministic inputs, tolerant
// comparison that names the first mismatch, and output sentinels that show
// whether a call wrote anything.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "seqattn/seqattn.hpp"

namespace seqattn_test {

// Not a value any op produces from the small inputs used here, so an output
// still holding it was not written.
inline constexpr float kSentinel = 12345.0f;

// Uniform in [lo, hi) from a fixed-seed LCG: the same numbers on every platform.
inline std::vector<float> random_vector(size_t n, uint32_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::vector<float> out(n);
  uint64_t state = seed * 6364136223846793005ull + 1442695040888963407ull;
  for (float& x : out) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const double u = double(state >> 11) / double(1ull << 53);
    x = float(lo + (hi - lo) * u);
  }
  return out;
}

inline std::vector<float> sentinels(size_t n) { return std::vector<float>(n, kSentinel); }

// Every element bit-identical to kSentinel; names the first one that is not.
inline ::testing::AssertionResult untouched(const std::vector<float>& buf, const char* what) {
  for (size_t i = 0; i < buf.size(); ++i) {
    if (std::memcmp(&buf[i], &kSentinel, sizeof(float)) != 0)
      return ::testing::AssertionFailure()
             << what << "[" << i << "] = " << buf[i] << " was written by a failing call";
  }
  return ::testing::AssertionSuccess();
}

// |got - ref| <= atol + rtol·|ref| elementwise (NaN never passes); reports the
// first mismatch with both values and how many elements mismatch.
template <class Ref>
::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<Ref>& ref,
                                     double atol, double rtol, const char* what = "out") {
  if (got.size() != ref.size())
    return ::testing::AssertionFailure()
           << what << ": size " << got.size() << " vs reference " << ref.size();
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], r = double(ref[i]);
    if (!(std::fabs(g - r) <= atol + rtol * std::fabs(r))) {
      if (bad++ == 0) first = i;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << ": " << bad << " of " << got.size() << " elements differ; first at [" << first
         << "]: got " << got[first] << ", expected " << double(ref[first]) << " (atol " << atol
         << ", rtol " << rtol << ")";
}

// Bit-for-bit equality (so 0.0f is not -0.0f's stand-in and NaN is caught).
inline ::testing::AssertionResult all_equal(const std::vector<float>& got,
                                            const std::vector<float>& ref,
                                            const char* what = "out") {
  if (got.size() != ref.size())
    return ::testing::AssertionFailure() << what << ": size " << got.size() << " vs " << ref.size();
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::memcmp(&got[i], &ref[i], sizeof(float)) != 0)
      return ::testing::AssertionFailure()
             << what << "[" << i << "]: got " << got[i] << ", expected " << ref[i];
  }
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult all_finite(const std::vector<float>& got, const char* what) {
  for (size_t i = 0; i < got.size(); ++i)
    if (!std::isfinite(got[i]))
      return ::testing::AssertionFailure() << what << "[" << i << "] = " << got[i];
  return ::testing::AssertionSuccess();
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Every test gets its own handle on the double-precision reference: this
// suite checks the reference against hand-computed cases and the oracle
// (oracle.hpp), and the C boundary's rules, which every device shares. The
// fast CPU path and CUDA are checked against the reference by the shared
// case table (tests/backends/).
class CpuTest : public ::testing::Test {
 protected:
  seqattn::Handle handle_{SEQATTN_DEVICE_CPU_REFERENCE};
  seqattn_handle h() const { return handle_.get(); }
};

}  // namespace seqattn_test
