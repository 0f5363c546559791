/*
 * seqattn — fused additive attention and the recurrent layers around it.
 *
 * The stable C API. The math every function computes is in docs/math.md
 * (DESIGN.md §1); tensors are row-major float32, shapes are given beside each
 * parameter. Every fallible function returns a seqattn_status and, on failure,
 * leaves a message naming the offending argument in seqattn_last_error().
 * A call that fails validation writes nothing.
 */
#ifndef SEQATTN_SEQATTN_H
#define SEQATTN_SEQATTN_H

#include <stddef.h>
#include <stdint.h>

/* CMakeLists.txt reads the project version from these three lines. */
#define SEQATTN_VERSION_MAJOR 0
#define SEQATTN_VERSION_MINOR 1
#define SEQATTN_VERSION_PATCH 0
#define SEQATTN_VERSION \
  (SEQATTN_VERSION_MAJOR * 10000 + SEQATTN_VERSION_MINOR * 100 + SEQATTN_VERSION_PATCH)

#if defined(_WIN32)
#  if defined(SEQATTN_BUILDING_LIBRARY)
#    define SEQATTN_API __declspec(dllexport)
#  else
#    define SEQATTN_API __declspec(dllimport)
#  endif
#else
#  define SEQATTN_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ status */

typedef enum seqattn_status {
  SEQATTN_OK = 0,
  SEQATTN_ERROR_INVALID_ARGUMENT = 1,
  SEQATTN_ERROR_UNSUPPORTED = 2,
  SEQATTN_ERROR_NO_DEVICE = 3,
  SEQATTN_ERROR_OUT_OF_MEMORY = 4,
  SEQATTN_ERROR_DEVICE = 5,
  SEQATTN_ERROR_IO = 6,
  SEQATTN_ERROR_FORMAT = 7,
  SEQATTN_ERROR_INTERNAL = 8
} seqattn_status; /* append-only */

SEQATTN_API uint32_t seqattn_version(void); /* MAJOR*10000 + MINOR*100 + PATCH */
SEQATTN_API const char* seqattn_status_string(seqattn_status status);
/* This thread's detail of its last failed call ("" if none failed yet). The
 * pointer stays valid until this thread's next seqattn call. */
SEQATTN_API const char* seqattn_last_error(void);

/* Build features, for `seqattn info` and bindings: bit 0 = CUDA compiled in,
 * bit 1 = OpenMP in the CPU path. */
enum { SEQATTN_FEATURE_CUDA = 1u, SEQATTN_FEATURE_OPENMP = 2u };
SEQATTN_API uint32_t seqattn_build_features(void);

/* ----------------------------------------------------------------- handles */

typedef enum seqattn_device { SEQATTN_DEVICE_CPU = 0, SEQATTN_DEVICE_CUDA = 1 } seqattn_device;
typedef enum seqattn_math { SEQATTN_MATH_PRECISE = 0, SEQATTN_MATH_FAST = 1 } seqattn_math;

typedef struct seqattn_handle_options {
  uint32_t struct_size; /* sizeof(seqattn_handle_options); set by _init */
  seqattn_device device;
  int32_t device_ordinal;
  void* cuda_stream; /* cudaStream_t; NULL: the handle makes its own */
  seqattn_math math;
} seqattn_handle_options;

typedef struct seqattn_handle_s* seqattn_handle;

/* Defaults: CPU, ordinal 0, own stream, precise math. */
SEQATTN_API void seqattn_handle_options_init(seqattn_handle_options* options);
SEQATTN_API seqattn_status seqattn_handle_create(const seqattn_handle_options* options,
                                                 seqattn_handle* out);
SEQATTN_API void seqattn_handle_destroy(seqattn_handle handle); /* NULL: no-op */
SEQATTN_API seqattn_status seqattn_synchronize(seqattn_handle handle);
/* 0 without a driver, a GPU, or CUDA in the build. */
SEQATTN_API int32_t seqattn_cuda_device_count(void);
/* The device a handle runs on (through *out). */
SEQATTN_API seqattn_status seqattn_handle_get_device(seqattn_handle handle, seqattn_device* out);

/* ------------------------------------------------------------------ memory */
/* Memory in the handle's space (device memory for CUDA handles). */

SEQATTN_API seqattn_status seqattn_malloc(seqattn_handle handle, size_t bytes, void** out);
SEQATTN_API seqattn_status seqattn_free(seqattn_handle handle, void* ptr); /* NULL: no-op */
SEQATTN_API seqattn_status seqattn_copy_to_device(seqattn_handle handle, void* dst,
                                                  const void* host_src, size_t bytes);
SEQATTN_API seqattn_status seqattn_copy_to_host(seqattn_handle handle, void* host_dst,
                                                const void* src, size_t bytes);

/* -------------------------------------------------------- additive attention */

typedef struct seqattn_attention_dims {
  int32_t batch, enc_steps, dec_steps, enc_dim, dec_dim, units; /* B, Te, Td, He, Hd, A */
} seqattn_attention_dims;

/*
 * keys[b,i,:]  = h[b,i,:]·W + bias
 * e[b,t,i]     = Σ_a v[a]·tanh(keys[b,i,a] + (s[b,t,:]·U)[a])
 * w[b,t,:]     = softmax over i < enc_lengths[b] of e[b,t,:]  (0 for masked i)
 * context[b,t] = Σ_i w[b,t,i]·h[b,i,:]
 * Rows t >= dec_lengths[b] and rows with enc_lengths[b] == 0 are all zeros.
 */
