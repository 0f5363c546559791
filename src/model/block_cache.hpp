// Where a model's per-call device buffers come from (src/model/block_cache.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

#include "core/backend.hpp"

namespace seqattn::model {

// Blocks of a Backend's memory that a Model's buffers gave back, kept for the
// next buffer of (nearly) the same size: repeated translate/score calls of the
// same shapes allocate nothing (on CUDA, no cudaMalloc/cudaFree, which would
// synchronise the device). Reuse is safe because all the work of one handle is
// ordered on its one stream. Everything is released with the cache.
class BlockCache {
 public:
  explicit BlockCache(Backend& backend) : backend_(backend) {}
  ~BlockCache();
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // A block of at least `bytes` (at most twice that, so small requests do not
  // pin large blocks); its real size in *capacity.
  void* take(size_t bytes, size_t* capacity);
  void give(void* ptr, size_t capacity) noexcept;

 private:
  Backend& backend_;
  std::multimap<size_t, void*> free_;  // capacity -> block
};

// Memory from a BlockCache, given back in the destructor; move-only.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(BlockCache& cache, size_t bytes);
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  float* f32() const { return static_cast<float*>(ptr_); }
  int32_t* i32() const { return static_cast<int32_t*>(ptr_); }
  void reset() noexcept;

 private:
  BlockCache* cache_ = nullptr;
  void* ptr_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace seqattn::model
