// Argument checks of the C boundary (capi/), which validates every argument so
// that the code below it can trust its input. Each throws Error(INVALID_ARGUMENT)
// with a message naming the argument and the bound, e.g.
//   "enc_lengths[3] = 41 exceeds enc_steps = 40".
#pragma once

#include <cstdint>
#include <cstddef>
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

// One buffer of a call, for the overlap rule: where it starts, how many bytes
// its dims give it, and its name. A NULL or empty buffer overlaps nothing.
struct Buffer {
  const void* data;
  uint64_t bytes;
  const char* name;
};

// `count` elements of T at p; count comes from dims that elements() passed
// (so count * sizeof(T) fits in int64).
template <class T>
Buffer buffer(const T* p, int64_t count, const char* name) {
  return Buffer{p, count > 0 ? uint64_t(count) * sizeof(T) : 0, name};
}

// No call computes in place: an output may be written before an input it
// overlaps was read, or two outputs may overwrite each other. Each output is
// checked against every input and every other output, by address (host and
// device pointers share one address space), and refused by both names:
// "context_out overlaps encoder_out". Called after the other checks, before
// anything is written.
inline void no_overlap(std::initializer_list<Buffer> outputs,
                       std::initializer_list<Buffer> inputs) {
  const auto overlap = [](const Buffer& a, const Buffer& b) {
    if (!a.data || !b.data || a.bytes == 0 || b.bytes == 0) return false;
    const auto a0 = reinterpret_cast<uintptr_t>(a.data), b0 = reinterpret_cast<uintptr_t>(b.data);
    // Ends saturate: a bogus pointer near the top of the space must not wrap.
    const uintptr_t a1 = a0 + a.bytes < a0 ? UINTPTR_MAX : uintptr_t(a0 + a.bytes);
    const uintptr_t b1 = b0 + b.bytes < b0 ? UINTPTR_MAX : uintptr_t(b0 + b.bytes);
    return a0 < b1 && b0 < a1;
  };
  for (auto out = outputs.begin(); out != outputs.end(); ++out) {
    for (const Buffer& in : inputs)
      if (overlap(*out, in)) invalid(std::string(out->name) + " overlaps " + in.name);
    for (auto other = outputs.begin(); other != out; ++other)
      if (overlap(*out, *other)) invalid(std::string(out->name) + " overlaps " + other->name);
  }
}

}  // namespace seqattn::check
