// Helpers of the tests that run an op on some device and compare it with the
// double-precision reference (SEQATTN_DEVICE_CPU_REFERENCE): arrays allocated
// through a handle, inputs scaled like a trained layer's, lengths that mix
// the edge cases, and a comparison that names the first mismatch. They work
// on every handle: seqattn_malloc and the copies take host memory on the CPU
// devices, so the same test body serves the fast CPU path and CUDA.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "seqattn/seqattn.h"
#include "test_util.hpp"

namespace seqattn_test {

// The precise-math tolerance (docs/math.md#tolerances): |got - ref| <= 1e-5 + 1e-4·|ref|.
inline constexpr double kAtol = 1e-5;
inline constexpr double kRtol = 1e-4;

// Weights scaled like a trained layer's (variance ~ 1/fan_in), so that
// pre-activations stay O(1) whatever the sizes.
inline std::vector<float> random_weights(size_t n, int64_t fan_in, uint32_t seed) {
  const float a = float(std::sqrt(3.0 / double(fan_in)));
  return random_vector(n, seed, -a, a);
}

// Lengths in [0, bound]: rows 0..3 take, rotated by `shift`, a length in
// [1, bound], 0, the bound, and 1; later rows anything in [0, bound]. The
// default shift gives a single row a partial length.
inline std::vector<int32_t> mixed_lengths(int32_t batch, int32_t bound, uint32_t seed,
                                          int32_t shift = 0) {
  const std::vector<float> r = random_vector(static_cast<size_t>(batch), seed, 0.0f, 1.0f);
  std::vector<int32_t> out(static_cast<size_t>(batch));
  for (int32_t b = 0; b < batch; ++b) {
    const float u = r[size_t(b)];
    int32_t x = int32_t(u * float(bound + 1));  // [0, bound]
    if (b < 4) {
      // clang-format off
      switch ((b + shift) % 4) {
        case 0: x = 1 + int32_t(u * float(bound)); break;  // [1, bound]
        case 1: x = 0; break;
        case 2: x = bound; break;
        default: x = 1; break;
      }
      // clang-format on
    }
    out[size_t(b)] = std::min(std::max(x, 0), bound);
  }
  return out;
}

inline std::string status_text(seqattn_status s) {
  return std::string(seqattn_status_string(s)) + ": " + seqattn_last_error();
}

#define SEQATTN_OK_OR_FAIL(call)                                       \
  do {                                                                 \
    const seqattn_status seqattn_s_ = (call);                          \
    ASSERT_EQ(seqattn_s_, SEQATTN_OK)                                  \
        << #call << " -> " << ::seqattn_test::status_text(seqattn_s_); \
  } while (0)

// |got - ref| <= bound[i] + kAtol + kRtol·|ref| for every i (NaN never
// passes, so an element left at its NaN start value fails); `bound` empty
// means 0: the precise tolerance alone.
inline ::testing::AssertionResult close(const std::vector<float>& got,
                                        const std::vector<float>& ref, const char* what,
                                        const std::vector<double>& bound = {}) {
  if (got.size() != ref.size())
    return ::testing::AssertionFailure()
           << what << ": size " << got.size() << " vs reference " << ref.size();
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], r = ref[i];
    const double tol = (bound.empty() ? 0.0 : bound[i]) + kAtol + kRtol * std::fabs(r);
    if (!(std::fabs(g - r) <= tol) && bad++ == 0) first = i;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  const double tol = (bound.empty() ? 0.0 : bound[first]) + kAtol + kRtol * std::fabs(ref[first]);
  return ::testing::AssertionFailure()
         << what << ": " << bad << " of " << got.size() << " elements differ; first at [" << first
         << "]: got " << got[first] << ", reference " << ref[first] << ", |diff| "
         << std::fabs(double(got[first]) - ref[first]) << " > tolerance " << tol;
}

inline std::vector<float> nan_vector(size_t n) {
  return std::vector<float>(n, std::numeric_limits<float>::quiet_NaN());
}

inline const int32_t* opt(const std::vector<int32_t>& x) { return x.empty() ? nullptr : x.data(); }
inline const float* opt(const std::vector<float>& x) { return x.empty() ? nullptr : x.data(); }

// Memory from seqattn_malloc on a handle of any device (device memory on
// CUDA, host memory on the CPU devices); freed with the object.
class DeviceArray {
 public:
  DeviceArray(seqattn_handle h, size_t bytes) : h_(h), bytes_(bytes) {
    const seqattn_status s = seqattn_malloc(h, bytes, &ptr_);
    if (s != SEQATTN_OK) throw std::runtime_error("seqattn_malloc: " + status_text(s));
  }
  template <class T>
  DeviceArray(seqattn_handle h, const std::vector<T>& host)
      : DeviceArray(h, host.size() * sizeof(T)) {
    upload(host);
  }
  ~DeviceArray() { seqattn_free(h_, ptr_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  template <class T>
  void upload(const std::vector<T>& host) {
    if (host.size() * sizeof(T) > bytes_) throw std::runtime_error("upload: too large");
    const seqattn_status s = seqattn_copy_to_device(h_, ptr_, host.data(), host.size() * sizeof(T));
    if (s != SEQATTN_OK) throw std::runtime_error("seqattn_copy_to_device: " + status_text(s));
  }
  std::vector<float> download() const {
    std::vector<float> host(bytes_ / sizeof(float));
    const seqattn_status s = seqattn_copy_to_host(h_, host.data(), ptr_, bytes_);
    if (s != SEQATTN_OK) throw std::runtime_error("seqattn_copy_to_host: " + status_text(s));
    return host;
  }
  float* f() const { return static_cast<float*>(ptr_); }
  void* get() const { return ptr_; }

 private:
  seqattn_handle h_;
  size_t bytes_;
  void* ptr_ = nullptr;
};

// Uploads `host` into a fresh array, or gives nullptr for an empty vector
// (an optional tensor left out).
struct Optional {
  Optional(seqattn_handle h, const std::vector<float>& host) {
    if (!host.empty()) array = std::make_unique<DeviceArray>(h, host);
  }
  float* f() const { return array ? array->f() : nullptr; }
  std::vector<float> download() const { return array ? array->download() : std::vector<float>{}; }
  std::unique_ptr<DeviceArray> array;
};

// A handle on `device` in `math`, or an exception naming why not.
inline seqattn_handle make_handle(seqattn_device device, seqattn_math math,
                                  void* stream = nullptr) {
  seqattn_handle_options o;
  seqattn_handle_options_init(&o);
  o.device = device;
  o.math = math;
  o.cuda_stream = stream;
  seqattn_handle h = nullptr;
  const seqattn_status s = seqattn_handle_create(&o, &h);
  if (s != SEQATTN_OK) throw std::runtime_error("seqattn_handle_create: " + status_text(s));
  return h;
}

// Why there is no usable CUDA device here ("" if there is one): the message
// seqattn_handle_create gives, for a skip that says why.
inline std::string cuda_unavailable_reason() {
  if (seqattn_cuda_device_count() > 0) return {};
  seqattn_handle_options o;
  seqattn_handle_options_init(&o);
  o.device = SEQATTN_DEVICE_CUDA;
  seqattn_handle h = nullptr;
  const seqattn_status s = seqattn_handle_create(&o, &h);
  seqattn_handle_destroy(h);
  return "no usable CUDA device, so the CUDA handle cannot be tested here (" + status_text(s) + ")";
}

}  // namespace seqattn_test
