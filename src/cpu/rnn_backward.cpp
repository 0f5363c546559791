// Backward through time of GRU (both Keras variants) and SimpleRNN — CPU reference.
//
// The state before each valid step is h0 (or zeros) for a row's first step,
// else the forward's output of the step before it (in the row's direction);
// the gates are recomputed from it. With dh the gradient reaching a step's
// new state (d_outputs there plus what the later step passes back; d_h_last
// after the last step), writing gx = x·K + bias_x, gh = h·R (+ bias_h):
//   reset_after:  dz = dh·(h − c), dc = dh·(1 − z), dac = dc·(1 − c²),
//                 dar = dac·gh_c·r(1 − r), daz = dz·z(1 − z)
//                 d_gx = [daz, dar, dac],  d_gh = [daz, dar, dac·r]
//                 dh_prev = dh·z + d_gh·Rᵀ
//   reset_before: as above but c = tanh(gx_c + (r⊙h)·R_c):
//                 d_rh = dac·R_cᵀ, dar = d_rh·h·r(1 − r),
//                 d_gx = [daz, dar, dac], d_gh = [daz, dar | dac (input r⊙h)]
//                 dh_prev = dh·z + [daz, dar]·R_zrᵀ + d_rh·r
//   SimpleRNN:    da = dh·(1 − h'²) = d_gx = d_gh,  dh_prev = da·Rᵀ
// then over all steps: d_x = d_gx·Kᵀ, d_K = xᵀ·d_gx, d_R = inᵀ·d_gh (in: the
// recurrent product's input), d_bias = Σ d_gx (and Σ d_gh for reset-after's
// recurrent row); d_h0 is what reaches the state before the first step.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/reference.hpp"

