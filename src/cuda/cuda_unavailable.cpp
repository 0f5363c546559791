// The CUDA entry points of a build configured without nvcc.
#include "core/backend.hpp"
#include "core/error.hpp"

namespace seqattn {

std::unique_ptr<Backend> make_cuda_backend(const seqattn_handle_options&) {
  fail(SEQATTN_ERROR_UNSUPPORTED,
       "this build of seqattn has no CUDA support (it was configured without a CUDA "
       "compiler, or with -DSEQATTN_ENABLE_CUDA=OFF); use device = SEQATTN_DEVICE_CPU");
}

int32_t cuda_device_count() noexcept { return 0; }

}  // namespace seqattn
