/* Calls that pass enum arguments outside their enumerators, as a C caller (or
 * an FFI binding) may: in C an enum object holds any int, while C++ test code
 * could not even form such a value for these enums without undefined behaviour.
 * Declared in enum_calls.h. */
#include "enum_calls.h"

seqattn_status call_handle_create_with(int device, int math, seqattn_handle* out) {
  seqattn_handle_options options;
  seqattn_handle_options_init(&options);
  options.device = (seqattn_device)device;
  options.math = (seqattn_math)math;
  return seqattn_handle_create(&options, out);
}

seqattn_status call_gru_with_variant(seqattn_handle handle, int variant,
                                     const seqattn_rnn_dims* dims, const float* x,
                                     const float* kernel, const float* recurrent_kernel,
                                     float* outputs, float* h_last) {
  return seqattn_gru_forward(handle, dims, (seqattn_gru_variant)variant, 0u, x, NULL, NULL, kernel,
                             recurrent_kernel, NULL, outputs, h_last);
}

seqattn_status call_dense_with_activation(seqattn_handle handle, int activation, int64_t rows,
                                          int32_t in_dim, int32_t out_dim, const float* x,
                                          const float* W, float* y) {
  return seqattn_dense_forward(handle, rows, in_dim, out_dim, x, W, NULL,
                               (seqattn_activation)activation, y);
}
