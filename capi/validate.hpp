// Argument checks of the C boundary (capi/), which validates every argument so
// that the code below it can trust its input. Each throws Error(INVALID_ARGUMENT)
// with a message naming the argument and the bound, e.g.
//   "enc_lengths[3] = 41 exceeds enc_steps = 40".
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/error.hpp"

namespace seqattn::check {

// Largest element count of one tensor: its byte size must fit in int64
// (and so in size_t and ptrdiff_t), with room for 64-bit index arithmetic.
inline constexpr int64_t kMaxElements = INT64_MAX / 8;

inline void not_null(const void* p, const char* name) {
  if (!p) invalid(std::string(name) + " is NULL");
}

inline void positive(int64_t value, const char* name) {
  if (value <= 0) invalid(std::string(name) + " = " + std::to_string(value) + " must be >= 1");
}

// Product of positive extents; refuses (rather than wraps) a count past kMaxElements.
inline int64_t elements(const char* tensor, std::initializer_list<int64_t> extents) {
  int64_t n = 1;
  for (int64_t e : extents) {
    if (__builtin_mul_overflow(n, e, &n) || n > kMaxElements)
      invalid(std::string(tensor) + " has more than " + std::to_string(kMaxElements) +
              " elements: its size overflows");
  }
  return n;
}

// Every lengths[b] for b < batch in [0, bound]; NULL passes (all full length).
inline void lengths(const int32_t* lengths, int64_t batch, const char* name, int64_t bound,
                    const char* bound_name) {
  if (!lengths) return;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t v = lengths[b];
    if (v < 0)
      invalid(std::string(name) + "[" + std::to_string(b) + "] = " + std::to_string(v) +
              " is negative");
    if (v > bound)
      invalid(std::string(name) + "[" + std::to_string(b) + "] = " + std::to_string(v) +
              " exceeds " + bound_name + " = " + std::to_string(bound));
  }
}

}  // namespace seqattn::check
