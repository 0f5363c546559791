// The CUDA backend: device memory, copies and the ops of src/cuda/ on the
// handle's stream, each call with the handle's device current. The model
// helpers (gather, argmax, concat) are kernels/model.cu, so greedy decoding
// stays on the device; a bad id seen by the gather kernel is reported by the
// next synchronize (see check_gather_flag).
#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "core/backend.hpp"
#include "core/error.hpp"
#include "cuda/check.hpp"
#include "cuda/context.hpp"
#include "cuda/ops.hpp"
#include "kernels/check.cuh"
#include "kernels/model.cuh"

namespace seqattn {
namespace {

using cuda::DeviceGuard;

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const seqattn_handle_options& options) : ctx_(options) {
    // Mapped pinned memory: the kernel writes it directly, and reading it after
    // a stream synchronisation costs no copy.
    DeviceGuard guard(ctx_.device());
    void* flag = nullptr;
    cuda::check(cudaHostAlloc(&flag, sizeof(int32_t), cudaHostAllocMapped | cudaHostAllocPortable),
                "cudaHostAlloc (gather_rows error flag)");
    gather_flag_.reset(flag);
    *static_cast<volatile int32_t*>(flag) = 0;
    void* d_flag = nullptr;
    cuda::check(cudaHostGetDevicePointer(&d_flag, flag, 0), "cudaHostGetDevicePointer");
    d_gather_flag_ = static_cast<int32_t*>(d_flag);
  }

  seqattn_device device() const override { return SEQATTN_DEVICE_CUDA; }

