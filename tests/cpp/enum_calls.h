/* C helpers (enum_calls.c) that call the API with out-of-range enum values. */
#ifndef SEQATTN_TESTS_ENUM_CALLS_H
#define SEQATTN_TESTS_ENUM_CALLS_H

#include "seqattn/seqattn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* seqattn_handle_create with options from _init but these device and math values. */
seqattn_status call_handle_create_with(int device, int math, seqattn_handle* out);

/* seqattn_gru_forward(handle, dims, variant, 0, x, NULL, NULL, kernel, recurrent_kernel,
 * NULL, outputs, h_last) */
seqattn_status call_gru_with_variant(seqattn_handle handle, int variant,
                                     const seqattn_rnn_dims* dims, const float* x,
                                     const float* kernel, const float* recurrent_kernel,
                                     float* outputs, float* h_last);

/* seqattn_dense_forward(handle, rows, in_dim, out_dim, x, W, NULL, activation, y) */
seqattn_status call_dense_with_activation(seqattn_handle handle, int activation, int64_t rows,
                                          int32_t in_dim, int32_t out_dim, const float* x,
                                          const float* W, float* y);

#ifdef __cplusplus
}
#endif

#endif
