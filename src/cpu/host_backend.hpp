// What both CPU backends share: host memory (64-byte aligned) and the model
// helpers (gather, argmax, concat: src/cpu/model_ops.cpp), copies and
// comparisons with nothing to make faster. The reference (cpu_backend.cpp) and the fast
// backend (src/fast/) add their ops.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/backend.hpp"
#include "cpu/reference.hpp"

namespace seqattn::cpu {

class HostBackend : public Backend {
 public:
  void* allocate(size_t bytes) override {
    // 64-byte alignment (a cache line, enough for any vector load); aligned_alloc
    // wants a size that is a multiple of the alignment.
    if (bytes > SIZE_MAX - 63) throw std::bad_alloc();  // the rounding below would wrap
    const size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    if (!p) throw std::bad_alloc();
    return p;
  }
  void deallocate(void* ptr) noexcept override { std::free(ptr); }
  void copy_to_device(void* dst, const void* src, size_t bytes) override {
    std::memmove(dst, src, bytes);
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    std::memmove(dst, src, bytes);
  }
  void synchronize() override {}

  void gather_rows(const float* table, int64_t vocab, int64_t dim, const int32_t* ids,
                   int64_t rows, float* out) override {
    cpu::gather_rows(table, vocab, dim, ids, rows, out);
  }
  void argmax_rows(const float* x, int64_t rows, int64_t cols, int32_t* ids) override {
    cpu::argmax_rows(x, rows, cols, ids);
  }
  void concat_rows(const float* a, int64_t da, const float* b, int64_t db, int64_t rows,
                   float* out) override {
    cpu::concat_rows(a, da, b, db, rows, out);
  }
};

}  // namespace seqattn::cpu
