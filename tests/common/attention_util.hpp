// Additive attention's inputs and calls on a handle of any device, for the
// tests that compare it with the reference (tests/backends/) and the
// CUDA-only ones (tests/cuda/): fixed-seed inputs scaled like a trained
// layer's, the three entry points with outputs starting as NaN, and the
// exact-zero rules of docs/math.md.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "backend_util.hpp"
#include "seqattn/seqattn.h"

namespace seqattn_test {

struct AttentionInputs {
  seqattn_attention_dims d;
  std::vector<float> h, s, W, U, bias, v;  // bias empty: none
  std::vector<int32_t> enc, dec;           // empty: NULL (full length)
  size_t context_size() const { return size_t(d.batch) * d.dec_steps * d.enc_dim; }
  size_t weights_size() const { return size_t(d.batch) * d.dec_steps * d.enc_steps; }
  size_t keys_size() const { return size_t(d.batch) * d.enc_steps * d.units; }
};

inline AttentionInputs make_inputs(const seqattn_attention_dims& d, bool masked, uint32_t seed) {
  AttentionInputs in;
  in.d = d;
  in.h = random_vector(size_t(d.batch) * d.enc_steps * d.enc_dim, seed + 1);
  in.s = random_vector(size_t(d.batch) * d.dec_steps * d.dec_dim, seed + 2);
  in.W = random_weights(size_t(d.enc_dim) * d.units, d.enc_dim, seed + 3);
  in.U = random_weights(size_t(d.dec_dim) * d.units, d.dec_dim, seed + 4);
  const float vs = float(1.0 / std::sqrt(double(d.units)));
  in.v = random_vector(size_t(d.units), seed + 5, -vs, vs);
  if (masked) {
    in.bias = random_vector(size_t(d.units), seed + 6, -0.5f, 0.5f);
    // Rotated against each other so that row 0 has a partial encoder length
    // under the full decoder length, and a 2-row batch still has a live row.
    in.enc = mixed_lengths(d.batch, d.enc_steps, seed + 7, 0);
    in.dec = mixed_lengths(d.batch, d.dec_steps, seed + 8, 2);
  }
  return in;
}

struct AttentionOutputs {
  std::vector<float> context, weights;  // weights empty: weights_out was NULL
};

// The one-phase forward on handle `h` of any device; inputs and outputs go
// through arrays of that handle, outputs starting as NaN.
inline AttentionOutputs forward(seqattn_handle h, const AttentionInputs& in, bool want_weights) {
  DeviceArray hs(h, in.h), s(h, in.s), W(h, in.W), U(h, in.U), v(h, in.v);
  Optional bias(h, in.bias);
  DeviceArray context(h, nan_vector(in.context_size()));
  Optional weights(h, want_weights ? nan_vector(in.weights_size()) : std::vector<float>{});
  const seqattn_status st =
      seqattn_additive_attention_forward(h, &in.d, hs.f(), s.f(), opt(in.enc), opt(in.dec), W.f(),
                                         U.f(), bias.f(), v.f(), context.f(), weights.f());
  if (st != SEQATTN_OK) throw std::runtime_error("attention forward: " + status_text(st));
  return {context.download(), weights.download()};
}

inline std::vector<float> project_keys(seqattn_handle h, const AttentionInputs& in) {
  DeviceArray hs(h, in.h), W(h, in.W), keys(h, nan_vector(in.keys_size()));
  Optional bias(h, in.bias);
  const seqattn_status st =
      seqattn_additive_attention_project_keys(h, &in.d, hs.f(), W.f(), bias.f(), keys.f());
  if (st != SEQATTN_OK) throw std::runtime_error("project_keys: " + status_text(st));
  return keys.download();
}

inline AttentionOutputs forward_projected(seqattn_handle h, const AttentionInputs& in,
                                          const std::vector<float>& keys) {
  DeviceArray hs(h, in.h), k(h, keys), s(h, in.s), U(h, in.U), v(h, in.v);
  DeviceArray context(h, nan_vector(in.context_size())), weights(h, nan_vector(in.weights_size()));
  const seqattn_status st = seqattn_additive_attention_forward_projected(
      h, &in.d, hs.f(), k.f(), s.f(), opt(in.enc), opt(in.dec), U.f(), v.f(), context.f(),
      weights.f());
  if (st != SEQATTN_OK) throw std::runtime_error("forward_projected: " + status_text(st));
  return {context.download(), weights.download()};
}

// Rows with nothing to attend to, and masked positions, are exact zeros.
inline ::testing::AssertionResult masked_exact_zeros(const AttentionInputs& in,
                                                     const AttentionOutputs& out) {
  const auto& d = in.d;
  for (int b = 0; b < d.batch; ++b) {
    const int Le = in.enc.empty() ? d.enc_steps : in.enc[size_t(b)];
    const int Ld = in.dec.empty() ? d.dec_steps : in.dec[size_t(b)];
    for (int t = 0; t < d.dec_steps; ++t) {
      const bool empty_row = t >= Ld || Le == 0;
      const size_t c0 = (size_t(b) * d.dec_steps + t) * d.enc_dim;
      const size_t w0 = (size_t(b) * d.dec_steps + t) * d.enc_steps;
      for (int k = 0; empty_row && k < d.enc_dim; ++k)
        if (out.context[c0 + k] != 0.0f)
          return ::testing::AssertionFailure()
                 << "context[" << b << "," << t << "," << k << "] = " << out.context[c0 + k]
                 << " in a row with nothing to attend to";
      for (int i = empty_row ? 0 : Le; !out.weights.empty() && i < d.enc_steps; ++i)
        if (out.weights[w0 + i] != 0.0f)
          return ::testing::AssertionFailure()
                 << "weights[" << b << "," << t << "," << i << "] = " << out.weights[w0 + i]
                 << " (enc_length " << Le << ", dec_length " << Ld << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace seqattn_test
