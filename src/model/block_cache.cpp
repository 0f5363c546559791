// The block cache of a model's per-call buffers (see block_cache.hpp).
#include "model/block_cache.hpp"

#include <utility>

namespace seqattn::model {

BlockCache::~BlockCache() {
  for (const auto& [capacity, ptr] : free_) backend_.deallocate(ptr);
}

void* BlockCache::take(size_t bytes, size_t* capacity) {
  const auto it = free_.lower_bound(bytes);
  if (it != free_.end() && it->first / 2 <= bytes) {
    void* ptr = it->second;
    *capacity = it->first;
    free_.erase(it);
    return ptr;
  }
  *capacity = bytes;
  return backend_.allocate(bytes);
}

void BlockCache::give(void* ptr, size_t capacity) noexcept {
  try {
    free_.emplace(capacity, ptr);
  } catch (...) {  // no room to remember it: release it instead
    backend_.deallocate(ptr);
  }
}

DeviceBuffer::DeviceBuffer(BlockCache& cache, size_t bytes)
    : cache_(&cache), ptr_(cache.take(bytes, &capacity_)) {}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : cache_(std::exchange(other.cache_, nullptr)),
      ptr_(std::exchange(other.ptr_, nullptr)),
      capacity_(std::exchange(other.capacity_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    reset();
    cache_ = std::exchange(other.cache_, nullptr);
    ptr_ = std::exchange(other.ptr_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

void DeviceBuffer::reset() noexcept {
  if (ptr_) cache_->give(ptr_, capacity_);
  ptr_ = nullptr;
  capacity_ = 0;
}

}  // namespace seqattn::model
