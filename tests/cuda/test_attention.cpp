// What only CUDA's additive attention has: keys from the caller that are not
// 16-byte aligned (the kernel's 4-byte staging path), and FAST really being
// the approximate functions. Every shape, option and math mode against the
// reference is in the backend suite (tests/backends/test_attention.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "attention_util.hpp"
#include "cuda_test_util.hpp"

namespace seqattn_cuda_test {
namespace {

using seqattn_test::AttentionInputs;
using seqattn_test::AttentionOutputs;
using seqattn_test::make_inputs;

using AttentionCuda = CudaTest;

// Keys from the caller one float past a 16-byte boundary: the kernel must
// take its 4-byte staging path and give the reference's result.
TEST_F(AttentionCuda, UnalignedKeysFromTheCaller) {
  const seqattn_attention_dims d{3, 45, 6, 10, 7, 36};  // A % 4 == 0: only the pointer is off
  const AttentionInputs in = make_inputs(d, true, 300);
  const std::vector<float> keys_ref = seqattn_test::project_keys(ref_, in);
  const AttentionOutputs ref = seqattn_test::forward_projected(ref_, in, keys_ref);

  std::vector<float> shifted(keys_ref.size() + 1, 0.0f);
  std::copy(keys_ref.begin(), keys_ref.end(), shifted.begin() + 1);
  DeviceArray keys(gpu_, shifted), h(gpu_, in.h), s(gpu_, in.s), U(gpu_, in.U), v(gpu_, in.v);
  DeviceArray context(gpu_, nan_vector(in.context_size())),
      weights(gpu_, nan_vector(in.weights_size()));
  SEQATTN_OK_OR_FAIL(seqattn_additive_attention_forward_projected(
      gpu_, &d, h.f(), keys.f() + 1, s.f(), opt(in.enc), opt(in.dec), U.f(), v.f(), context.f(),
      weights.f()));
  EXPECT_TRUE(close(weights.download(), ref.weights, "weights"));
  EXPECT_TRUE(close(context.download(), ref.context, "context"));
}

// FAST must really use the approximations: over half a million tanh, some
// result differs from PRECISE in its last bits.
TEST_F(AttentionCuda, FastMathIsNotPreciseMath) {
  const seqattn_attention_dims d{4, 64, 32, 32, 32, 64};
  const AttentionInputs in = make_inputs(d, false, 400);
  const AttentionOutputs precise = seqattn_test::forward(gpu_, in, true);
  const AttentionOutputs fast = seqattn_test::forward(gpu_fast_, in, true);
  EXPECT_NE(0, std::memcmp(precise.weights.data(), fast.weights.data(),
                           precise.weights.size() * sizeof(float)))
      << "SEQATTN_MATH_FAST gave bit-identical weights to SEQATTN_MATH_PRECISE";
}

}  // namespace
}  // namespace seqattn_cuda_test
