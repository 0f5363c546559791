// The reference backend (SEQATTN_DEVICE_CPU_REFERENCE): host memory and the
// double-precision loops of this directory, the oracle of every test.
#include <memory>

#include "core/error.hpp"
#include "cpu/host_backend.hpp"
#include "cpu/reference.hpp"

namespace seqattn {
namespace {

class ReferenceBackend final : public cpu::HostBackend {
 public:
  seqattn_device device() const override { return SEQATTN_DEVICE_CPU_REFERENCE; }

  void additive_attention(const AttentionArgs& a) override { cpu::additive_attention(a); }
  void project_keys(const ProjectKeysArgs& a) override { cpu::project_keys(a); }
  void additive_attention_projected(const ProjectedAttentionArgs& a) override {
    cpu::additive_attention_projected(a);
  }
  void attention_pooling(const PoolingArgs& a) override { cpu::attention_pooling(a); }
  void rnn(const RnnArgs& a) override { cpu::rnn(a); }
  void dense(const DenseArgs& a) override { cpu::dense(a); }

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
};

}  // namespace

std::unique_ptr<Backend> make_reference_backend(const seqattn_handle_options&) {
  return std::make_unique<ReferenceBackend>();
}

}  // namespace seqattn
