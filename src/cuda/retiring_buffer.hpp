// The growth policy of a CUDA handle's workspace, apart from CUDA so that a
// host test can check it (tests/cuda/test_retiring_buffer.cpp).
//
// A buffer that grows to the largest request and never frees a buffer it has
// handed out while it lives: growing retires the old buffer instead, and
// everything is freed by release() (the handle's destruction). Why: a call
// captured into a CUDA graph bakes the workspace address into the graph's
// nodes, and the graph may be replayed at any time after a later call has
// grown the workspace; freeing the old buffer then would make the replay
// read and write freed memory. Growth is geometric (at least double), so the
// retired buffers together are never larger than the current one: the cost
// is at most twice the largest request, rounded to whole MiB.
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

namespace seqattn::cuda {

// Memory: a unique_ptr-like owner (get(), reset(), movable).
template <class Memory>
class RetiringBuffer {
 public:
  static constexpr size_t kGranule = size_t(1) << 20;  // whole MiB

  // The capacity growing from `current` to hold `request` (> current) gives.
  static size_t grown(size_t current, size_t request) {
    const size_t wanted = std::max(request, 2 * current);
    return (wanted + kGranule - 1) / kGranule * kGranule;
  }

  // A buffer of at least `bytes`; allocate(n) returns a Memory of n bytes or
  // throws. If it throws, nothing has changed (the current buffer stays).
  template <class Allocate>
  char* reserve(size_t bytes, Allocate&& allocate) {
    if (bytes > capacity_) {
      const size_t n = grown(capacity_, bytes);
      Memory fresh = allocate(n);
      if (current_) {
        retired_.push_back(std::move(current_));
        retired_bytes_ += capacity_;
      }
      current_ = std::move(fresh);
      capacity_ = n;
    }
    return static_cast<char*>(current_.get());
  }

  size_t capacity() const { return capacity_; }
  size_t retired_count() const { return retired_.size(); }
  size_t retired_bytes() const { return retired_bytes_; }

  // Frees every buffer, the current one and the retired ones. Only when no
  // work queued or captured can touch any of them again.
  void release() noexcept {
    retired_.clear();
    current_.reset();
    capacity_ = retired_bytes_ = 0;
  }

 private:
  Memory current_;
  std::vector<Memory> retired_;
  size_t capacity_ = 0;
  size_t retired_bytes_ = 0;
};

}  // namespace seqattn::cuda
