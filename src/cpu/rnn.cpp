// GRU (both Keras variants) and SimpleRNN — CPU reference.
//
// Keras layout: kernel [I, G·H], recurrent_kernel [H, G·H]; for the GRU the
// column blocks are z, r, h (G = 3).
//   reset_after:  xz,xr,xh = x·K + bias[0];  rz,rr,rh = h·R + bias[1]
//                 z = σ(xz+rz); r = σ(xr+rr); c = tanh(xh + r⊙rh)
//   reset_before: xz,xr,xh = x·K + bias;  z = σ(xz + h·Rz); r = σ(xr + h·Rr)
//                 c = tanh(xh + (r⊙h)·Rh)
//   both:         h' = z⊙h + (1−z)⊙c
//   SimpleRNN:    h' = tanh(x·K + h·R + bias)
// Steps t >= lengths[b] keep the state and output zeros; REVERSE walks the
// valid steps from the last to the first, outputs staying aligned with inputs.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/reference.hpp"

namespace seqattn::cpu {
namespace {

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// y[0, n) = bias + Σ_k in[k]·M[k, col0 + j]   (M has `ld` columns)
void affine(const double* in, size_t k_dim, const float* M, size_t ld, size_t col0, size_t n,
            const float* bias, double* y) {
  for (size_t j = 0; j < n; ++j) y[j] = bias ? double(bias[col0 + j]) : 0.0;
  for (size_t k = 0; k < k_dim; ++k) {
    const double ik = in[k];
    const float* row = M + k * ld + col0;
    for (size_t j = 0; j < n; ++j) y[j] += ik * double(row[j]);
  }
}

}  // namespace

void rnn(const RnnArgs& r) {
  // size_t extents: every dimension was validated positive at the C boundary.
  const size_t B = r.dims.batch, T = r.dims.steps, I = r.dims.input_dim, H = r.dims.units;
  const size_t G = rnn_gates(r.cell), GH = G * H;
  // Bias rows: reset-after has an input row and a recurrent row of G·H each.
  const float* bias_x = r.bias;
  const float* bias_h = (r.bias && r.cell == RnnCell::kGruResetAfter) ? r.bias + GH : nullptr;

  const bool parallel = B > 1 && B * T * (I + H) * GH > size_t(kParallelWork);
  parallel_for(int64_t(B), parallel, [&](int64_t i_b) {
    const size_t b = size_t(i_b);
    const size_t L = r.lengths ? size_t(r.lengths[b]) : T;
    std::vector<double> h(H, 0.0), hn(H), x(I), gx(GH), gh(GH), rh(H);
    if (r.h0)
      for (size_t j = 0; j < H; ++j) h[j] = r.h0[b * H + j];
    if (r.outputs) std::fill(r.outputs + b * T * H, r.outputs + (b + 1) * T * H, 0.0f);

    for (size_t step = 0; step < L; ++step) {
      const size_t t = r.reverse ? L - 1 - step : step;
      for (size_t k = 0; k < I; ++k) x[k] = r.x[(b * T + t) * I + k];
      affine(x.data(), I, r.kernel, GH, 0, GH, bias_x, gx.data());

      if (r.cell == RnnCell::kSimple) {
        affine(h.data(), H, r.recurrent_kernel, GH, 0, GH, nullptr, gh.data());
        for (size_t j = 0; j < H; ++j) hn[j] = std::tanh(gx[j] + gh[j]);
      } else if (r.cell == RnnCell::kGruResetAfter) {
        affine(h.data(), H, r.recurrent_kernel, GH, 0, GH, bias_h, gh.data());
        for (size_t j = 0; j < H; ++j) {
          const double z = sigmoid(gx[j] + gh[j]);
          const double rr = sigmoid(gx[H + j] + gh[H + j]);
          const double c = std::tanh(gx[2 * H + j] + rr * gh[2 * H + j]);
          hn[j] = z * h[j] + (1.0 - z) * c;
        }
      } else {  // kGruResetBefore: the reset gate applies to h before the product with Rh
        affine(h.data(), H, r.recurrent_kernel, GH, 0, 2 * H, nullptr, gh.data());
        for (size_t j = 0; j < H; ++j) rh[j] = sigmoid(gx[H + j] + gh[H + j]) * h[j];
        affine(rh.data(), H, r.recurrent_kernel, GH, 2 * H, H, nullptr, gh.data() + 2 * H);
        for (size_t j = 0; j < H; ++j) {
          const double z = sigmoid(gx[j] + gh[j]);
          const double c = std::tanh(gx[2 * H + j] + gh[2 * H + j]);
          hn[j] = z * h[j] + (1.0 - z) * c;
        }
      }
      h.swap(hn);
      if (r.outputs)
        for (size_t j = 0; j < H; ++j) r.outputs[(b * T + t) * H + j] = float(h[j]);
    }
    if (r.h_last)
      for (size_t j = 0; j < H; ++j) r.h_last[b * H + j] = float(h[j]);
  });
}

}  // namespace seqattn::cpu
