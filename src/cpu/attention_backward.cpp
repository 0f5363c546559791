// Backward of additive attention, both forms — CPU reference.
//
// From the forward's weights w and the gradients of the loss with respect to
// its outputs (d_context, optionally d_weights), for each valid (b, t):
//   dw[i]        = d_context[b,t,:]·h[b,i,:] + d_weights[b,t,i]      i < Le
//   de[i]        = w[i]·(dw[i] − Σ_j w[j]·dw[j])                     (softmax)
//   th[a]        = tanh(keys[b,i,a] + q[b,t,a])                      recomputed
//   g[a]         = de[i]·v[a]·(1 − th[a]²)
//   d_v[a]      += de[i]·th[a];   d_keys[b,i,a] += g[a];   d_q[b,t,a] += g[a]
//   d_h[b,i,:]  += w[i]·d_context[b,t,:]                             (values)
// then the products: d_decoder_out = d_q·Uᵀ, d_U = sᵀ·d_q, and for the
// one-phase form d_W = hᵀ·d_keys, d_bias = Σ d_keys, d_h += d_keys·Wᵀ (keys).
// Rows t >= dec_lengths[b], rows with enc_lengths[b] == 0 and positions
// i >= enc_lengths[b] pass no gradient (their outputs were zeros by rule).
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/reference.hpp"

