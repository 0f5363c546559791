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
#include "kernels/dense.cuh"

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

}  // namespace seqattn::cuda
