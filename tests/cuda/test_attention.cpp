// What only CUDA's additive attention has: keys from the caller that are not
// 16-byte aligned (the kernel's 4-byte staging path), the split path of
// step-wise decoding over every chunking it has, and FAST really being the
// approximate functions. Every shape, option and math mode against the
// reference is in the backend suite (tests/backends/test_attention.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "attention_util.hpp"
#include "cases.hpp"
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

// Step-wise decoding with few rows (Td <= 4, B·Td <= 16, A <= 1024) takes
// the split path of kernels/attention.cu: chunks of encoder positions in
// separate blocks, then a combine. Te from 1 through one chunk (32), its
// edges, several chunks, 128 chunks, and past 128 chunks (chunks of 64);
// masked and full lengths (a masked row may end inside any chunk, or be 0),
// both math modes, one- and two-phase, A not a multiple of 4 (4-byte keys).
TEST_F(AttentionCuda, SplitDecodingPathMatchesTheReference) {
  struct Shape {
    seqattn_attention_dims d;
  };
  const Shape shapes[] = {
      {{1, 1, 1, 5, 7, 9}},         {{1, 2, 1, 8, 6, 16}},      {{1, 31, 1, 33, 9, 37}},
      {{1, 32, 1, 16, 8, 32}},      {{1, 33, 1, 130, 9, 40}},   {{1, 100, 1, 64, 48, 96}},
      {{1, 257, 1, 129, 17, 67}},   {{1, 300, 1, 256, 64, 256}}, {{1, 4096, 1, 40, 8, 24}},
      {{1, 4100, 1, 20, 8, 12}},    {{3, 77, 1, 19, 23, 29}},   {{4, 45, 4, 64, 48, 72}},
      {{16, 20, 1, 8, 4, 1024}},    {{2, 200, 3, 31, 5, 515}},
  };
  for (const Shape& sh : shapes)
    for (bool masked : {false, true}) {
      const seqattn_attention_dims& d = sh.d;
      SCOPED_TRACE("B " + std::to_string(d.batch) + " Te " + std::to_string(d.enc_steps) +
                   " Td " + std::to_string(d.dec_steps) + " He " + std::to_string(d.enc_dim) +
                   " A " + std::to_string(d.units) + (masked ? " masked" : " full"));
      const AttentionInputs in = make_inputs(d, masked, 500 + uint32_t(d.enc_steps));
      const std::vector<float> keys_ref = seqattn_test::project_keys(ref_, in);
      const AttentionOutputs ref = seqattn_test::forward_projected(ref_, in, keys_ref);
      for (seqattn_math math : seqattn_test::cases::kMathModes) {
        SCOPED_TRACE(seqattn_test::cases::math_name(math));
        std::vector<double> wb, cb;
        if (math == SEQATTN_MATH_FAST) {
          wb = seqattn_test::cases::fast_weight_bound(SEQATTN_DEVICE_CUDA, in.v, ref.weights);
          cb = seqattn_test::cases::fast_context_bound(SEQATTN_DEVICE_CUDA, d, in.h, in.v,
                                                       ref.weights);
        }
        const AttentionOutputs one = seqattn_test::forward(gpu(math), in, true);
        EXPECT_TRUE(close(one.weights, ref.weights, "weights", wb));
        EXPECT_TRUE(close(one.context, ref.context, "context", cb));
        EXPECT_TRUE(seqattn_test::masked_exact_zeros(in, one));
        const AttentionOutputs two = seqattn_test::forward_projected(gpu(math), in, keys_ref);
        EXPECT_TRUE(close(two.weights, ref.weights, "weights (projected)", wb));
        EXPECT_TRUE(close(two.context, ref.context, "context (projected)", cb));
        // Without weights_out the split path computes the context the same way.
        const AttentionOutputs no_weights = seqattn_test::forward(gpu(math), in, false);
        EXPECT_EQ(0, std::memcmp(no_weights.context.data(), one.context.data(),
                                 one.context.size() * sizeof(float)));
      }
    }
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