namespace seqattn::cpu {
namespace {

// The gradients both forms share, in double: the values' share of d_h, and
// the gradients of the keys and the queries (q = s·U) and of v.
struct AttendGrads {
  std::vector<double> d_h;     // [B, Te, He]
  std::vector<double> d_keys;  // [B, Te, A]
  std::vector<double> d_q;     // [B, Td, A]
  std::vector<double> d_v;     // [A]
};

AttendGrads attend_backward(const seqattn_attention_dims& d, const float* h,
                            const std::vector<double>& keys, const float* s,
                            const int32_t* enc_lengths, const int32_t* dec_lengths,
                            const float* U, const float* v, const float* weights,
                            const float* d_context, const float* d_weights) {
  const int64_t B = d.batch, Te = d.enc_steps, Td = d.dec_steps;
  const int64_t He = d.enc_dim, Hd = d.dec_dim, A = d.units;
  AttendGrads g{std::vector<double>(size_t(B * Te * He), 0.0),
                std::vector<double>(size_t(B * Te * A), 0.0),
                std::vector<double>(size_t(B * Td * A), 0.0), std::vector<double>(size_t(A), 0.0)};
  // d_v sums over the batch: one partial per entry, added in order afterwards,
  // so the result does not depend on the threads.
  std::vector<double> d_v_part(size_t(B * A), 0.0);
  parallel_for(B, B > 1 && B * Td * Te * (A + He) > kParallelWork, [&](int64_t b) {
    const int64_t Le = enc_lengths ? enc_lengths[b] : Te;
    const int64_t Ld = dec_lengths ? dec_lengths[b] : Td;
    std::vector<double> q(static_cast<size_t>(A)), dw(static_cast<size_t>(Te));
    double* dv = d_v_part.data() + b * A;
    for (int64_t t = 0; t < Ld && Le > 0; ++t) {
      const float* st = s + (b * Td + t) * Hd;
      const float* dct = d_context + (b * Td + t) * He;
      const float* w = weights + (b * Td + t) * Te;
      for (int64_t a = 0; a < A; ++a) {
        double acc = 0.0;
        for (int64_t k = 0; k < Hd; ++k) acc += double(st[k]) * double(U[k * A + a]);
        q[size_t(a)] = acc;
      }
      double wdw = 0.0;
      for (int64_t i = 0; i < Le; ++i) {
        const float* hi = h + (b * Te + i) * He;
        double acc = d_weights ? double(d_weights[(b * Td + t) * Te + i]) : 0.0;
        for (int64_t k = 0; k < He; ++k) acc += double(dct[k]) * double(hi[k]);
        dw[size_t(i)] = acc;
        wdw += double(w[i]) * acc;
        double* dhi = g.d_h.data() + (b * Te + i) * He;
        for (int64_t k = 0; k < He; ++k) dhi[k] += double(w[i]) * double(dct[k]);
      }
      double* dq = g.d_q.data() + (b * Td + t) * A;
      for (int64_t i = 0; i < Le; ++i) {
        const double de = double(w[i]) * (dw[size_t(i)] - wdw);
        const double* key = keys.data() + (b * Te + i) * A;
        double* dkey = g.d_keys.data() + (b * Te + i) * A;
        for (int64_t a = 0; a < A; ++a) {
          const double th = std::tanh(key[a] + q[size_t(a)]);
          const double ga = de * double(v[a]) * (1.0 - th * th);
          dv[a] += de * th;
          dkey[a] += ga;
          dq[a] += ga;
        }
      }
    }
  });
  for (int64_t b = 0; b < B; ++b)
    for (int64_t a = 0; a < A; ++a) g.d_v[size_t(a)] += d_v_part[size_t(b * A + a)];
  return g;
}

// What both forms write from the queries' gradient: d_decoder_out and d_U.
void query_gradients(const seqattn_attention_dims& d, const float* s, const float* U,
                     const AttendGrads& g, float* d_decoder_out, float* d_U, float* d_v) {
  const int64_t rows = int64_t(d.batch) * d.dec_steps;
  input_gradient(g.d_q.data(), U, rows, d.dec_dim, d.units, nullptr, d_decoder_out);
  weight_gradient(s, g.d_q.data(), rows, d.dec_dim, d.units, d_U);
  std::transform(g.d_v.begin(), g.d_v.end(), d_v, [](double x) { return float(x); });
}

}  // namespace

void additive_attention_backward(const AttentionBackwardArgs& a) {
  const seqattn_attention_dims& d = a.dims;
  // The unrounded keys, as the one-phase forward computed them.
  const int64_t rows = int64_t(d.batch) * d.enc_steps, He = d.enc_dim, A = d.units;
  std::vector<double> keys(size_t(rows * A));
  parallel_for(rows, rows * He * A > kParallelWork, [&](int64_t r) {
    for (int64_t u = 0; u < A; ++u) {
      double acc = a.bias ? double(a.bias[u]) : 0.0;
      for (int64_t k = 0; k < He; ++k) acc += double(a.encoder_out[r * He + k]) * double(a.W[k * A + u]);
      keys[size_t(r * A + u)] = acc;
    }
  });
  const AttendGrads g =
      attend_backward(d, a.encoder_out, keys, a.decoder_out, a.enc_lengths, a.dec_lengths, a.U,
                      a.v, a.weights, a.d_context, a.d_weights);
  query_gradients(d, a.decoder_out, a.U, g, a.d_decoder_out, a.d_U, a.d_v);
  // As keys: d_W = hᵀ·d_keys, d_bias = Σ d_keys, and d_keys·Wᵀ joins the values' share.
  weight_gradient(a.encoder_out, g.d_keys.data(), rows, He, A, a.d_W);
  input_gradient(g.d_keys.data(), a.W, rows, He, A, g.d_h.data(), a.d_encoder_out);
  if (a.d_bias) {
    for (int64_t u = 0; u < A; ++u) {
      double acc = 0.0;
      for (int64_t r = 0; r < rows; ++r) acc += g.d_keys[size_t(r * A + u)];
      a.d_bias[u] = float(acc);
    }
  }
}

void additive_attention_projected_backward(const ProjectedAttentionBackwardArgs& a) {
  const seqattn_attention_dims& d = a.dims;
  const size_t n = size_t(d.batch) * d.enc_steps * d.units;
  const std::vector<double> keys(a.keys, a.keys + n);
  const AttendGrads g =
      attend_backward(d, a.encoder_out, keys, a.decoder_out, a.enc_lengths, a.dec_lengths, a.U,
                      a.v, a.weights, a.d_context, a.d_weights);
  query_gradients(d, a.decoder_out, a.U, g, a.d_decoder_out, a.d_U, a.d_v);
  std::transform(g.d_keys.begin(), g.d_keys.end(), a.d_keys, [](double x) { return float(x); });
  std::transform(g.d_h.begin(), g.d_h.end(), a.d_encoder_out, [](double x) { return float(x); });
}

}  // namespace seqattn::cpu
