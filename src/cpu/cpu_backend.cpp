// The CPU backend: host memory, and the reference loops of src/cpu/<op>.cpp
// (the model helpers in src/cpu/model_ops.cpp).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/backend.hpp"
#include "cpu/reference.hpp"

namespace seqattn {
namespace {

class CpuBackend final : public Backend {
 public:
  seqattn_device device() const override { return SEQATTN_DEVICE_CPU; }

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

  void additive_attention(const AttentionArgs& a) override { cpu::additive_attention(a); }
  void project_keys(const ProjectKeysArgs& a) override { cpu::project_keys(a); }
  void additive_attention_projected(const ProjectedAttentionArgs& a) override {
    cpu::additive_attention_projected(a);
  }
  void attention_pooling(const PoolingArgs& a) override { cpu::attention_pooling(a); }
  void rnn(const RnnArgs& a) override { cpu::rnn(a); }
  void dense(const DenseArgs& a) override { cpu::dense(a); }

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

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const seqattn_handle_options&) {
  return std::make_unique<CpuBackend>();
}

}  // namespace seqattn
