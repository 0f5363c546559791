// What a seqattn_handle points to (the C layer's own struct, opaque to users
// and unknown to src/): the backend of its device (which holds the
// math mode), and the allocations made through seqattn_malloc (so seqattn_free can refuse
// a pointer it does not own, and destroy can release what is left).
#pragma once

#include <memory>
#include <unordered_set>

#include "core/backend.hpp"

struct seqattn_handle_s {
  // Shared with the models loaded on this handle: their weights live in this
  // backend's memory, so it stays alive until the last of them is destroyed.
  std::shared_ptr<seqattn::Backend> backend;
  std::unordered_set<void*> allocations;

  ~seqattn_handle_s() {
    for (void* p : allocations) backend->deallocate(p);
  }
};
