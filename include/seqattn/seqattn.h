/*
 * seqattn — fused additive attention and the recurrent layers around it.
 *
 * The stable C API. The math every function computes is in docs/math.md;
 * tensors are row-major float32, shapes are given beside each
 * parameter. Every fallible function returns a seqattn_status and, on failure,
 * leaves a message naming the offending argument in seqattn_last_error().
 * A call that fails validation writes nothing.
 *
 * No function computes in place: an output must not overlap any input of the
 * call (tensors, lengths, text) or another of its outputs, over the extents
 * the shapes below give them. An overlap is refused with
 * SEQATTN_ERROR_INVALID_ARGUMENT naming both arguments ("context_out overlaps
 * encoder_out"), before anything is written. Device pointers are compared in
 * the same address space.
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

/* In C++ the enums get int as their fixed type: without one, a value that a C
 * or FFI caller may pass (an unknown variant, say) is outside the enum's range
 * and even checking it is undefined behaviour. Same size and values as in C. */
#ifdef __cplusplus
#  define SEQATTN_ENUM(name) enum name : int
#else
#  define SEQATTN_ENUM(name) enum name
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ status */

typedef SEQATTN_ENUM(seqattn_status) {
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
/* What the fast CPU path runs on here, one line: the SIMD instruction set its
 * kernels were dispatched to ("simd AVX3" for AVX-512, AVX2, SSE4, NEON, or
 * SCALAR or EMU128 for the portable fallback), the BLAS and its kernels, and the
 * threads it may use, e.g. "simd AVX3; OpenBLAS 0.3.21 ..., kernels for
 * SkylakeX; threads 2". The pointer stays valid until this thread's next
 * seqattn call. */
SEQATTN_API const char* seqattn_cpu_info(void);

/* ----------------------------------------------------------------- handles */

/* SEQATTN_DEVICE_CPU is the fast CPU path: SIMD kernels picked at run time
 * for the processor (SSE4, AVX2, AVX-512; NEON), OpenBLAS for the products,
 * one pool of SEQATTN_NUM_THREADS threads (default: OMP_NUM_THREADS, else
 * the cores) shared by every handle. Creating the first CPU handle (or
 * calling seqattn_cpu_info) sets the process's OpenBLAS to one thread per
 * call, and where OpenBLAS did not recognise the processor it re-runs its
 * detection: do that before other threads of the process use the same
 * OpenBLAS. SEQATTN_DEVICE_CPU_REFERENCE is the double-precision
 * reference: plain loops, slow, the oracle every other path is tested
 * against. Both take host pointers. */
typedef SEQATTN_ENUM(seqattn_device) {
  SEQATTN_DEVICE_CPU = 0,
  SEQATTN_DEVICE_CUDA = 1,
  SEQATTN_DEVICE_CPU_REFERENCE = 2
} seqattn_device; /* append-only */
/* PRECISE: results within 1e-5 + 1e-4·|x| of the reference on every device.
 * FAST: a cheaper tanh in the attention energies, with the bounds that
 * docs/math.md states for each device ("Math modes"). */
typedef SEQATTN_ENUM(seqattn_math) { SEQATTN_MATH_PRECISE = 0, SEQATTN_MATH_FAST = 1 } seqattn_math;

typedef struct seqattn_handle_options {
  uint32_t struct_size; /* sizeof(seqattn_handle_options); set by _init */
  seqattn_device device;
  int32_t device_ordinal;
  void* cuda_stream; /* cudaStream_t; NULL: the handle makes its own */
  seqattn_math math;
} seqattn_handle_options;
/* CUDA graphs: a CUDA handle's calls enqueue on its stream and nothing else,
 * so they can be captured (cudaStreamBeginCapture on the stream given in
 * cuda_stream). What a capture may rely on:
 *  - Scratch memory captured into a graph stays allocated until the handle
 *    is destroyed: a later call that needs more scratch allocates a larger
 *    buffer and keeps the old one (together at most twice the largest
 *    call's scratch), so replaying an earlier graph never touches freed
 *    memory. Destroy the handle only after the last replay has finished.
 *  - Make one call of the largest shape before capturing, so that no
 *    scratch is allocated while capturing.
 *  - A replay reuses the scratch of the captured call: do not replay a graph
 *    while other work of the same handle (another replay, a direct call)
 *    may run at the same time on another stream.
 *  - Calls that take host lengths arrays (enc_lengths, dec_lengths,
 *    lengths) copy them through staging buffers that later calls refill: a
 *    replay would copy whatever they then hold. Capture only calls whose
 *    lengths arrays are NULL. */

typedef struct seqattn_handle_s* seqattn_handle;

/* Defaults: CPU, ordinal 0, own stream, precise math. */
SEQATTN_API void seqattn_handle_options_init(seqattn_handle_options* options);
/* Threads: a handle, and every model loaded on it, is for one thread at a
 * time. Two threads calling through one handle or its models at once race
 * (and crash, e.g. in the model's block cache); give each thread its own
 * handle and models, or serialise the calls with a lock. */
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

typedef SEQATTN_ENUM(seqattn_gru_variant) {
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

typedef SEQATTN_ENUM(seqattn_activation) {
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

/* ---------------------------------------------------------- backward passes */
/*
 * Gradients for training. Each backward takes the forward's inputs, what its
 * forward returned (the attention or pooling weights, the RNN outputs, the
 * Dense output) and the gradients of the loss with respect to the forward's
 * outputs (d_*), and writes the gradients with respect to the forward's
 * inputs and parameters. Gradients are written, never accumulated: a caller
 * summing over several uses adds them itself. A gradient output marked "or
 * NULL" is not computed when NULL; the others are required. Masked encoder
 * positions, steps past a row's length and padded rows get zero gradient;
 * rows whose outputs were zeros by the masking rules pass no gradient.
 *
 * Additive attention. From the forward's weights w (its weights_out), with
 * dw = d_context·hᵀ + d_weights and de = w ⊙ (dw − Σ_i w·dw) over valid i,
 * and g[b,t,i,a] = de[b,t,i]·v[a]·(1 − tanh²(keys[b,i,a] + q[b,t,a])):
 *   d_v[a]          = Σ de·tanh(keys + q)
 *   d_keys[b,i,:]   = Σ_t g,   d_q[b,t,:] = Σ_i g
 *   d_encoder_out   = Σ_t w·d_context  (as values)  +  d_keys·Wᵀ (as keys)
 *   d_decoder_out   = d_q·Uᵀ,  d_U = sᵀ·d_q,  d_W = hᵀ·d_keys,  d_bias = Σ d_keys
 * tanh is recomputed, never stored: scratch beyond the gradients themselves
 * is O(B·Te·A + B·Td·A + B·Td·Te) (keys, queries, their gradients, de),
 * never O(B·Td·Te·A).
 */
SEQATTN_API seqattn_status seqattn_additive_attention_backward(
    seqattn_handle handle, const seqattn_attention_dims* dims,
    const float* encoder_out,   /* [B, Te, He] */
    const float* decoder_out,   /* [B, Td, Hd] */
    const int32_t* enc_lengths, /* [B] host memory, or NULL */
    const int32_t* dec_lengths, /* [B] host memory, or NULL */
    const float* W,             /* [He, A] */
    const float* U,             /* [Hd, A] */
    const float* bias,          /* [A] or NULL */
    const float* v,             /* [A] */
    const float* weights,       /* [B, Td, Te]: the forward's weights_out */
    const float* d_context,     /* [B, Td, He] */
    const float* d_weights,     /* [B, Td, Te], or NULL (no loss on the weights) */
    float* d_encoder_out,       /* [B, Te, He] */
    float* d_decoder_out,       /* [B, Td, Hd] */
    float* d_W,                 /* [He, A] */
    float* d_U,                 /* [Hd, A] */
    float* d_bias,              /* [A], or NULL */
    float* d_v);                /* [A] */

/* The two-phase form: the gradient reaches the projected keys (d_keys; pass it
 * to seqattn_dense_backward with W, activation NONE, for the projection's
 * d_W, d_bias and its share of d_encoder_out). d_encoder_out here is the
 * values' share only. */
SEQATTN_API seqattn_status seqattn_additive_attention_projected_backward(
    seqattn_handle handle, const seqattn_attention_dims* dims,
    const float* encoder_out,   /* [B, Te, He] */
    const float* keys,          /* [B, Te, A] */
    const float* decoder_out,   /* [B, Td, Hd] */
    const int32_t* enc_lengths, /* [B] host, or NULL */
    const int32_t* dec_lengths, /* [B] host, or NULL */
    const float* U,             /* [Hd, A] */
    const float* v,             /* [A] */
    const float* weights,       /* [B, Td, Te]: the forward's weights_out */
    const float* d_context,     /* [B, Td, He] */
    const float* d_weights,     /* [B, Td, Te], or NULL */
    float* d_encoder_out,       /* [B, Te, He] */
    float* d_keys,              /* [B, Te, A] */
    float* d_decoder_out,       /* [B, Td, Hd] */
    float* d_U,                 /* [Hd, A] */
    float* d_v);                /* [A] */

/* Attention pooling, from the forward's weights a: da = d_context·xᵀ + d_weights,
 * dz = a ⊙ (da − Σ_t a·da) ⊙ (1 − e²) with e = tanh(x·w + b):
 * d_x[b,t] = a·d_context + dz·w,  d_w = Σ dz·x,  d_b[t] = Σ_b dz. */
SEQATTN_API seqattn_status seqattn_attention_pooling_backward(
    seqattn_handle handle, const seqattn_pooling_dims* dims,
    const float* x,         /* [B, T, F] */
    const int32_t* lengths, /* [B] host, or NULL */
    const float* w,         /* [F] */
    const float* b,         /* [T] or NULL */
    const float* weights,   /* [B, T]: the forward's weights_out */
    const float* d_context, /* [B, F] */
    const float* d_weights, /* [B, T], or NULL */
    float* d_x,             /* [B, T, F] */
    float* d_w,             /* [F] */
    float* d_b);            /* [T], or NULL */

/* RNN layers, through time, from the forward's outputs (the state after each
 * valid step; the state before a row's first step is h0, or zeros). The
 * gates are recomputed. d_outputs and d_h_last may each be NULL (no loss
 * there); d_outputs at steps past a row's length are ignored. Same dims,
 * variant, flags and lengths as the forward. */
SEQATTN_API seqattn_status seqattn_gru_backward(
    seqattn_handle handle, const seqattn_rnn_dims* dims, seqattn_gru_variant variant,
    uint32_t flags,
    const float* x,                /* [B, T, I] */
    const int32_t* lengths,        /* [B] host, or NULL */
    const float* h0,               /* [B, H] or NULL (zeros) */
    const float* kernel,           /* [I, 3H] */
    const float* recurrent_kernel, /* [H, 3H] */
    const float* bias,             /* [2, 3H] or [3H] as the forward, or NULL */
    const float* outputs,          /* [B, T, H]: the forward's outputs */
    const float* d_outputs,        /* [B, T, H], or NULL */
    const float* d_h_last,         /* [B, H], or NULL */
    float* d_x,                    /* [B, T, I] */
    float* d_h0,                   /* [B, H], or NULL */
    float* d_kernel,               /* [I, 3H] */
    float* d_recurrent_kernel,     /* [H, 3H] */
    float* d_bias);                /* the bias's shape, or NULL */

SEQATTN_API seqattn_status seqattn_simple_rnn_backward(
    seqattn_handle handle, const seqattn_rnn_dims* dims, uint32_t flags,
    const float* x,                /* [B, T, I] */
    const int32_t* lengths,        /* [B] host, or NULL */
    const float* h0,               /* [B, H] or NULL */
    const float* kernel,           /* [I, H] */
    const float* recurrent_kernel, /* [H, H] */
    const float* bias,             /* [H] or NULL */
    const float* outputs,          /* [B, T, H]: the forward's outputs */
    const float* d_outputs,        /* [B, T, H], or NULL */
    const float* d_h_last,         /* [B, H], or NULL */
    float* d_x,                    /* [B, T, I] */
    float* d_h0,                   /* [B, H], or NULL */
    float* d_kernel,               /* [I, H] */
    float* d_recurrent_kernel,     /* [H, H] */
    float* d_bias);                /* [H], or NULL */

/* Dense, from the forward's output y: dz = d_y ⊙ act'(from y) (softmax:
 * y ⊙ (d_y − Σ y·d_y) per row); d_x = dz·Wᵀ, d_W = xᵀ·dz, d_b = Σ_rows dz. */
SEQATTN_API seqattn_status seqattn_dense_backward(
    seqattn_handle handle, int64_t rows, int32_t in_dim, int32_t out_dim,
    const float* x,   /* [rows, in] */
    const float* W,   /* [in, out] */
    seqattn_activation activation,
    const float* y,   /* [rows, out]: the forward's output */
    const float* d_y, /* [rows, out] */
    float* d_x,       /* [rows, in] */
    float* d_W,       /* [in, out] */
    float* d_b);      /* [out], or NULL */

/* ------------------------------------------------------------------- model */
/*
 * A model loaded from a safetensors file (docs/model-format.md), of one of two
 * kinds (seqattn_model_info.kind): a sequence head (format
 * "seqattn.sequence_head": SimpleRNN/GRU layers, attention pooling, Dense
 * layers), run by seqattn_model_predict (x [B, T, F] -> y [B, N]), or, format
 * "seqattn.seq2seq", an attention seq2seq model that translates and scores:
 * embedding or one-hot inputs, GRU encoder (optionally bidirectional), GRU
 * decoder, additive attention, Dense softmax. The decoder is attention_keras'
 * (attention over the decoder GRU's outputs) or, with decoder.kind "bahdanau",
 * the PyTorch tutorial's AttnDecoderRNN (attention from the previous state,
 * the context fed into the GRU's input).
 *
 * Source rows: callers give each row's valid tokens first, src_lengths[b] of
 * them (what follows is ignored). With the file's source_mask true (the
 * default) pad positions are masked out of the encoder and attention, and the
 * padding side does not matter. With source_mask false the library places the
 * valid tokens on the file's source_padding side ("post" or "pre") of a row of
 * exactly max_source_len tokens, source_pad on the other side, and runs over
 * all of it, as a framework model trained on pad_sequences(maxlen=...) without
 * a mask; a row longer than max_source_len is SEQATTN_ERROR_INVALID_ARGUMENT,
 * and the attention weights returned are those of the caller's tokens, in the
 * caller's positions (the weight on pads is left out).
 *
 * A file may have no vocabularies (only their sizes): its model takes and
 * gives token ids only, and the text functions below (source_token,
 * target_token, encode_source, source_spans, decode_target) return
 * SEQATTN_ERROR_UNSUPPORTED saying so (has_source_vocab / has_target_vocab in
 * seqattn_model_info).
 *
 * A function of the other kind refuses a model (SEQATTN_ERROR_INVALID_ARGUMENT,
 * naming its kind). A model lives in the memory of the handle it was loaded on
 * and runs only with that handle. It keeps that memory alive: a model may be
 * destroyed before or after its handle. Token arrays, lengths and outputs of
 * these functions are host memory on every device.
 * Like its handle, a model is for one thread at a time (see
 * seqattn_handle_create): a model and its handle must not be used from two
 * threads at once.
 */
typedef struct seqattn_model_s* seqattn_model;

typedef SEQATTN_ENUM(seqattn_tokenization) {
  SEQATTN_TOKENIZATION_CHARS = 0, /* one token per UTF-8 code point */
  SEQATTN_TOKENIZATION_WORDS = 1  /* split on ASCII whitespace; output joined with one space */
} seqattn_tokenization;

/* config.decoder.kind (docs/model-format.md) */
typedef SEQATTN_ENUM(seqattn_decoder_kind) {
  SEQATTN_DECODER_ATTENTION_KERAS = 0, /* attention over the decoder GRU's outputs */
  SEQATTN_DECODER_BAHDANAU = 1 /* attention from the previous state into the GRU's input */
} seqattn_decoder_kind;

typedef SEQATTN_ENUM(seqattn_model_kind) {
  SEQATTN_MODEL_SEQ2SEQ = 0,      /* format "seqattn.seq2seq": translate, score */
  SEQATTN_MODEL_SEQUENCE_HEAD = 1 /* format "seqattn.sequence_head": predict */
} seqattn_model_kind;

typedef struct seqattn_model_info {
  uint32_t struct_size; /* sizeof(seqattn_model_info); set by _init. The size of
                           seqattn 0.1.0's struct (up to `description`) is accepted
                           too: get_info fills that much */
  int32_t source_vocab_size;     /* Vs */
  int32_t target_vocab_size;     /* Vt */
  int32_t encoder_units;         /* H, per direction */
  int32_t encoder_embedding_dim; /* 0: one-hot inputs */
  int32_t bidirectional;         /* 0 or 1 */
  int32_t encoder_output_dim;    /* He = H, or 2H when bidirectional */
  int32_t decoder_units;         /* Hd (== He) */
  int32_t decoder_embedding_dim; /* 0: one-hot inputs */
  int32_t attention_units;       /* A */
  int32_t attention_bias;        /* 0 or 1 */
  seqattn_gru_variant gru_variant;
  seqattn_tokenization tokenization;
  int32_t lowercase_source; /* 0 or 1: ASCII letters lower-cased before lookup */
  int32_t source_pad, source_unk;        /* source_unk: -1 without a source vocabulary */
  int32_t target_pad, target_start, target_end;
  int32_t max_source_len, max_target_len; /* trained on; max_target_len: default decode steps */
  const char* name;                       /* "" if the file has none; valid while the model lives */
  const char* description;                /* likewise */
  seqattn_decoder_kind decoder_kind;
  int32_t source_padding_pre; /* 1: source_padding "pre" (pads before the tokens), 0: "post" */
  int32_t source_mask;        /* 1: pads masked out; 0: every source padded to max_source_len */
  int32_t has_source_vocab;   /* 0: ids only (text functions give SEQATTN_ERROR_UNSUPPORTED) */
  int32_t has_target_vocab;   /* likewise for the target side */
  /* The sequence head's; 0 for a seq2seq model (except kind), whose fields
   * above are 0 for a sequence head. */
  seqattn_model_kind kind;
  int32_t input_features; /* F: x is [B, T, F] */
  int32_t steps;          /* T: predict takes exactly this many steps */
  int32_t output_dim;     /* N: y is [B, N] */
  int32_t pooled_dim;     /* H of the last RNN layer: the attention pooling's width */
  int32_t rnn_layers;     /* >= 1 */
  int32_t dense_layers;   /* >= 0 (0: y is the pooled vector) */
} seqattn_model_info;

SEQATTN_API void seqattn_model_info_init(seqattn_model_info* info);

/* Checks the file's header length against its size, reads and validates the
 * header, then reads only the tensor data the header declares (bytes after it
 * are never read), and uploads the weights to the handle's memory. A bad file:
 * SEQATTN_ERROR_IO (cannot be read) or SEQATTN_ERROR_FORMAT, the message naming
 * the file and the field or tensor; a valid one whose declared data cannot be
 * held: SEQATTN_ERROR_OUT_OF_MEMORY (docs/model-format.md, "Validation"). */
SEQATTN_API seqattn_status seqattn_model_load(seqattn_handle handle, const char* path,
                                              seqattn_model* out);
/* The same from a file's bytes in host memory (the declared data is copied;
 * `data` may be freed after). */
SEQATTN_API seqattn_status seqattn_model_load_from_memory(seqattn_handle handle,
                                                          const void* data, size_t size,
                                                          seqattn_model* out);
SEQATTN_API void seqattn_model_destroy(seqattn_model model); /* NULL: no-op */

SEQATTN_API seqattn_status seqattn_model_get_info(seqattn_model model, seqattn_model_info* info);
SEQATTN_API seqattn_status seqattn_model_source_vocab_size(seqattn_model model, int32_t* out);
SEQATTN_API seqattn_status seqattn_model_target_vocab_size(seqattn_model model, int32_t* out);
/* The text of token `id` (NUL-terminated UTF-8, valid while the model lives). */
SEQATTN_API seqattn_status seqattn_model_source_token(seqattn_model model, int32_t id,
                                                      const char** out);
SEQATTN_API seqattn_status seqattn_model_target_token(seqattn_model model, int32_t id,
                                                      const char** out);

/* Tokenises UTF-8 text as the model was trained (chars or words, lower-casing,
 * unknown tokens → source_unk). *len_out is the token count. ids_out may be NULL
 * with capacity 0 to ask for the count; a smaller capacity than the count is
 * SEQATTN_ERROR_INVALID_ARGUMENT. */
SEQATTN_API seqattn_status seqattn_model_encode_source(seqattn_model model, const char* text,
                                                       int32_t* ids_out, /* [capacity] */
                                                       int32_t capacity, int32_t* len_out);
/* Target ids to NUL-terminated UTF-8 text, skipping pad, start and end tokens.
 * *len_out is the text's length in bytes without the NUL; text_out may be NULL
 * with capacity 0 to ask for it; otherwise capacity must be at least *len_out + 1. */
SEQATTN_API seqattn_status seqattn_model_decode_target(seqattn_model model,
                                                       const int32_t* ids, /* [count] */
                                                       int32_t count, char* text_out,
                                                       size_t capacity, size_t* len_out);

/*
 * Greedy decoding: the decoder starts from target_start, feeds back each step's
 * argmax, and stops a row at target_end (not part of the output) or after
 * max_steps tokens. Keys are projected once per source. src_lengths NULL: every
 * row is src_steps long. Outputs past a row's length hold target_pad (tokens)
 * and 0 (attention rows). Token ids out of the vocabulary, lengths out of range
 * or a model loaded on another handle: SEQATTN_ERROR_INVALID_ARGUMENT.
 */
SEQATTN_API seqattn_status seqattn_model_translate(
    seqattn_handle handle, seqattn_model model, int32_t batch, int32_t src_steps,
    const int32_t* src_tokens,  /* [B, Ts], each in [0, Vs) */
    const int32_t* src_lengths, /* [B] in [0, Ts], or NULL */
    int32_t max_steps,
    int32_t* out_tokens,        /* [B, max_steps] */
    int32_t* out_lengths,       /* [B] */
    float* attention_out);      /* [B, max_steps, Ts], or NULL */

/* Teacher-forced scoring: the decoder reads tgt_in_tokens (start, y0, y1, ...)
 * and probs_out[b, t, :] is the distribution of the next token. Rows
 * t >= tgt_lengths[b] of both outputs are 0. Lengths NULL: full length. */
SEQATTN_API seqattn_status seqattn_model_score(
    seqattn_handle handle, seqattn_model model, int32_t batch, int32_t src_steps,
    const int32_t* src_tokens,    /* [B, Ts], each in [0, Vs) */
    const int32_t* src_lengths,   /* [B] in [0, Ts], or NULL */
    int32_t tgt_steps,
    const int32_t* tgt_in_tokens, /* [B, Td], each in [0, Vt) */
    const int32_t* tgt_lengths,   /* [B] in [0, Td], or NULL */
    float* probs_out,             /* [B, Td, Vt] */
    float* attention_out);        /* [B, Td, Ts], or NULL */

/* Where each source token of `text` lies in it, split as
 * seqattn_model_encode_source splits it: spans_out[2i] is the byte offset of
 * token i, spans_out[2i + 1] its length in bytes, for the i-th id that
 * encode_source gives (so a caller can show the text as written, case and
 * all). *count_out is the token count; spans_out may be NULL with capacity 0
 * to ask for it; a capacity (in spans) smaller than the count is
 * SEQATTN_ERROR_INVALID_ARGUMENT. */
SEQATTN_API seqattn_status seqattn_model_source_spans(seqattn_model model, const char* text,
                                                      int32_t* spans_out, /* [capacity, 2] */
                                                      int32_t capacity, int32_t* count_out);

/* A sequence head's forward pass: the RNN layers (zero initial state, every
 * step), attention pooling over the T steps, then the Dense layers. steps and
 * features must be the model's (seqattn_model_info.steps, .input_features):
 * the pooling has one bias per time step. pooling_weights_out[b, t] is the
 * pooling's softmax weight of step t (each row sums to 1). Host memory on
 * every device. A seq2seq model, a model loaded on another handle, a NULL x
 * or y_out, or other steps or features: SEQATTN_ERROR_INVALID_ARGUMENT, and
 * nothing is written. */
SEQATTN_API seqattn_status seqattn_model_predict(
    seqattn_handle handle, seqattn_model model, int32_t batch, int32_t steps, int32_t features,
    const float* x,              /* [B, T, F] */
    float* y_out,                /* [B, N] */
    float* pooling_weights_out); /* [B, T], or NULL */

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SEQATTN_SEQATTN_H */