SEQATTN_API seqattn_status seqattn_additive_attention_forward(
    seqattn_handle handle, const seqattn_attention_dims* dims,
    const float* encoder_out,   /* [B, Te, He] */
    const float* decoder_out,   /* [B, Td, Hd] */
    const int32_t* enc_lengths, /* [B] host memory, or NULL */
    const int32_t* dec_lengths, /* [B] host memory, or NULL */
    const float* W,             /* [He, A] */
    const float* U,             /* [Hd, A] */
    const float* bias,          /* [A] or NULL */
    const float* v,             /* [A] */
    float* context_out,         /* [B, Td, He] */
    float* weights_out);        /* [B, Td, Te], or NULL */

/* Two-phase form for step-by-step decoding: project the keys once per source. */
SEQATTN_API seqattn_status seqattn_additive_attention_project_keys(
    seqattn_handle handle, const seqattn_attention_dims* dims,
    const float* encoder_out, /* [B, Te, He] */
    const float* W,           /* [He, A] */
    const float* bias,        /* [A] or NULL */
    float* keys_out);         /* [B, Te, A] */
SEQATTN_API seqattn_status seqattn_additive_attention_forward_projected(
    seqattn_handle handle, const seqattn_attention_dims* dims,
    const float* encoder_out,   /* [B, Te, He] */
    const float* keys,          /* [B, Te, A] from project_keys */
    const float* decoder_out,   /* [B, Td, Hd] */
    const int32_t* enc_lengths, /* [B] host, or NULL */
    const int32_t* dec_lengths, /* [B] host, or NULL */
    const float* U,             /* [Hd, A] */
    const float* v,             /* [A] */
    float* context_out,         /* [B, Td, He] */
    float* weights_out);        /* [B, Td, Te], or NULL */

/* -------------------------------------------------------- attention pooling */

typedef struct seqattn_pooling_dims {
  int32_t batch, steps, features; /* B, T, F */
} seqattn_pooling_dims;

/* e[b,t] = tanh(x[b,t,:]·w + b[t]);  a = softmax over t < lengths[b];
 * out[b] = Σ_t a[b,t]·x[b,t,:]. A row of length 0 gives zeros. */
SEQATTN_API seqattn_status seqattn_attention_pooling_forward(
    seqattn_handle handle, const seqattn_pooling_dims* dims,
    const float* x,           /* [B, T, F] */
    const int32_t* lengths,   /* [B] host, or NULL */
    const float* w,           /* [F] */
    const float* b,           /* [T] or NULL */
    float* context_out,       /* [B, F] */
    float* weights_out);      /* [B, T] or NULL */

/* --------------------------------------------------------------- recurrent */

typedef struct seqattn_rnn_dims {
  int32_t batch, steps, input_dim, units; /* B, T, I, H */
} seqattn_rnn_dims;

typedef enum seqattn_gru_variant {
  SEQATTN_GRU_RESET_AFTER = 0, /* Keras reset_after=True, cuDNN, PyTorch; bias [2, 3H] */
  SEQATTN_GRU_RESET_BEFORE = 1 /* Keras reset_after=False; bias [3H] */
} seqattn_gru_variant;

enum { SEQATTN_RNN_REVERSE = 1u };

/* Keras layout: kernel [I, 3H], recurrent_kernel [H, 3H], column blocks z, r, h.
 * Steps t >= lengths[b] keep the state and output 0; h_last is the state after
 * the last valid step (h0 if the length is 0). */
SEQATTN_API seqattn_status seqattn_gru_forward(
    seqattn_handle handle, const seqattn_rnn_dims* dims, seqattn_gru_variant variant,
    uint32_t flags,
    const float* x,                /* [B, T, I] */
    const int32_t* lengths,        /* [B] host, or NULL */
    const float* h0,               /* [B, H] or NULL (zeros) */
    const float* kernel,           /* [I, 3H] */
    const float* recurrent_kernel, /* [H, 3H] */
    const float* bias,             /* [2, 3H] (RESET_AFTER) or [3H] (RESET_BEFORE), or NULL */
    float* outputs,                /* [B, T, H] or NULL */
    float* h_last);                /* [B, H] or NULL */

/* h' = tanh(x·kernel + h·recurrent_kernel + bias); lengths and REVERSE as GRU. */
SEQATTN_API seqattn_status seqattn_simple_rnn_forward(
    seqattn_handle handle, const seqattn_rnn_dims* dims, uint32_t flags,
    const float* x,                /* [B, T, I] */
    const int32_t* lengths,        /* [B] host, or NULL */
    const float* h0,               /* [B, H] or NULL */
    const float* kernel,           /* [I, H] */
    const float* recurrent_kernel, /* [H, H] */
    const float* bias,             /* [H] or NULL */
    float* outputs,                /* [B, T, H] or NULL */
    float* h_last);                /* [B, H] or NULL */

/* ------------------------------------------------------------------- dense */

typedef enum seqattn_activation {
  SEQATTN_ACTIVATION_NONE = 0,
  SEQATTN_ACTIVATION_TANH = 1,
  SEQATTN_ACTIVATION_SIGMOID = 2,
  SEQATTN_ACTIVATION_RELU = 3,
  SEQATTN_ACTIVATION_SOFTMAX = 4 /* over the last axis */
} seqattn_activation;

/* y = act(x·W + b) */
SEQATTN_API seqattn_status seqattn_dense_forward(
    seqattn_handle handle, int64_t rows, int32_t in_dim, int32_t out_dim,
    const float* x, /* [rows, in] */
    const float* W, /* [in, out] */
    const float* b, /* [out] or NULL */
    seqattn_activation activation,
    float* y);      /* [rows, out] */

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SEQATTN_SEQATTN_H */
