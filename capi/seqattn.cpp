// The extern "C" functions of include/seqattn/seqattn.h: validate every
// argument (so that a failing call writes nothing), dispatch to the handle's
// backend, translate exceptions into a status and seqattn_last_error().
#include "seqattn/seqattn.h"

#include <memory>
#include <string>

#include "guard.hpp"
#include "handle.hpp"
#include "validate.hpp"

namespace seqattn {

namespace {
thread_local std::string t_last_error;
}

void set_last_error(const char* message) noexcept {
  try {
    t_last_error = message;
  } catch (...) {
    t_last_error.clear();  // could not store the message; at least do not lie
  }
}

namespace {

Backend& backend_of(seqattn_handle handle) {
  check::not_null(handle, "handle");
  return *handle->backend;
}

void check_attention_dims(const seqattn_attention_dims* d) {
  check::not_null(d, "dims");
  check::positive(d->batch, "dims->batch");
  check::positive(d->enc_steps, "dims->enc_steps");
  check::positive(d->dec_steps, "dims->dec_steps");
  check::positive(d->enc_dim, "dims->enc_dim");
  check::positive(d->dec_dim, "dims->dec_dim");
  check::positive(d->units, "dims->units");
  check::elements("encoder_out [B, Te, He]", {d->batch, d->enc_steps, d->enc_dim});
  check::elements("decoder_out [B, Td, Hd]", {d->batch, d->dec_steps, d->dec_dim});
  check::elements("keys [B, Te, A]", {d->batch, d->enc_steps, d->units});
  check::elements("queries [B, Td, A]", {d->batch, d->dec_steps, d->units});
  check::elements("W [He, A]", {d->enc_dim, d->units});
  check::elements("U [Hd, A]", {d->dec_dim, d->units});
  check::elements("context_out [B, Td, He]", {d->batch, d->dec_steps, d->enc_dim});
  check::elements("weights_out [B, Td, Te]", {d->batch, d->dec_steps, d->enc_steps});
}

// The arguments the one-phase forward and the two-phase forward_projected
// share, checked in each one's argument order: the key source is W (after
// decoder_out) for the one-phase form, keys (before it) for the two-phase one.
void check_attention_forward(const seqattn_attention_dims* dims, const float* encoder_out,
                             const float* decoder_out, const float* key_source, bool projected,
                             const float* U, const float* v, const float* context_out,
                             const int32_t* enc_lengths, const int32_t* dec_lengths) {
  check_attention_dims(dims);
  check::not_null(encoder_out, "encoder_out");
  if (projected) check::not_null(key_source, "keys");
  check::not_null(decoder_out, "decoder_out");
  if (!projected) check::not_null(key_source, "W");
  check::not_null(U, "U");
  check::not_null(v, "v");
  check::not_null(context_out, "context_out");
  check::lengths(enc_lengths, dims->batch, "enc_lengths", dims->enc_steps, "dims->enc_steps");
  check::lengths(dec_lengths, dims->batch, "dec_lengths", dims->dec_steps, "dims->dec_steps");
}

// What the pooling forward and backward check of dims, before their tensors.
void check_pooling_dims(const seqattn_pooling_dims* dims) {
  check::not_null(dims, "dims");
  check::positive(dims->batch, "dims->batch");
  check::positive(dims->steps, "dims->steps");
  check::positive(dims->features, "dims->features");
  check::elements("x [B, T, F]", {dims->batch, dims->steps, dims->features});
}

void check_rnn_dims(const seqattn_rnn_dims* d, int gates) {
  check::not_null(d, "dims");
  check::positive(d->batch, "dims->batch");
  check::positive(d->steps, "dims->steps");
  check::positive(d->input_dim, "dims->input_dim");
  check::positive(d->units, "dims->units");
  check::elements("x [B, T, I]", {d->batch, d->steps, d->input_dim});
  check::elements("kernel [I, G*H]", {d->input_dim, gates, d->units});
  check::elements("recurrent_kernel [H, G*H]", {d->units, gates, d->units});
  check::elements("outputs [B, T, H]", {d->batch, d->steps, d->units});
  check::elements("input projections [B, T, G*H]", {d->batch, d->steps, gates, d->units});
}

void check_rnn_flags(uint32_t flags) {
  if (flags & ~uint32_t(SEQATTN_RNN_REVERSE))
    invalid("flags = " + std::to_string(flags) + " has unknown bits (known: SEQATTN_RNN_REVERSE = 1)");
}

void run_rnn(seqattn_handle handle, const seqattn_rnn_dims* dims, RnnCell cell, uint32_t flags,
             const float* x, const int32_t* lengths, const float* h0, const float* kernel,
             const float* recurrent_kernel, const float* bias, float* outputs, float* h_last) {
  Backend& be = backend_of(handle);
  check_rnn_dims(dims, rnn_gates(cell));
  check_rnn_flags(flags);
  check::not_null(x, "x");
  check::not_null(kernel, "kernel");
  check::not_null(recurrent_kernel, "recurrent_kernel");
  check::lengths(lengths, dims->batch, "lengths", dims->steps, "dims->steps");
  const int64_t B = dims->batch, T = dims->steps, I = dims->input_dim, H = dims->units;
  const int64_t GH = rnn_gates(cell) * H;
  const int64_t bias_count = cell == RnnCell::kGruResetAfter ? 2 * GH : GH;
  check::no_overlap({check::buffer(outputs, B * T * H, "outputs"),
                     check::buffer(h_last, B * H, "h_last")},
                    {check::buffer(x, B * T * I, "x"), check::buffer(lengths, B, "lengths"),
                     check::buffer(h0, B * H, "h0"), check::buffer(kernel, I * GH, "kernel"),
                     check::buffer(recurrent_kernel, H * GH, "recurrent_kernel"),
                     check::buffer(bias, bias_count, "bias")});
  be.rnn(RnnArgs{*dims, cell, (flags & SEQATTN_RNN_REVERSE) != 0, x, lengths, h0, kernel,
                 recurrent_kernel, bias, outputs, h_last});
}

}  // namespace
}  // namespace seqattn

