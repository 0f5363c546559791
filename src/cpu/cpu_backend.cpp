// The reference backend (SEQATTN_DEVICE_CPU_REFERENCE): host memory and the
// double-precision loops of this directory, the oracle of every test.
#include <memory>

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

  void additive_attention_backward(const AttentionBackwardArgs& a) override {
    cpu::additive_attention_backward(a);
  }
  void additive_attention_projected_backward(const ProjectedAttentionBackwardArgs& a) override {
    cpu::additive_attention_projected_backward(a);
  }
  void attention_pooling_backward(const PoolingBackwardArgs& a) override {
    cpu::attention_pooling_backward(a);
  }
  void rnn_backward(const RnnBackwardArgs& a) override { cpu::rnn_backward(a); }
  void dense_backward(const DenseBackwardArgs& a) override { cpu::dense_backward(a); }
};

}  // namespace

std::unique_ptr<Backend> make_reference_backend(const seqattn_handle_options&) {
  return std::make_unique<ReferenceBackend>();
}

}  // namespace seqattn
