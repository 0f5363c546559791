// The fast CPU backend (SEQATTN_DEVICE_CPU): host memory, SIMD kernels with
// run-time dispatch (Highway), OpenBLAS products, OpenMP threads. The
// double-precision reference (src/cpu/) is the oracle it is tested against.
#include <memory>
#include <string>

#include "core/error.hpp"
#include "cpu/host_backend.hpp"
#include "fast/gemm.hpp"
#include "fast/kernels.hpp"
#include "fast/ops.hpp"
#include "fast/thread_pool.hpp"

namespace seqattn {
namespace {

class FastCpuBackend final : public cpu::HostBackend {
 public:
  explicit FastCpuBackend(const seqattn_handle_options& options)
      : fast_math_(options.math == SEQATTN_MATH_FAST) {
    fast::init_blas();
  }
  seqattn_device device() const override { return SEQATTN_DEVICE_CPU; }

  void additive_attention(const AttentionArgs& a) override {
    fast::additive_attention(a, fast_math_, ws_);
  }
  void project_keys(const ProjectKeysArgs& a) override { fast::project_keys(a); }
  void additive_attention_projected(const ProjectedAttentionArgs& a) override {
    fast::additive_attention_projected(a, fast_math_, ws_);
  }
  void attention_pooling(const PoolingArgs& a) override { fast::attention_pooling(a); }
  void rnn(const RnnArgs& a) override { fast::rnn(a, ws_); }
  void dense(const DenseArgs& a) override { fast::dense(a); }

  // Backward passes: not yet on this backend (replaced as each lands).
  void additive_attention_backward(const AttentionBackwardArgs&) override { not_yet(); }
  void additive_attention_projected_backward(const ProjectedAttentionBackwardArgs&) override {
    not_yet();
  }
  void attention_pooling_backward(const PoolingBackwardArgs&) override { not_yet(); }
  void rnn_backward(const RnnBackwardArgs&) override { not_yet(); }
  void dense_backward(const DenseBackwardArgs&) override { not_yet(); }
  [[noreturn]] static void not_yet() {
    fail(SEQATTN_ERROR_UNSUPPORTED, "this backward pass is not implemented on this device yet");
  }

 private:
  bool fast_math_;
  fast::Workspace ws_;  // a handle is used by one thread at a time
};

}  // namespace

std::unique_ptr<Backend> make_fast_cpu_backend(const seqattn_handle_options& options) {
  return std::make_unique<FastCpuBackend>(options);
}

std::string fast_cpu_info() {
  fast::init_blas();
  return std::string("simd ") + fast::simd_target_name() + "; " + fast::blas_description() +
         "; threads " + std::to_string(fast::ThreadPool::instance().threads());
}

}  // namespace seqattn