using namespace seqattn;

extern "C" {

uint32_t seqattn_version(void) { return SEQATTN_VERSION; }

const char* seqattn_status_string(seqattn_status status) {
  switch (status) {
    case SEQATTN_OK: return "SEQATTN_OK";
    case SEQATTN_ERROR_INVALID_ARGUMENT: return "SEQATTN_ERROR_INVALID_ARGUMENT";
    case SEQATTN_ERROR_UNSUPPORTED: return "SEQATTN_ERROR_UNSUPPORTED";
    case SEQATTN_ERROR_NO_DEVICE: return "SEQATTN_ERROR_NO_DEVICE";
    case SEQATTN_ERROR_OUT_OF_MEMORY: return "SEQATTN_ERROR_OUT_OF_MEMORY";
    case SEQATTN_ERROR_DEVICE: return "SEQATTN_ERROR_DEVICE";
    case SEQATTN_ERROR_IO: return "SEQATTN_ERROR_IO";
    case SEQATTN_ERROR_FORMAT: return "SEQATTN_ERROR_FORMAT";
    case SEQATTN_ERROR_INTERNAL: return "SEQATTN_ERROR_INTERNAL";
  }
  return "SEQATTN_ERROR_UNKNOWN_STATUS";
}

const char* seqattn_last_error(void) { return t_last_error.c_str(); }

uint32_t seqattn_build_features(void) {
  uint32_t f = 0;
#ifdef SEQATTN_WITH_CUDA
  f |= SEQATTN_FEATURE_CUDA;
#endif
#ifdef _OPENMP
  f |= SEQATTN_FEATURE_OPENMP;
#endif
  return f;
}

const char* seqattn_cpu_info(void) {
  thread_local std::string info;
  try {
    info = fast_cpu_info();
  } catch (...) {
    info.clear();
  }
  return info.c_str();
}

void seqattn_handle_options_init(seqattn_handle_options* options) {
  if (!options) return;
  *options = seqattn_handle_options{};
  options->struct_size = sizeof(seqattn_handle_options);
  options->device = SEQATTN_DEVICE_CPU;
  options->device_ordinal = 0;
  options->cuda_stream = nullptr;
  options->math = SEQATTN_MATH_PRECISE;
}

seqattn_status seqattn_handle_create(const seqattn_handle_options* options, seqattn_handle* out) {
  return guard([&] {
    check::not_null(options, "options");
    check::not_null(out, "out");
    if (options->struct_size != sizeof(seqattn_handle_options))
      invalid("options->struct_size = " + std::to_string(options->struct_size) + " but expected " +
              std::to_string(sizeof(seqattn_handle_options)) +
              " (call seqattn_handle_options_init first)");
    if (options->device != SEQATTN_DEVICE_CPU && options->device != SEQATTN_DEVICE_CUDA &&
        options->device != SEQATTN_DEVICE_CPU_REFERENCE)
      invalid("options->device = " + std::to_string(int(options->device)) +
              " is not a seqattn_device (CPU = 0, CUDA = 1, CPU_REFERENCE = 2)");
    if (options->math != SEQATTN_MATH_PRECISE && options->math != SEQATTN_MATH_FAST)
      invalid("options->math = " + std::to_string(int(options->math)) +
              " is not a seqattn_math (PRECISE = 0, FAST = 1)");
    if (options->device_ordinal < 0)
      invalid("options->device_ordinal = " + std::to_string(options->device_ordinal) +
              " is negative");
    auto h = std::make_unique<seqattn_handle_s>();
    switch (options->device) {
      case SEQATTN_DEVICE_CPU: h->backend = make_fast_cpu_backend(*options); break;
      case SEQATTN_DEVICE_CPU_REFERENCE: h->backend = make_reference_backend(*options); break;
      case SEQATTN_DEVICE_CUDA: h->backend = make_cuda_backend(*options); break;
    }
    *out = h.release();
  });
}

void seqattn_handle_destroy(seqattn_handle handle) { delete handle; }

seqattn_status seqattn_synchronize(seqattn_handle handle) {
  return guard([&] { backend_of(handle).synchronize(); });
}

int32_t seqattn_cuda_device_count(void) { return cuda_device_count(); }

seqattn_status seqattn_handle_get_device(seqattn_handle handle, seqattn_device* out) {
  return guard([&] {
    Backend& be = backend_of(handle);
    check::not_null(out, "out");
    *out = be.device();
  });
}

seqattn_status seqattn_malloc(seqattn_handle handle, size_t bytes, void** out) {
  return guard([&] {
    Backend& be = backend_of(handle);
    check::not_null(out, "out");
    if (bytes == 0) {
      *out = nullptr;
      return;
    }
    // Owned until it is recorded: inserting can throw, and must not leak the block.
    auto deallocate = [&be](void* p) { be.deallocate(p); };
    std::unique_ptr<void, decltype(deallocate)> p(be.allocate(bytes), deallocate);
    handle->allocations.insert(p.get());
    *out = p.release();
  });
}

seqattn_status seqattn_free(seqattn_handle handle, void* ptr) {
  return guard([&] {
    Backend& be = backend_of(handle);
    if (!ptr) return;
    auto it = handle->allocations.find(ptr);
    if (it == handle->allocations.end())
      invalid("ptr was not allocated by seqattn_malloc on this handle, or was already freed");
    handle->allocations.erase(it);
    be.deallocate(ptr);
  });
}

seqattn_status seqattn_copy_to_device(seqattn_handle handle, void* dst, const void* host_src,
                                      size_t bytes) {
  return guard([&] {
    Backend& be = backend_of(handle);
    if (bytes == 0) return;
    check::not_null(dst, "dst");
    check::not_null(host_src, "host_src");
    be.copy_to_device(dst, host_src, bytes);
  });
}

seqattn_status seqattn_copy_to_host(seqattn_handle handle, void* host_dst, const void* src,
                                    size_t bytes) {
  return guard([&] {
    Backend& be = backend_of(handle);
    if (bytes == 0) return;
    check::not_null(host_dst, "host_dst");
    check::not_null(src, "src");
    be.copy_to_host(host_dst, src, bytes);
  });
}

seqattn_status seqattn_additive_attention_forward(
    seqattn_handle handle, const seqattn_attention_dims* dims, const float* encoder_out,
    const float* decoder_out, const int32_t* enc_lengths, const int32_t* dec_lengths,
    const float* W, const float* U, const float* bias, const float* v, float* context_out,
    float* weights_out) {
  return guard([&] {
    Backend& be = backend_of(handle);
    check_attention_forward(dims, encoder_out, decoder_out, W, false, U, v, context_out,
                            enc_lengths, dec_lengths);
    const seqattn_attention_dims& d = *dims;
    const int64_t B = d.batch, Te = d.enc_steps, Td = d.dec_steps, A = d.units;
    check::no_overlap({check::buffer(context_out, B * Td * d.enc_dim, "context_out"),
                       check::buffer(weights_out, B * Td * Te, "weights_out")},
                      {check::buffer(encoder_out, B * Te * d.enc_dim, "encoder_out"),
                       check::buffer(decoder_out, B * Td * d.dec_dim, "decoder_out"),
                       check::buffer(enc_lengths, B, "enc_lengths"),
                       check::buffer(dec_lengths, B, "dec_lengths"),
                       check::buffer(W, d.enc_dim * A, "W"), check::buffer(U, d.dec_dim * A, "U"),
                       check::buffer(bias, A, "bias"), check::buffer(v, A, "v")});
    be.additive_attention(AttentionArgs{*dims, encoder_out, decoder_out, enc_lengths, dec_lengths,
                                        W, U, bias, v, context_out, weights_out});
  });
}

seqattn_status seqattn_additive_attention_project_keys(seqattn_handle handle,
                                                       const seqattn_attention_dims* dims,
                                                       const float* encoder_out, const float* W,
                                                       const float* bias, float* keys_out) {
  return guard([&] {
    Backend& be = backend_of(handle);
    check_attention_dims(dims);
    check::not_null(encoder_out, "encoder_out");
    check::not_null(W, "W");
    check::not_null(keys_out, "keys_out");
    const seqattn_attention_dims& d = *dims;
    const int64_t B = d.batch, Te = d.enc_steps, A = d.units;
    check::no_overlap({check::buffer(keys_out, B * Te * A, "keys_out")},
                      {check::buffer(encoder_out, B * Te * d.enc_dim, "encoder_out"),
                       check::buffer(W, d.enc_dim * A, "W"), check::buffer(bias, A, "bias")});
    be.project_keys(ProjectKeysArgs{*dims, encoder_out, W, bias, keys_out});
  });
}

seqattn_status seqattn_additive_attention_forward_projected(
    seqattn_handle handle, const seqattn_attention_dims* dims, const float* encoder_out,
    const float* keys, const float* decoder_out, const int32_t* enc_lengths,
    const int32_t* dec_lengths, const float* U, const float* v, float* context_out,
    float* weights_out) {
  return guard([&] {
    Backend& be = backend_of(handle);
    check_attention_forward(dims, encoder_out, decoder_out, keys, true, U, v, context_out,
                            enc_lengths, dec_lengths);
    const seqattn_attention_dims& d = *dims;
    const int64_t B = d.batch, Te = d.enc_steps, Td = d.dec_steps, A = d.units;
    check::no_overlap({check::buffer(context_out, B * Td * d.enc_dim, "context_out"),
                       check::buffer(weights_out, B * Td * Te, "weights_out")},
                      {check::buffer(encoder_out, B * Te * d.enc_dim, "encoder_out"),
                       check::buffer(keys, B * Te * A, "keys"),
                       check::buffer(decoder_out, B * Td * d.dec_dim, "decoder_out"),
                       check::buffer(enc_lengths, B, "enc_lengths"),
                       check::buffer(dec_lengths, B, "dec_lengths"),
                       check::buffer(U, d.dec_dim * A, "U"), check::buffer(v, A, "v")});
    be.additive_attention_projected(ProjectedAttentionArgs{*dims, encoder_out, keys, decoder_out,
                                                           enc_lengths, dec_lengths, U, v,
                                                           context_out, weights_out});
  });
}

seqattn_status seqattn_attention_pooling_forward(seqattn_handle handle,
                                                 const seqattn_pooling_dims* dims, const float* x,
                                                 const int32_t* lengths, const float* w,
                                                 const float* b, float* context_out,
                                                 float* weights_out) {
  return guard([&] {
    Backend& be = backend_of(handle);
    check_pooling_dims(dims);
    check::not_null(x, "x");
    check::not_null(w, "w");
    check::not_null(context_out, "context_out");
    check::lengths(lengths, dims->batch, "lengths", dims->steps, "dims->steps");
    const int64_t B = dims->batch, T = dims->steps, F = dims->features;
    check::no_overlap({check::buffer(context_out, B * F, "context_out"),
                       check::buffer(weights_out, B * T, "weights_out")},
                      {check::buffer(x, B * T * F, "x"), check::buffer(lengths, B, "lengths"),
                       check::buffer(w, F, "w"), check::buffer(b, T, "b")});
    be.attention_pooling(PoolingArgs{*dims, x, lengths, w, b, context_out, weights_out});
  });
}

seqattn_status seqattn_gru_forward(seqattn_handle handle, const seqattn_rnn_dims* dims,
                                   seqattn_gru_variant variant, uint32_t flags, const float* x,
                                   const int32_t* lengths, const float* h0, const float* kernel,
                                   const float* recurrent_kernel, const float* bias,
                                   float* outputs, float* h_last) {
  return guard([&] {
    if (variant != SEQATTN_GRU_RESET_AFTER && variant != SEQATTN_GRU_RESET_BEFORE)
      invalid("variant = " + std::to_string(int(variant)) +
              " is not a seqattn_gru_variant (RESET_AFTER = 0, RESET_BEFORE = 1)");
    const RnnCell cell =
        variant == SEQATTN_GRU_RESET_AFTER ? RnnCell::kGruResetAfter : RnnCell::kGruResetBefore;
    run_rnn(handle, dims, cell, flags, x, lengths, h0, kernel, recurrent_kernel, bias, outputs,
            h_last);
  });
}

seqattn_status seqattn_simple_rnn_forward(seqattn_handle handle, const seqattn_rnn_dims* dims,
                                          uint32_t flags, const float* x, const int32_t* lengths,
                                          const float* h0, const float* kernel,
                                          const float* recurrent_kernel, const float* bias,
                                          float* outputs, float* h_last) {
  return guard([&] {
    run_rnn(handle, dims, RnnCell::kSimple, flags, x, lengths, h0, kernel, recurrent_kernel, bias,
            outputs, h_last);
  });
}

seqattn_status seqattn_dense_forward(seqattn_handle handle, int64_t rows, int32_t in_dim,
                                     int32_t out_dim, const float* x, const float* W,
                                     const float* b, seqattn_activation activation, float* y) {
  return guard([&] {
    Backend& be = backend_of(handle);
    check::positive(rows, "rows");
    check::positive(in_dim, "in_dim");
    check::positive(out_dim, "out_dim");
    check::elements("x [rows, in_dim]", {rows, in_dim});
    check::elements("W [in_dim, out_dim]", {in_dim, out_dim});
    check::elements("y [rows, out_dim]", {rows, out_dim});
    if (activation < SEQATTN_ACTIVATION_NONE || activation > SEQATTN_ACTIVATION_SOFTMAX)
      invalid("activation = " + std::to_string(int(activation)) +
              " is not a seqattn_activation (NONE = 0 ... SOFTMAX = 4)");
    check::not_null(x, "x");
    check::not_null(W, "W");
    check::not_null(y, "y");
    check::no_overlap({check::buffer(y, rows * out_dim, "y")},
                      {check::buffer(x, rows * in_dim, "x"),
                       check::buffer(W, int64_t(in_dim) * out_dim, "W"),
                       check::buffer(b, out_dim, "b")});
    be.dense(DenseArgs{rows, in_dim, out_dim, x, W, b, activation, y});
  });
}

}  // extern "C"