  void* allocate(size_t bytes) override {
    DeviceGuard guard(ctx_.device());
    return cuda::device_alloc(bytes, "seqattn_malloc").release();
  }
  void deallocate(void* ptr) noexcept override {
    // cudaFree waits for the device, so memory still read by queued work is
    // not handed out again under it.
    int previous = -1;
    (void)cudaGetDevice(&previous);
    if (previous != ctx_.device()) (void)cudaSetDevice(ctx_.device());
    (void)cudaFree(ptr);
    if (previous != ctx_.device()) (void)cudaSetDevice(previous);
    (void)cudaGetLastError();
  }
  // The copies return when done: the caller's host buffer, which may be
  // pageable, is free again (or filled) on return, as with cudaMemcpy; they
  // are ordered after the work already queued on the handle's stream.
  void copy_to_device(void* dst, const void* host_src, size_t bytes) override {
    DeviceGuard guard(ctx_.device());
    cuda::check(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyDefault, ctx_.stream()),
                "cudaMemcpyAsync (seqattn_copy_to_device)");
    cuda::check(cudaStreamSynchronize(ctx_.stream()), "cudaStreamSynchronize");
  }
  void copy_to_host(void* host_dst, const void* src, size_t bytes) override {
    DeviceGuard guard(ctx_.device());
    cuda::check(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDefault, ctx_.stream()),
                "cudaMemcpyAsync (seqattn_copy_to_host)");
    cuda::check(cudaStreamSynchronize(ctx_.stream()), "cudaStreamSynchronize");
  }
  // Only here, not in the copies: a copy that succeeded (and wrote the caller's
  // buffer) must not report an earlier gather's flag. The models end every
  // translate and score with a synchronize.
  void synchronize() override {
    DeviceGuard guard(ctx_.device());
    cuda::check(cudaStreamSynchronize(ctx_.stream()), "cudaStreamSynchronize");
    check_gather_flag();
  }

  void additive_attention(const AttentionArgs& a) override {
    on_device([&] { cuda::additive_attention(ctx_, a); });
  }
  void project_keys(const ProjectKeysArgs& a) override {
    on_device([&] { cuda::project_keys(ctx_, a); });
  }
  void additive_attention_projected(const ProjectedAttentionArgs& a) override {
    on_device([&] { cuda::additive_attention_projected(ctx_, a); });
  }
  void attention_pooling(const PoolingArgs& a) override {
    on_device([&] { cuda::attention_pooling(ctx_, a); });
  }
  void rnn(const RnnArgs& a) override {
    on_device([&] { cuda::rnn(ctx_, a); });
  }
  void dense(const DenseArgs& a) override {
    on_device([&] { cuda::dense(ctx_, a); });
  }

  void additive_attention_backward(const AttentionBackwardArgs& a) override {
    on_device([&] { cuda::additive_attention_backward(ctx_, a); });
  }
  void additive_attention_projected_backward(const ProjectedAttentionBackwardArgs& a) override {
    on_device([&] { cuda::additive_attention_projected_backward(ctx_, a); });
  }
  void attention_pooling_backward(const PoolingBackwardArgs& a) override {
    on_device([&] { cuda::attention_pooling_backward(ctx_, a); });
  }
  void rnn_backward(const RnnBackwardArgs& a) override {
    on_device([&] { cuda::rnn_backward(ctx_, a); });
  }
  void dense_backward(const DenseBackwardArgs& a) override {
    on_device([&] { cuda::dense_backward(ctx_, a); });
  }

  void gather_rows(const float* table, int64_t vocab, int64_t dim, const int32_t* ids, int64_t rows,
                   float* out) override {
    on_device([&] {
      cuda::launch_gather_rows(table, vocab, dim, ids, rows, out, d_gather_flag_, ctx_.stream());
    });
  }
  void argmax_rows(const float* x, int64_t rows, int64_t cols, int32_t* ids) override {
    on_device([&] { cuda::launch_argmax_rows(x, rows, cols, ids, ctx_.stream()); });
  }
  void concat_rows(const float* a, int64_t da, const float* b, int64_t db, int64_t rows,
                   float* out) override {
    on_device([&] { cuda::launch_concat_rows(a, da, b, db, rows, out, ctx_.stream()); });
  }

 private:
  // Every op: the handle's device current for the call, then the host side of
  // src/cuda/ (which enqueues on the handle's stream). A launcher of kernels/
  // reports failure as LaunchError (kernels/ knows nothing of src/); it leaves
  // here as seqattn::Error with the same status and message.
  template <class F>
  void on_device(F&& op) {
    DeviceGuard guard(ctx_.device());
    try {
      op();
    } catch (const cuda::LaunchError& e) {
      fail(e.status(), e.what());
    }
  }

  // Called by synchronize. The ids reaching gather_rows are validated host
  // tokens or argmax results, so a set flag is a bug of ours; it fails the
  // synchronize (a model call then returns an error) and is cleared, so the
  // handle stays usable.
  void check_gather_flag() {
    volatile int32_t* flag = static_cast<volatile int32_t*>(gather_flag_.get());
    if (*flag == 0) return;
    *flag = 0;
    fail(SEQATTN_ERROR_INTERNAL,
         "gather_rows: a token id outside the vocabulary reached the device "
         "(its rows were written as zeros)");
  }

  // Before ctx_, so freed after it: ~CudaContext drains the stream whose
  // kernels may still write the flag.
  cuda::PinnedMemory gather_flag_;    // int32 in mapped pinned host memory
  int32_t* d_gather_flag_ = nullptr;  // its device address
  cuda::CudaContext ctx_;
};

}  // namespace

int32_t cuda_device_count() noexcept {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return count;
}

std::unique_ptr<Backend> make_cuda_backend(const seqattn_handle_options& options) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    fail(SEQATTN_ERROR_NO_DEVICE, std::string("no usable CUDA device: cudaGetDeviceCount: ") +
                                      cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
  }
  if (count == 0)
    fail(SEQATTN_ERROR_NO_DEVICE, "no usable CUDA device: cudaGetDeviceCount found none");
  if (options.device_ordinal >= count)
    invalid("options->device_ordinal = " + std::to_string(options.device_ordinal) +
            " but only " + std::to_string(count) + " CUDA device(s) are visible");
  return std::make_unique<CudaBackend>(options);
}

}  // namespace seqattn
