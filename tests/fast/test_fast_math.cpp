// The fast CPU backend's tanh against its stated bounds (src/fast/tanh_bounds.hpp),
// on every SIMD target this processor has: the test compiles the kernel header
// (src/fast/tanh-inl.h) for each target itself, as the library does, and
// forces each target in turn.
//
// Both tanh are odd functions of a clamped argument, so [0, 12) covers every
// float; the test samples one float in 251 there (4.3 million), plus denser
// looks near 0 and at the clamp. tanh-inl.h records the exhaustive
// measurement (every float), which took minutes.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "test_fast_math.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <cmath>
#include <cstdint>
#include <cstring>

#include "fast/tanh-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace seqattn::fast::HWY_NAMESPACE {

// The largest |tanh_approx(x) − tanh(x)| over the floats with bit patterns
// lo, lo + stride, … below hi; *worst is where it occurs, *odd whether
// tanh_approx(−x) == −tanh_approx(x) held everywhere.
void MaxError(bool fast, uint32_t lo, uint32_t hi, uint32_t stride, double* max_err, float* worst,
              bool* odd) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  HWY_ALIGN float xs[HWY_MAX_BYTES / sizeof(float)];
  HWY_ALIGN float ys[HWY_MAX_BYTES / sizeof(float)];
  HWY_ALIGN float ns[HWY_MAX_BYTES / sizeof(float)];
  double mx = 0;
  *odd = true;
  for (uint64_t u = lo; u < hi; u += uint64_t(N) * stride) {
    for (size_t j = 0; j < N; ++j) {
      const uint32_t bits = uint32_t(std::min<uint64_t>(u + j * stride, hi - 1));
      std::memcpy(&xs[j], &bits, sizeof bits);
    }
    const auto x = hn::Load(d, xs);
    hn::Store(fast ? TanhFast(d, x) : TanhPrecise(d, x), d, ys);
    hn::Store(fast ? TanhFast(d, hn::Neg(x)) : TanhPrecise(d, hn::Neg(x)), d, ns);
    for (size_t j = 0; j < N; ++j) {
      const double e = std::fabs(double(ys[j]) - std::tanh(double(xs[j])));
      if (!(e <= mx)) {  // NaN lands here too, and then fails the bound
        mx = e;
        *worst = xs[j];
      }
      if (ns[j] != -ys[j]) *odd = false;
    }
  }
  *max_err = mx;
}

// The target this copy of the code was compiled for: what the dispatch chose.
const char* Dispatched() { return hwy::TargetName(HWY_TARGET); }

}  // namespace seqattn::fast::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <gtest/gtest.h>

#include "fast/tanh_bounds.hpp"
#include "hwy/targets.h"

namespace seqattn::fast {
HWY_EXPORT(MaxError);
HWY_EXPORT(Dispatched);

namespace {

uint32_t bits_of(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

struct Range {
  float lo, hi;
  uint32_t stride;
};
// The sampled sweep over [0, 12), then denser looks where the error could
// hide: near 0 (tanh(x) ≈ x), around the clamp at 9, at the end of the range.
const Range kSweep = {0.0f, 12.0f, 251};
const Range kDense[] = {{1e-3f, 2e-3f, 13}, {8.99f, 9.01f, 1}, {11.99f, 12.0f, 1}};

class FastMath : public ::testing::TestWithParam<int64_t> {
 protected:
  void SetUp() override {
    if ((HWY_TARGETS & GetParam()) == 0)
      GTEST_SKIP() << hwy::TargetName(GetParam()) << " is not compiled in this build (Highway "
                   << "leaves EMU128 out with GCC before 12.3; SCALAR is the fallback then)";
    if ((hwy::SupportedTargets() & GetParam()) == 0)
      GTEST_SKIP() << "this processor lacks " << hwy::TargetName(GetParam());
    hwy::SetSupportedTargetsForTest(GetParam());
    ASSERT_STREQ(HWY_DYNAMIC_DISPATCH(Dispatched)(), hwy::TargetName(GetParam()))
        << "forcing the target did not reach the dispatch";
  }
  void TearDown() override { hwy::SetSupportedTargetsForTest(0); }

  // The largest error over r, after checking that the function is odd there.
  double max_error(bool fast, const Range& r) {
    double err = 0;
    float worst = 0;
    bool odd = false;
    HWY_DYNAMIC_DISPATCH(MaxError)(fast, bits_of(r.lo), bits_of(r.hi), r.stride, &err, &worst,
                                   &odd);
    EXPECT_TRUE(odd) << "tanh(-x) != -tanh(x) somewhere in [" << r.lo << ", " << r.hi << ")";
    SCOPED_TRACE(::testing::Message() << "worst at x = " << worst);
    return err;
  }
};

// Each mode within its stated bound, and the bound not loose: within a factor
// 1.5 of what the sweep finds, so a change that made the approximation better
// or worse shows up as a bound to restate.
TEST_P(FastMath, TanhWithinStatedBound) {
  for (bool fast : {false, true}) {
    SCOPED_TRACE(std::string(fast ? "FAST" : "PRECISE") + " tanh on " +
                 hwy::TargetName(GetParam()));
    const double bound = fast ? kTanhFastMaxError : kTanhPreciseMaxError;
    const double sweep = max_error(fast, kSweep);
    EXPECT_LE(sweep, bound);
    EXPECT_GT(sweep * 1.5, bound) << "the stated bound is loose: restate it";
    for (const Range& r : kDense)
      EXPECT_LE(max_error(fast, r), bound) << "in [" << r.lo << ", " << r.hi << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, FastMath,
                         ::testing::Values(HWY_AVX3, HWY_AVX2, HWY_SSE4, HWY_EMU128, HWY_SCALAR),
                         [](const ::testing::TestParamInfo<int64_t>& p) {
                           return std::string(hwy::TargetName(p.param));
                         });

}  // namespace
}  // namespace seqattn::fast
#endif  // HWY_ONCE