// ------------------------------------------------------------ backward passes

namespace seqattn {
namespace {

// What both attention backwards check, in their argument order around the
// key source (W for the one-phase form, keys for the two-phase one).
void check_attention_backward(const seqattn_attention_dims* dims, const float* encoder_out,
                              const float* decoder_out, const float* key_source, bool projected,
                              const float* U, const float* v, const float* weights,
                              const float* d_context, const int32_t* enc_lengths,
                              const int32_t* dec_lengths) {
  check_attention_dims(dims);
  check::not_null(encoder_out, "encoder_out");
  if (projected) check::not_null(key_source, "keys");
  check::not_null(decoder_out, "decoder_out");
  if (!projected) check::not_null(key_source, "W");
  check::not_null(U, "U");
  check::not_null(v, "v");
  check::not_null(weights, "weights");
  check::not_null(d_context, "d_context");
  check::lengths(enc_lengths, dims->batch, "enc_lengths", dims->enc_steps, "dims->enc_steps");
  check::lengths(dec_lengths, dims->batch, "dec_lengths", dims->dec_steps, "dims->dec_steps");
}

void run_rnn_backward(seqattn_handle handle, const seqattn_rnn_dims* dims, RnnCell cell,
                      uint32_t flags, const float* x, const int32_t* lengths, const float* h0,
                      const float* kernel, const float* recurrent_kernel, const float* bias,
                      const float* outputs, const float* d_outputs, const float* d_h_last,
                      float* d_x, float* d_h0, float* d_kernel, float* d_recurrent_kernel,
                      float* d_bias) {
  Backend& be = backend_of(handle);
  check_rnn_dims(dims, rnn_gates(cell));
  check_rnn_flags(flags);
  check::not_null(x, "x");
  check::not_null(kernel, "kernel");
  check::not_null(recurrent_kernel, "recurrent_kernel");
  check::not_null(outputs, "outputs");
  check::not_null(d_x, "d_x");
  check::not_null(d_kernel, "d_kernel");
  check::not_null(d_recurrent_kernel, "d_recurrent_kernel");
  check::lengths(lengths, dims->batch, "lengths", dims->steps, "dims->steps");
  const int64_t B = dims->batch, T = dims->steps, I = dims->input_dim, H = dims->units;
  const int64_t GH = rnn_gates(cell) * H;
  const int64_t bias_count = cell == RnnCell::kGruResetAfter ? 2 * GH : GH;
  check::no_overlap(
      {check::buffer(d_x, B * T * I, "d_x"), check::buffer(d_h0, B * H, "d_h0"),
       check::buffer(d_kernel, I * GH, "d_kernel"),
       check::buffer(d_recurrent_kernel, H * GH, "d_recurrent_kernel"),
       check::buffer(d_bias, bias_count, "d_bias")},
      {check::buffer(x, B * T * I, "x"), check::buffer(lengths, B, "lengths"),
       check::buffer(h0, B * H, "h0"), check::buffer(kernel, I * GH, "kernel"),
       check::buffer(recurrent_kernel, H * GH, "recurrent_kernel"),
       check::buffer(bias, bias_count, "bias"), check::buffer(outputs, B * T * H, "outputs"),
       check::buffer(d_outputs, B * T * H, "d_outputs"),
       check::buffer(d_h_last, B * H, "d_h_last")});
  be.rnn_backward(RnnBackwardArgs{*dims, cell, (flags & SEQATTN_RNN_REVERSE) != 0, x, lengths,
                                  h0, kernel, recurrent_kernel, bias, outputs, d_outputs,
                                  d_h_last, d_x, d_h0, d_kernel, d_recurrent_kernel, d_bias});
}

}  // namespace
}  // namespace seqattn

