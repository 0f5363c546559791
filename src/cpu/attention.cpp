// Additive (Bahdanau) attention, all decoder steps at once — CPU reference.
//
//   keys[b,i,:]  = h[b,i,:]·W + bias                      [B, Te, A]
//   q[b,t,:]     = s[b,t,:]·U                             [B, Td, A]
//   e[b,t,i]     = Σ_a v[a]·tanh(keys[b,i,a] + q[b,t,a])  i < enc_lengths[b]
//   w[b,t,:]     = softmax_i e[b,t,:]                     0 for masked i
//   context[b,t] = Σ_i w[b,t,i]·h[b,i,:]                  [B, Td, He]
//
// Rows t >= dec_lengths[b], and every row of a batch entry whose encoder
// length is 0, are zeros (there is nothing to attend to: zeros, never NaN).
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/reference.hpp"

namespace seqattn::cpu {
namespace {

// keys as double [B, Te, A]: the one-phase path keeps them unrounded, the
// two-phase path widens the float keys it was given.
void attend(const seqattn_attention_dims& d, const float* h, const std::vector<double>& keys,
            const float* s, const int32_t* enc_lengths, const int32_t* dec_lengths,
            const float* U, const float* v, float* context_out, float* weights_out) {
  const int64_t B = d.batch, Te = d.enc_steps, Td = d.dec_steps;
  const int64_t He = d.enc_dim, Hd = d.dec_dim, A = d.units;
  parallel_for(B, B > 1 && B * Td * Te * (A + He) > kParallelWork, [&](int64_t b) {
    const int64_t Le = enc_lengths ? enc_lengths[b] : Te;
    const int64_t Ld = dec_lengths ? dec_lengths[b] : Td;
    std::vector<double> q(A), e(Te);
    for (int64_t t = 0; t < Td; ++t) {
      float* ctx = context_out + (b * Td + t) * He;
      float* wrow = weights_out ? weights_out + (b * Td + t) * Te : nullptr;
      std::fill(ctx, ctx + He, 0.0f);
      if (wrow) std::fill(wrow, wrow + Te, 0.0f);
      if (t >= Ld || Le == 0) continue;

      const float* st = s + (b * Td + t) * Hd;
      for (int64_t a = 0; a < A; ++a) {
        double acc = 0.0;
        for (int64_t k = 0; k < Hd; ++k) acc += double(st[k]) * double(U[k * A + a]);
        q[a] = acc;
      }
      for (int64_t i = 0; i < Le; ++i) {
        const double* key = keys.data() + (b * Te + i) * A;
        double acc = 0.0;
        for (int64_t a = 0; a < A; ++a) acc += double(v[a]) * std::tanh(key[a] + q[a]);
        e[i] = acc;
      }
      softmax_inplace(e.data(), Le);
      for (int64_t k = 0; k < He; ++k) {
        double acc = 0.0;
        for (int64_t i = 0; i < Le; ++i) acc += e[i] * double(h[(b * Te + i) * He + k]);
        ctx[k] = float(acc);
      }
      if (wrow)
        for (int64_t i = 0; i < Le; ++i) wrow[i] = float(e[i]);
    }
  });
}

std::vector<double> project(const seqattn_attention_dims& d, const float* h, const float* W,
                            const float* bias) {
  const int64_t rows = int64_t(d.batch) * d.enc_steps, He = d.enc_dim, A = d.units;
  std::vector<double> keys(size_t(rows * A));
  parallel_for(rows, rows * He * A > kParallelWork, [&](int64_t r) {
    for (int64_t a = 0; a < A; ++a) {
      double acc = bias ? double(bias[a]) : 0.0;
      for (int64_t k = 0; k < He; ++k) acc += double(h[r * He + k]) * double(W[k * A + a]);
      keys[size_t(r * A + a)] = acc;
    }
  });
  return keys;
}

}  // namespace

void softmax_inplace(double* e, int64_t n) {
  if (n <= 0) return;
  const double m = *std::max_element(e, e + n);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += (e[i] = std::exp(e[i] - m));
  for (int64_t i = 0; i < n; ++i) e[i] /= sum;  // sum >= 1: the maximum contributes exp(0)
}

void additive_attention(const AttentionArgs& a) {
  const std::vector<double> keys = project(a.dims, a.encoder_out, a.W, a.bias);
  attend(a.dims, a.encoder_out, keys, a.decoder_out, a.enc_lengths, a.dec_lengths, a.U, a.v,
         a.context_out, a.weights_out);
}

void project_keys(const ProjectKeysArgs& a) {
  const std::vector<double> keys = project(a.dims, a.encoder_out, a.W, a.bias);
  std::transform(keys.begin(), keys.end(), a.keys_out, [](double k) { return float(k); });
}

void additive_attention_projected(const ProjectedAttentionArgs& a) {
  const size_t n = size_t(a.dims.batch) * a.dims.enc_steps * a.dims.units;
  const std::vector<double> keys(a.keys, a.keys + n);
  attend(a.dims, a.encoder_out, keys, a.decoder_out, a.enc_lengths, a.dec_lengths, a.U, a.v,
         a.context_out, a.weights_out);
}

}  // namespace seqattn::cpu
