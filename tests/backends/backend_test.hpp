// The fixture of the backend suite: a handle on the reference and, for the
// backend under test, one handle per math mode; for_each_target() runs a
// check once per SIMD target on the fast CPU path, once on CUDA.
//
// The fast CPU path dispatches its kernels at run time through Highway. The
// library and this test share the one libhwy, so hwy::SetSupportedTargetsForTest
// here changes what the library's next call dispatches to; seqattn_cpu_info()
// confirms it ("simd AVX2; ..."). Fast handles keep no per-target state, so
// the same handles serve every target.
#pragma once

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backend_util.hpp"
#include "cases.hpp"
#include "seqattn/seqattn.h"

namespace seqattn_test {

enum class Backend { kCpu, kCuda };
inline constexpr Backend kBackends[] = {Backend::kCpu, Backend::kCuda};
inline const char* backend_name(Backend b) { return b == Backend::kCpu ? "cpu" : "cuda"; }
inline seqattn_device backend_device(Backend b) {
  return b == Backend::kCpu ? SEQATTN_DEVICE_CPU : SEQATTN_DEVICE_CUDA;
}

// The Highway targets the fast CPU path is checked under, best first. The
// portable fallback is EMU128, or SCALAR where Highway finds EMU128 broken
// (GCC before 12.3); a build compiles one of the two.
struct SimdTarget {
  int64_t bit;
  const char* name;  // as hwy::TargetName gives it, and seqattn_cpu_info reports it
};
inline const std::vector<SimdTarget>& simd_targets() {
  static const std::vector<SimdTarget> targets = {{HWY_AVX3, hwy::TargetName(HWY_AVX3)},
                                                  {HWY_AVX2, hwy::TargetName(HWY_AVX2)},
                                                  {HWY_SSE4, hwy::TargetName(HWY_SSE4)},
                                                  {HWY_EMU128, hwy::TargetName(HWY_EMU128)},
                                                  {HWY_SCALAR, hwy::TargetName(HWY_SCALAR)}};
  return targets;
}

// Whether this build has code for `t`: the library's kernels are compiled
// for HWY_TARGETS under the same Highway headers and compiler as this test
// (force_target() then confirms that the library dispatches there).
inline bool compiled(const SimdTarget& t) { return (HWY_TARGETS & t.bit) != 0; }

// Whether this processor runs `t`, asked with no target forced.
inline bool cpu_supports(const SimdTarget& t) {
  hwy::SetSupportedTargetsForTest(0);
  return (hwy::SupportedTargets() & t.bit) != 0;
}

inline bool runnable(const SimdTarget& t) { return compiled(t) && cpu_supports(t); }

// Forces the fast CPU path onto `t`; fails (and returns false) unless the
// library then reports that target.
inline ::testing::AssertionResult force_target(const SimdTarget& t) {
  hwy::SetSupportedTargetsForTest(t.bit);
  const std::string info = seqattn_cpu_info();
  if (!contains(info, std::string("simd ") + t.name + ";"))
    return ::testing::AssertionFailure() << "forced Highway target " << t.name
                                         << " but seqattn_cpu_info() says \"" << info << "\"";
  return ::testing::AssertionSuccess();
}

template <class Param>
class BackendTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    backend_ = std::get<0>(this->GetParam());
    if (backend_ == Backend::kCuda) {
      const std::string why = cuda_unavailable_reason();
      if (!why.empty()) GTEST_SKIP() << why;
    }
    ref_ = make_handle(SEQATTN_DEVICE_CPU_REFERENCE, SEQATTN_MATH_PRECISE);
    precise_ = make_handle(device(), SEQATTN_MATH_PRECISE);
    fast_ = make_handle(device(), SEQATTN_MATH_FAST);
  }
  void TearDown() override {
    hwy::SetSupportedTargetsForTest(0);  // also after a failed check left one forced
    seqattn_handle_destroy(fast_);
    seqattn_handle_destroy(precise_);
    seqattn_handle_destroy(ref_);
  }

  seqattn_device device() const { return backend_device(backend_); }
  seqattn_handle dev(seqattn_math math) const {
    return math == SEQATTN_MATH_FAST ? fast_ : precise_;
  }

  // `check()` once on CUDA; on the fast CPU path once under each SIMD target
  // this build has and this processor supports (a target left out is
  // reported by the CpuSimdTargets tests, one skip each), with the target in
  // every failure. `best_only`: under the best of them alone — for heavy
  // cases, see cases.hpp.
  template <class F>
  void for_each_target(bool best_only, F&& check) {
    if (backend_ == Backend::kCuda) {
      check();
      return;
    }
    int ran = 0;
    for (const SimdTarget& t : simd_targets()) {
      if (!runnable(t)) continue;
      SCOPED_TRACE(std::string("simd target ") + t.name);
      ASSERT_TRUE(force_target(t));
      check();
      ++ran;
      hwy::SetSupportedTargetsForTest(0);
      if (best_only) break;
    }
    ASSERT_GT(ran, 0) << "the processor supports none of the SIMD targets checked";
  }
  template <class F>
  void for_each_target(F&& check) {
    for_each_target(false, check);
  }

  bool skip_heavy(bool heavy) const { return heavy && !cases::heavy_cases_run(); }

  Backend backend_ = Backend::kCpu;
  seqattn_handle ref_ = nullptr, precise_ = nullptr, fast_ = nullptr;
};

}  // namespace seqattn_test