namespace seqattn::cpu {
namespace {

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// y[0, n) = bias + Σ_k in[k]·M[k, col0 + j]   (M has `ld` columns)
template <class In>
void affine(const In* in, size_t k_dim, const float* M, size_t ld, size_t col0, size_t n,
            const float* bias, double* y) {
  for (size_t j = 0; j < n; ++j) y[j] = bias ? double(bias[col0 + j]) : 0.0;
  for (size_t k = 0; k < k_dim; ++k) {
    const double ik = double(in[k]);
    const float* row = M + k * ld + col0;
    for (size_t j = 0; j < n; ++j) y[j] += ik * double(row[j]);
  }
}

}  // namespace

void rnn_backward(const RnnBackwardArgs& r) {
  const size_t B = r.dims.batch, T = r.dims.steps, I = r.dims.input_dim, H = r.dims.units;
  const size_t G = rnn_gates(r.cell), GH = G * H;
  const bool after = r.cell == RnnCell::kGruResetAfter, before = r.cell == RnnCell::kGruResetBefore;
  const float* bias_x = r.bias;
  const float* bias_h = (r.bias && after) ? r.bias + GH : nullptr;
  const float* R = r.recurrent_kernel;

  // Per (b, t), zero at steps past a row's length: the gate gradients and the
  // inputs of the recurrent product (the previous state, and r⊙h for
  // reset-before's candidate block).
  std::vector<double> dgx(B * T * GH, 0.0), dgh(B * T * GH, 0.0), hin(B * T * H, 0.0);
  std::vector<double> rhin(before ? B * T * H : 0, 0.0);

  const bool parallel = B > 1 && B * T * (I + H) * GH > size_t(kParallelWork);
  parallel_for(int64_t(B), parallel, [&](int64_t i_b) {
    const size_t b = size_t(i_b);
    const size_t L = r.lengths ? size_t(r.lengths[b]) : T;
    std::vector<double> dh(H, 0.0), dprev(H), hp(H), gx(GH), gh(GH), rg(H), drh(H);
    if (r.d_h_last)
      for (size_t j = 0; j < H; ++j) dh[j] = r.d_h_last[b * H + j];
    const auto time_of = [&](size_t step) { return r.reverse ? L - 1 - step : step; };

    for (size_t step = L; step-- > 0;) {
      const size_t t = time_of(step);
      const size_t bt = b * T + t;
      if (r.d_outputs)
        for (size_t j = 0; j < H; ++j) dh[j] += r.d_outputs[bt * H + j];
      if (step > 0) {
        const float* prev = r.outputs + (b * T + time_of(step - 1)) * H;
        for (size_t j = 0; j < H; ++j) hp[j] = prev[j];
      } else {
        for (size_t j = 0; j < H; ++j) hp[j] = r.h0 ? double(r.h0[b * H + j]) : 0.0;
      }
      std::copy(hp.begin(), hp.end(), hin.begin() + bt * H);
      affine(r.x + bt * I, I, r.kernel, GH, 0, GH, bias_x, gx.data());
      double* dx = dgx.data() + bt * GH;
      double* dr = dgh.data() + bt * GH;

      if (r.cell == RnnCell::kSimple) {
        affine(hp.data(), H, R, GH, 0, GH, nullptr, gh.data());
        for (size_t j = 0; j < H; ++j) {
          const double hn = std::tanh(gx[j] + gh[j]);
          dx[j] = dr[j] = dh[j] * (1.0 - hn * hn);
        }
        for (size_t k = 0; k < H; ++k) {
          double acc = 0.0;
          for (size_t j = 0; j < H; ++j) acc += dr[j] * double(R[k * GH + j]);
          dprev[k] = acc;
        }
      } else if (after) {
        affine(hp.data(), H, R, GH, 0, GH, bias_h, gh.data());
        for (size_t j = 0; j < H; ++j) {
          const double z = sigmoid(gx[j] + gh[j]);
          const double rr = sigmoid(gx[H + j] + gh[H + j]);
          const double c = std::tanh(gx[2 * H + j] + rr * gh[2 * H + j]);
          const double dac = dh[j] * (1.0 - z) * (1.0 - c * c);
          const double dar = dac * gh[2 * H + j] * rr * (1.0 - rr);
          const double daz = dh[j] * (hp[j] - c) * z * (1.0 - z);
          dx[j] = dr[j] = daz;
          dx[H + j] = dr[H + j] = dar;
          dx[2 * H + j] = dac;
          dr[2 * H + j] = dac * rr;
          dprev[j] = dh[j] * z;
        }
        for (size_t k = 0; k < H; ++k) {
          double acc = 0.0;
          for (size_t j = 0; j < GH; ++j) acc += dr[j] * double(R[k * GH + j]);
          dprev[k] += acc;
        }
      } else {  // reset-before
        affine(hp.data(), H, R, GH, 0, 2 * H, nullptr, gh.data());
        double* rh = rhin.data() + bt * H;
        for (size_t j = 0; j < H; ++j) {
          rg[j] = sigmoid(gx[H + j] + gh[H + j]);
          rh[j] = rg[j] * hp[j];
        }
        affine(rh, H, R, GH, 2 * H, H, nullptr, gh.data() + 2 * H);
        for (size_t j = 0; j < H; ++j) {
          const double z = sigmoid(gx[j] + gh[j]);
          const double c = std::tanh(gx[2 * H + j] + gh[2 * H + j]);
          const double dac = dh[j] * (1.0 - z) * (1.0 - c * c);
          dx[j] = dr[j] = dh[j] * (hp[j] - c) * z * (1.0 - z);
          dx[2 * H + j] = dr[2 * H + j] = dac;
          dprev[j] = dh[j] * z;
        }
        for (size_t k = 0; k < H; ++k) {
          double acc = 0.0;
          for (size_t j = 0; j < H; ++j) acc += dr[2 * H + j] * double(R[k * GH + 2 * H + j]);
          drh[k] = acc;
        }
        for (size_t j = 0; j < H; ++j)
          dx[H + j] = dr[H + j] = drh[j] * hp[j] * rg[j] * (1.0 - rg[j]);
        for (size_t k = 0; k < H; ++k) {
          double acc = drh[k] * rg[k];
          for (size_t j = 0; j < 2 * H; ++j) acc += dr[j] * double(R[k * GH + j]);
          dprev[k] += acc;
        }
      }
      dh.swap(dprev);
    }
    if (r.d_h0)
      for (size_t j = 0; j < H; ++j) r.d_h0[b * H + j] = float(dh[j]);
  });

  const int64_t rows = int64_t(B * T);
  input_gradient(dgx.data(), r.kernel, rows, int64_t(I), int64_t(GH), nullptr, r.d_x);
  weight_gradient(r.x, dgx.data(), rows, int64_t(I), int64_t(GH), r.d_kernel);
  weight_gradient(hin.data(), dgh.data(), rows, int64_t(H), int64_t(GH), r.d_recurrent_kernel);
  if (before) {  // the candidate block's input was r⊙h, not h
    parallel_for(int64_t(H), rows * int64_t(H * H) > kParallelWork, [&](int64_t k) {
      std::vector<double> acc(H, 0.0);
      for (int64_t row = 0; row < rows; ++row) {
        const double in = rhin[size_t(row) * H + size_t(k)];
        const double* g = dgh.data() + size_t(row) * GH + 2 * H;
        for (size_t j = 0; j < H; ++j) acc[j] += in * g[j];
      }
      for (size_t j = 0; j < H; ++j) r.d_recurrent_kernel[size_t(k) * GH + 2 * H + j] = float(acc[j]);
    });
  }
  if (r.d_bias) {
    for (size_t j = 0; j < GH; ++j) {
      double ax = 0.0, ah = 0.0;
      for (size_t row = 0; row < B * T; ++row) {
        ax += dgx[row * GH + j];
        ah += dgh[row * GH + j];
      }
      r.d_bias[j] = float(ax);
      if (after) r.d_bias[GH + j] = float(ah);
    }
  }
}

}  // namespace seqattn::cpu
