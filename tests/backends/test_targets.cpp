// The SIMD targets the backend suite runs the fast CPU path under: one test
// per target, which forces it and checks that the library then reports it,
// or skips and says why the build or the processor has no such target — so a target the
// cases did not run under shows in the results instead of passing silently.
#include <gtest/gtest.h>

#include <ios>
#include <string>

#include "backend_test.hpp"

namespace seqattn_test {
namespace {

class CpuSimdTargets : public ::testing::TestWithParam<SimdTarget> {
 protected:
  void TearDown() override { hwy::SetSupportedTargetsForTest(0); }
};

TEST_P(CpuSimdTargets, DispatchesWhereSupported) {
  const SimdTarget& t = GetParam();
  if (!compiled(t))
    GTEST_SKIP() << "this build has no " << t.name << " code (Highway's HWY_TARGETS here is 0x"
                 << std::hex << HWY_TARGETS << "; the portable fallback is EMU128 or SCALAR, "
                 << "one of the two), so the fast CPU cases did not run under it";
  if (!cpu_supports(t))
    GTEST_SKIP() << "this processor lacks the " << t.name
                 << " target, so the fast CPU cases did not run under it (cpu info: "
                 << seqattn_cpu_info() << ")";
  ASSERT_TRUE(force_target(t));
  // And back: with the mock reset the library dispatches to the best target
  // again, which is never worse than the one forced.
  hwy::SetSupportedTargetsForTest(0);
  const std::string best = seqattn_cpu_info();
  EXPECT_TRUE(contains(best, "simd ")) << best;
}

INSTANTIATE_TEST_SUITE_P(Targets, CpuSimdTargets, ::testing::ValuesIn(simd_targets()),
                         [](const ::testing::TestParamInfo<SimdTarget>& p) {
                           return std::string(p.param.name);
                         });

}  // namespace
}  // namespace seqattn_test
