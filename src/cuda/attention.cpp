// Additive attention on a CUDA handle: the projections as one cuBLAS GEMM each
// over all rows (keys = h·W over B·Te rows, queries = s·U over B·Td rows), then
// the fused energies/softmax/context kernel of kernels/attention.cu.
//
// The projections run over padded rows too: skipping rows t >= dec_lengths[b]
// would take a GEMM per batch row. The fused kernel is where the work is
// (B·Td·Te·A tanh) and it skips them. Keys and queries live in the workspace
// with rows padded to a multiple of 4 units, so the kernel stages them with
// 16-byte copies; the bias is added to the queries inside the kernel, which
// saves a pass over the keys.
#include <cstddef>
#include <cstdint>

#include "cuda/ops.hpp"
#include "kernels/attention.cuh"
#include "kernels/attention_backward.cuh"
#include "kernels/dense.cuh"
#include "kernels/dense_backward.cuh"

namespace seqattn::cuda {
namespace {

int64_t round_up4(int64_t n) { return (n + 3) / 4 * 4; }

size_t floats(int64_t n) { return size_t(n) * sizeof(float); }

struct Scratch {
  float* keys;       // [B, Te, A4], only for the one-phase form
  float* queries;    // [B, Td, A4]
  float* scores;     // the kernel's global scratch (energies or split partials), if any
  int32_t* lengths;  // [2, B]: enc_lengths, dec_lengths
};

Scratch reserve_scratch(CudaContext& ctx, const seqattn_attention_dims& d, bool with_keys) {
  const int64_t B = d.batch, A4 = round_up4(d.units);
  const int64_t score_floats =
      attention_scratch_floats(d.batch, d.dec_steps, d.enc_steps, d.enc_dim, d.units);
  WorkspaceLayout layout;
  const size_t keys_at = layout.add(with_keys ? floats(B * d.enc_steps * A4) : 0);
  const size_t queries_at = layout.add(floats(B * d.dec_steps * A4));
  const size_t scores_at = layout.add(floats(score_floats));
  const size_t lengths_at = layout.add(2 * size_t(B) * sizeof(int32_t));
  char* ws = ctx.workspace().reserve(layout.total());
  return {with_keys ? reinterpret_cast<float*>(ws + keys_at) : nullptr,
          reinterpret_cast<float*>(ws + queries_at),
          score_floats > 0 ? reinterpret_cast<float*>(ws + scores_at) : nullptr,
          reinterpret_cast<int32_t*>(ws + lengths_at)};
}

// Lengths, queries and the fused kernel, shared by the one- and two-phase
// forms. keys [B, Te, keys_ld]; bias [A] or nullptr; the rest as in AttentionArgs.
void attend(CudaContext& ctx, const seqattn_attention_dims& d, const Scratch& s,
            const float* keys, int64_t keys_ld, const float* bias, const float* encoder_out,
            const float* decoder_out, const int32_t* enc_lengths, const int32_t* dec_lengths,
            const float* U, const float* v, float* context_out, float* weights_out) {
  const int64_t A4 = round_up4(d.units);
  FusedAttentionParams p{};
  p.batch = d.batch;
  p.enc_steps = d.enc_steps;
  p.dec_steps = d.dec_steps;
  p.enc_dim = d.enc_dim;
  p.units = d.units;
  p.keys = keys;
  p.keys_ld = keys_ld;
  p.queries = s.queries;
  p.queries_ld = A4;
  p.bias = bias;
  p.v = v;
  p.values = encoder_out;
  ctx.stage_lengths2(enc_lengths, dec_lengths, size_t(d.batch), s.lengths, &p.enc_lengths,
                     &p.dec_lengths);
  p.context = context_out;
  p.weights = weights_out;
  p.scores = s.scores;

  ctx.gemm(int64_t(d.batch) * d.dec_steps, d.units, d.dec_dim, decoder_out, d.dec_dim, U,
           d.units, s.queries, A4);
  launch_fused_attention(p, ctx.fast_math(), ctx.stream());
}

}  // namespace

void additive_attention(CudaContext& ctx, const AttentionArgs& a) {
  const seqattn_attention_dims& d = a.dims;
  const int64_t A4 = round_up4(d.units);
  const Scratch s = reserve_scratch(ctx, d, true);
  ctx.gemm(int64_t(d.batch) * d.enc_steps, d.units, d.enc_dim, a.encoder_out, d.enc_dim, a.W,
           d.units, s.keys, A4);
  attend(ctx, d, s, s.keys, A4, a.bias, a.encoder_out, a.decoder_out, a.enc_lengths,
         a.dec_lengths, a.U, a.v, a.context_out, a.weights_out);
}

void project_keys(CudaContext& ctx, const ProjectKeysArgs& a) {
  const seqattn_attention_dims& d = a.dims;
  const int64_t rows = int64_t(d.batch) * d.enc_steps;
  ctx.gemm(rows, d.units, d.enc_dim, a.encoder_out, d.enc_dim, a.W, d.units, a.keys_out, d.units);
  if (a.bias)
    launch_bias_activation(a.keys_out, rows, d.units, a.bias, SEQATTN_ACTIVATION_NONE,
                           ctx.stream());
}

void additive_attention_projected(CudaContext& ctx, const ProjectedAttentionArgs& a) {
  // The caller's keys [B, Te, A] already hold the bias (project_keys added
  // it); rows of A floats, so the kernel stages them with 4-byte copies when
  // A % 4 != 0 or the pointer is not 16-byte aligned.
  const Scratch s = reserve_scratch(ctx, a.dims, false);
  attend(ctx, a.dims, s, a.keys, a.dims.units, nullptr, a.encoder_out, a.decoder_out,
         a.enc_lengths, a.dec_lengths, a.U, a.v, a.context_out, a.weights_out);
}


// ------------------------------------------------------------------ backward
//
// Additive attention backward (seqattn.h, "backward passes"): cuBLAS for every
// product, kernels/attention_backward.cu for the softmax's row gradient and
// the tanh-recomputing pass between them:
//   dw = d_context·hᵀ             batched over b, [Td, Te] each
//   de = row_grad(w, dw)          (+ d_weights, masking)
//   keys = h·W, q = s·U           as the forward, rows padded to A4
//   d_keys, d_q, d_v_rows         the fused kernels
//   d_decoder_out = d_q·Uᵀ, d_U = sᵀ·d_q, d_v = Σ d_v_rows
//   d_encoder_out = wᵀ·d_context (batched)  [+ d_keys·Wᵀ, one-phase]
//   d_W = hᵀ·d_keys, d_bias = Σ d_keys      (one-phase)
// Workspace: keys and queries as the forward, de [B, Td, Te], d_q and
// d_v_rows, and d_keys for the one-phase form (the two-phase form writes the
// caller's).
namespace {

struct BackwardScratch {
  float* keys;       // [B, Te, A4], one-phase only
  float* queries;    // [B, Td, A4]
  float* de;         // [B, Td, Te]
  float* d_keys;     // [B, Te, A], one-phase only
  float* d_queries;  // [B, Td, A]
  float* d_v_rows;   // [B, Te, A]
  int32_t* lengths;  // [2, B]
};

BackwardScratch reserve_backward(CudaContext& ctx, const seqattn_attention_dims& d,
                                 bool one_phase) {
  const int64_t B = d.batch, Te = d.enc_steps, Td = d.dec_steps, A = d.units,
                A4 = round_up4(d.units);
  WorkspaceLayout layout;
  const size_t keys_at = layout.add(one_phase ? floats(B * Te * A4) : 0);
  const size_t queries_at = layout.add(floats(B * Td * A4));
  const size_t de_at = layout.add(floats(B * Td * Te));
  const size_t d_keys_at = layout.add(one_phase ? floats(B * Te * A) : 0);
  const size_t d_queries_at = layout.add(floats(B * Td * A));
  const size_t d_v_at = layout.add(floats(B * Te * A));
  const size_t lengths_at = layout.add(2 * size_t(B) * sizeof(int32_t));
  char* ws = ctx.workspace().reserve(layout.total());
  auto at = [&](size_t offset) { return reinterpret_cast<float*>(ws + offset); };
  return {one_phase ? at(keys_at) : nullptr, at(queries_at), at(de_at),
          one_phase ? at(d_keys_at) : nullptr, at(d_queries_at), at(d_v_at),
          reinterpret_cast<int32_t*>(ws + lengths_at)};
}

// The part both forms share, from the keys [B, Te, keys_ld] (bias [A] added
// to the queries, or nullptr) to d_keys, d_decoder_out, d_U, d_v and the
// values' share of d_encoder_out.
void attend_backward(CudaContext& ctx, const seqattn_attention_dims& d, const BackwardScratch& s,
                     const float* keys, int64_t keys_ld, const float* bias,
                     const float* encoder_out, const float* decoder_out,
                     const int32_t* enc_lengths, const int32_t* dec_lengths, const float* U,
                     const float* v, const float* weights, const float* d_context,
                     const float* d_weights, float* d_encoder_out, float* d_keys,
                     float* d_decoder_out, float* d_U, float* d_v) {
  const int64_t B = d.batch, Te = d.enc_steps, Td = d.dec_steps, He = d.enc_dim,
                Hd = d.dec_dim, A = d.units, A4 = round_up4(d.units);
  const int32_t *d_enc = nullptr, *d_dec = nullptr;
  ctx.stage_lengths2(enc_lengths, dec_lengths, size_t(B), s.lengths, &d_enc, &d_dec);

  ctx.gemm_batched(false, true, Td, Te, He, d_context, He, Td * He, encoder_out, He, Te * He,
                   s.de, Te, Td * Te, B);
  AttentionRowGradParams g{};
  g.batch = d.batch;
  g.enc_steps = d.enc_steps;
  g.dec_steps = d.dec_steps;
  g.weights = weights;
  g.d_weights = d_weights;
  g.enc_lengths = d_enc;
  g.dec_lengths = d_dec;
  g.grad = s.de;
  launch_attention_row_grad(g, ctx.stream());

  ctx.gemm(B * Td, A, Hd, decoder_out, Hd, U, A, s.queries, A4);
  AttentionBackwardParams p{};
  p.batch = d.batch;
  p.enc_steps = d.enc_steps;
  p.dec_steps = d.dec_steps;
  p.units = d.units;
  p.keys = keys;
  p.keys_ld = keys_ld;
  p.queries = s.queries;
  p.queries_ld = A4;
  p.bias = bias;
  p.v = v;
  p.de = s.de;
  p.enc_lengths = d_enc;
  p.dec_lengths = d_dec;
  p.d_keys = d_keys;
  p.d_queries = s.d_queries;
  p.d_v_rows = s.d_v_rows;
  launch_attention_backward(p, ctx.fast_math(), ctx.stream());

  ctx.gemm(false, true, B * Td, Hd, A, s.d_queries, A, U, A, 0.0f, d_decoder_out, Hd);
  ctx.gemm(true, false, Hd, A, B * Td, decoder_out, Hd, s.d_queries, A, 0.0f, d_U, A);
  launch_column_sums(s.d_v_rows, B * Te, d.units, A, d_v, ctx.stream());
  // Masked weights are zeros, so the values' share needs no masking here.
  ctx.gemm_batched(true, false, Te, He, Td, weights, Te, Td * Te, d_context, He, Td * He,
                   d_encoder_out, He, Te * He, B);
}

}  // namespace

void additive_attention_backward(CudaContext& ctx, const AttentionBackwardArgs& a) {
  const seqattn_attention_dims& d = a.dims;
  const int64_t B = d.batch, Te = d.enc_steps, He = d.enc_dim, A = d.units,
                A4 = round_up4(d.units);
  const BackwardScratch s = reserve_backward(ctx, d, true);
  ctx.gemm(B * Te, A, He, a.encoder_out, He, a.W, A, s.keys, A4);
  attend_backward(ctx, d, s, s.keys, A4, a.bias, a.encoder_out, a.decoder_out, a.enc_lengths,
                  a.dec_lengths, a.U, a.v, a.weights, a.d_context, a.d_weights, a.d_encoder_out,
                  s.d_keys, a.d_decoder_out, a.d_U, a.d_v);
  // The keys' share: the projection h·W + bias, as a Dense backward.
  ctx.gemm(false, true, B * Te, He, A, s.d_keys, A, a.W, A, 1.0f, a.d_encoder_out, He);
  ctx.gemm(true, false, He, A, B * Te, a.encoder_out, He, s.d_keys, A, 0.0f, a.d_W, A);
  if (a.d_bias) launch_column_sums(s.d_keys, B * Te, d.units, A, a.d_bias, ctx.stream());
}

void additive_attention_projected_backward(CudaContext& ctx,
                                           const ProjectedAttentionBackwardArgs& a) {
  // The caller's keys [B, Te, A] hold the bias already; d_keys is the caller's.
  const BackwardScratch s = reserve_backward(ctx, a.dims, false);
  attend_backward(ctx, a.dims, s, a.keys, a.dims.units, nullptr, a.encoder_out, a.decoder_out,
                  a.enc_lengths, a.dec_lengths, a.U, a.v, a.weights, a.d_context, a.d_weights,
                  a.d_encoder_out, a.d_keys, a.d_decoder_out, a.d_U, a.d_v);
}

}  // namespace seqattn::cuda
