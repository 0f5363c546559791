// cuDNN's GRU (cuDNN 9 API: cudnnRNNForward, CUDNN_GRU), the peer of the
// seqattn GRU. Its math is SEQATTN_GRU_RESET_AFTER: cuDNN, PyTorch and Keras'
// reset_after=True share it; set_weights converts the Keras layout.
#pragma once

#include <cstddef>

#include "seqattn/seqattn.h"

namespace bench {

class CudnnGru {
 public:
  // kFp32: CUDNN_FMA_MATH, plain FP32 like the seqattn GRU (PyTorch's choice
  // when torch.backends.cudnn.allow_tf32 is False). kTf32: CUDNN_DEFAULT_MATH,
  // which lets cuDNN use TF32 tensor cores on sm_80+ (PyTorch's default).
  enum class Math { kFp32, kTf32 };

  // One layer, unidirectional, batch-major [B, T, I] input, no dropout.
  CudnnGru(const seqattn_rnn_dims& dims, Math math, void* cuda_stream);
  ~CudnnGru();
  CudnnGru(const CudnnGru&) = delete;
  CudnnGru& operator=(const CudnnGru&) = delete;

  // Host arrays in the Keras layout of seqattn_gru_forward (RESET_AFTER):
  // kernel [I, 3H], recurrent_kernel [H, 3H], column blocks z, r, h;
  // bias [2, 3H] (input bias, recurrent bias).
  void set_weights(const float* kernel, const float* recurrent_kernel, const float* bias);

  // Allocates the workspace (the first forward() does so if this was not called).
  void prepare();

  // Enqueues one inference forward on the stream; device pointers.
  void forward(const float* d_x,  // [B, T, I]
               float* d_y,        // [B, T, H]
               float* d_h_last);  // [B, H]

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace bench
