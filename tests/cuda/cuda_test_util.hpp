// What only the CUDA tests need: a fixture with a CUDA handle in each math
// mode and a handle on the double-precision reference (SEQATTN_DEVICE_CPU_REFERENCE,
// the oracle), or a skip that says why there is no GPU. The helpers every
// backend's tests share (arrays through a handle, inputs, close()) are in
// tests/common/backend_util.hpp; the op sweeps are in tests/backends/.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "backend_util.hpp"
#include "seqattn/seqattn.h"

namespace seqattn_cuda_test {

using seqattn_test::close;
using seqattn_test::DeviceArray;
using seqattn_test::mixed_lengths;
using seqattn_test::nan_vector;
using seqattn_test::opt;
using seqattn_test::Optional;
using seqattn_test::random_vector;
using seqattn_test::random_weights;
using seqattn_test::status_text;

// A CUDA handle in each math mode and a reference handle, or a skip that
// names why there is no GPU (the message seqattn_handle_create gave).
class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = seqattn_test::cuda_unavailable_reason();
    if (!why.empty()) GTEST_SKIP() << why;
    ref_ = make(SEQATTN_DEVICE_CPU_REFERENCE, SEQATTN_MATH_PRECISE);
    gpu_ = make(SEQATTN_DEVICE_CUDA, SEQATTN_MATH_PRECISE);
    gpu_fast_ = make(SEQATTN_DEVICE_CUDA, SEQATTN_MATH_FAST);
  }
  void TearDown() override {
    seqattn_handle_destroy(gpu_fast_);
    seqattn_handle_destroy(gpu_);
    seqattn_handle_destroy(ref_);
  }

  static seqattn_handle make(seqattn_device device, seqattn_math math, void* stream = nullptr) {
    return seqattn_test::make_handle(device, math, stream);
  }

  seqattn_handle gpu(seqattn_math math) const {
    return math == SEQATTN_MATH_FAST ? gpu_fast_ : gpu_;
  }

  seqattn_handle ref_ = nullptr, gpu_ = nullptr, gpu_fast_ = nullptr;
};

}  // namespace seqattn_cuda_test