extern "C" {

seqattn_status seqattn_additive_attention_backward(
    seqattn_handle handle, const seqattn_attention_dims* dims, const float* encoder_out,
    const float* decoder_out, const int32_t* enc_lengths, const int32_t* dec_lengths,
    const float* W, const float* U, const float* bias, const float* v, const float* weights,
    const float* d_context, const float* d_weights, float* d_encoder_out, float* d_decoder_out,
    float* d_W, float* d_U, float* d_bias, float* d_v) {
  return guard([&] {
    Backend& be = backend_of(handle);
    check_attention_backward(dims, encoder_out, decoder_out, W, false, U, v, weights, d_context,
                             enc_lengths, dec_lengths);
    check::not_null(d_encoder_out, "d_encoder_out");
    check::not_null(d_decoder_out, "d_decoder_out");
    check::not_null(d_W, "d_W");
    check::not_null(d_U, "d_U");
    check::not_null(d_v, "d_v");
    const seqattn_attention_dims& d = *dims;
    const int64_t B = d.batch, Te = d.enc_steps, Td = d.dec_steps, A = d.units;
    const int64_t He = d.enc_dim, Hd = d.dec_dim;
    check::no_overlap({check::buffer(d_encoder_out, B * Te * He, "d_encoder_out"),
                       check::buffer(d_decoder_out, B * Td * Hd, "d_decoder_out"),
                       check::buffer(d_W, He * A, "d_W"), check::buffer(d_U, Hd * A, "d_U"),
                       check::buffer(d_bias, A, "d_bias"), check::buffer(d_v, A, "d_v")},
                      {check::buffer(encoder_out, B * Te * He, "encoder_out"),
                       check::buffer(decoder_out, B * Td * Hd, "decoder_out"),
                       check::buffer(enc_lengths, B, "enc_lengths"),
                       check::buffer(dec_lengths, B, "dec_lengths"),
                       check::buffer(W, He * A, "W"), check::buffer(U, Hd * A, "U"),
                       check::buffer(bias, A, "bias"), check::buffer(v, A, "v"),
                       check::buffer(weights, B * Td * Te, "weights"),
                       check::buffer(d_context, B * Td * He, "d_context"),
                       check::buffer(d_weights, B * Td * Te, "d_weights")});
    be.additive_attention_backward(AttentionBackwardArgs{
        *dims, encoder_out, decoder_out, enc_lengths, dec_lengths, W, U, bias, v, weights,
        d_context, d_weights, d_encoder_out, d_decoder_out, d_W, d_U, d_bias, d_v});
  });
}

seqattn_status seqattn_additive_attention_projected_backward(
    seqattn_handle handle, const seqattn_attention_dims* dims, const float* encoder_out,
    const float* keys, const float* decoder_out, const int32_t* enc_lengths,
    const int32_t* dec_lengths, const float* U, const float* v, const float* weights,
    const float* d_context, const float* d_weights, float* d_encoder_out, float* d_keys,
    float* d_decoder_out, float* d_U, float* d_v) {
  return guard([&] {
    Backend& be = backend_of(handle);
    check_attention_backward(dims, encoder_out, decoder_out, keys, true, U, v, weights, d_context,
                             enc_lengths, dec_lengths);
    check::not_null(d_encoder_out, "d_encoder_out");
    check::not_null(d_keys, "d_keys");
    check::not_null(d_decoder_out, "d_decoder_out");
    check::not_null(d_U, "d_U");
    check::not_null(d_v, "d_v");
    const seqattn_attention_dims& d = *dims;
    const int64_t B = d.batch, Te = d.enc_steps, Td = d.dec_steps, A = d.units;
    const int64_t He = d.enc_dim, Hd = d.dec_dim;
    check::no_overlap({check::buffer(d_encoder_out, B * Te * He, "d_encoder_out"),
                       check::buffer(d_keys, B * Te * A, "d_keys"),
                       check::buffer(d_decoder_out, B * Td * Hd, "d_decoder_out"),
                       check::buffer(d_U, Hd * A, "d_U"), check::buffer(d_v, A, "d_v")},
                      {check::buffer(encoder_out, B * Te * He, "encoder_out"),
                       check::buffer(keys, B * Te * A, "keys"),
                       check::buffer(decoder_out, B * Td * Hd, "decoder_out"),
                       check::buffer(enc_lengths, B, "enc_lengths"),
                       check::buffer(dec_lengths, B, "dec_lengths"),
                       check::buffer(U, Hd * A, "U"), check::buffer(v, A, "v"),
                       check::buffer(weights, B * Td * Te, "weights"),
                       check::buffer(d_context, B * Td * He, "d_context"),
                       check::buffer(d_weights, B * Td * Te, "d_weights")});
    be.additive_attention_projected_backward(ProjectedAttentionBackwardArgs{
        *dims, encoder_out, keys, decoder_out, enc_lengths, dec_lengths, U, v, weights, d_context,
        d_weights, d_encoder_out, d_keys, d_decoder_out, d_U, d_v});
  });
}

seqattn_status seqattn_attention_pooling_backward(seqattn_handle handle,
                                                  const seqattn_pooling_dims* dims,
                                                  const float* x, const int32_t* lengths,
                                                  const float* w, const float* b,
                                                  const float* weights, const float* d_context,
                                                  const float* d_weights, float* d_x, float* d_w,
                                                  float* d_b) {
  return guard([&] {
    Backend& be = backend_of(handle);
    check_pooling_dims(dims);
    check::not_null(x, "x");
    check::not_null(w, "w");
    check::not_null(weights, "weights");
    check::not_null(d_context, "d_context");
    check::not_null(d_x, "d_x");
    check::not_null(d_w, "d_w");
    check::lengths(lengths, dims->batch, "lengths", dims->steps, "dims->steps");
    const int64_t B = dims->batch, T = dims->steps, F = dims->features;
    check::no_overlap({check::buffer(d_x, B * T * F, "d_x"), check::buffer(d_w, F, "d_w"),
                       check::buffer(d_b, T, "d_b")},
                      {check::buffer(x, B * T * F, "x"), check::buffer(lengths, B, "lengths"),
                       check::buffer(w, F, "w"), check::buffer(b, T, "b"),
                       check::buffer(weights, B * T, "weights"),
                       check::buffer(d_context, B * F, "d_context"),
                       check::buffer(d_weights, B * T, "d_weights")});
    be.attention_pooling_backward(PoolingBackwardArgs{*dims, x, lengths, w, b, weights, d_context,
                                                      d_weights, d_x, d_w, d_b});
  });
}

seqattn_status seqattn_gru_backward(seqattn_handle handle, const seqattn_rnn_dims* dims,
                                    seqattn_gru_variant variant, uint32_t flags, const float* x,
                                    const int32_t* lengths, const float* h0, const float* kernel,
                                    const float* recurrent_kernel, const float* bias,
                                    const float* outputs, const float* d_outputs,
                                    const float* d_h_last, float* d_x, float* d_h0,
                                    float* d_kernel, float* d_recurrent_kernel, float* d_bias) {
  return guard([&] {
    if (variant != SEQATTN_GRU_RESET_AFTER && variant != SEQATTN_GRU_RESET_BEFORE)
      invalid("variant = " + std::to_string(int(variant)) +
              " is not a seqattn_gru_variant (RESET_AFTER = 0, RESET_BEFORE = 1)");
    const RnnCell cell =
        variant == SEQATTN_GRU_RESET_AFTER ? RnnCell::kGruResetAfter : RnnCell::kGruResetBefore;
    run_rnn_backward(handle, dims, cell, flags, x, lengths, h0, kernel, recurrent_kernel, bias,
                     outputs, d_outputs, d_h_last, d_x, d_h0, d_kernel, d_recurrent_kernel,
                     d_bias);
  });
}

seqattn_status seqattn_simple_rnn_backward(seqattn_handle handle, const seqattn_rnn_dims* dims,
                                           uint32_t flags, const float* x, const int32_t* lengths,
                                           const float* h0, const float* kernel,
                                           const float* recurrent_kernel, const float* bias,
                                           const float* outputs, const float* d_outputs,
                                           const float* d_h_last, float* d_x, float* d_h0,
                                           float* d_kernel, float* d_recurrent_kernel,
                                           float* d_bias) {
  return guard([&] {
    run_rnn_backward(handle, dims, RnnCell::kSimple, flags, x, lengths, h0, kernel,
                     recurrent_kernel, bias, outputs, d_outputs, d_h_last, d_x, d_h0, d_kernel,
                     d_recurrent_kernel, d_bias);
  });
}

seqattn_status seqattn_dense_backward(seqattn_handle handle, int64_t rows, int32_t in_dim,
                                      int32_t out_dim, const float* x, const float* W,
                                      seqattn_activation activation, const float* y,
                                      const float* d_y, float* d_x, float* d_W, float* d_b) {
  return guard([&] {
    Backend& be = backend_of(handle);
    check::positive(rows, "rows");
    check::positive(in_dim, "in_dim");
    check::positive(out_dim, "out_dim");
    check::elements("x [rows, in_dim]", {rows, in_dim});
    check::elements("W [in_dim, out_dim]", {in_dim, out_dim});
    check::elements("y [rows, out_dim]", {rows, out_dim});
    if (activation < SEQATTN_ACTIVATION_NONE || activation > SEQATTN_ACTIVATION_SOFTMAX)
      invalid("activation = " + std::to_string(int(activation)) +
              " is not a seqattn_activation (NONE = 0 ... SOFTMAX = 4)");
    check::not_null(x, "x");
    check::not_null(W, "W");
    check::not_null(y, "y");
    check::not_null(d_y, "d_y");
    check::not_null(d_x, "d_x");
    check::not_null(d_W, "d_W");
    check::no_overlap({check::buffer(d_x, rows * in_dim, "d_x"),
                       check::buffer(d_W, int64_t(in_dim) * out_dim, "d_W"),
                       check::buffer(d_b, out_dim, "d_b")},
                      {check::buffer(x, rows * in_dim, "x"),
                       check::buffer(W, int64_t(in_dim) * out_dim, "W"),
                       check::buffer(y, rows * out_dim, "y"),
                       check::buffer(d_y, rows * out_dim, "d_y")});
    be.dense_backward(DenseBackwardArgs{rows, in_dim, out_dim, x, W, activation, y, d_y, d_x, d_W,
                                        d_b});
  });
}

}  // extern "C"
