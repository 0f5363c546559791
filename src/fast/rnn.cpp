// GRU (both Keras variants) and SimpleRNN on the fast CPU backend (the math:
// docs/math.md, "GRU" and "Lengths and direction").
//
// As oneDNN's GRU: one product for the input projection of every step
// (x·kernel + bias over B·T rows, OpenBLAS), then per step one product for
// the recurrence (h·recurrent_kernel; two for reset_before, whose reset gate
// applies before the product with Rh) and one fused SIMD pass for the gates.
// The recurrent kernel is packed into column panels once per call
// (kernels.hpp: packed_gemm): OpenBLAS would pack it again at every step, and
// at B = 64, H = 256 that copy of 0.8 MB per step cost about a third of the
// product.
//
// The batch is cut into independent slices that each thread carries through
// all time steps: a step needs the previous step's state of its own rows
// only, so the threads never wait for each other (a barrier per step is what
// made a busy machine multiply the latency). More slices than threads let a
// thread on a busy core take fewer.
//
// The backward through time (rnn_backward, below) needs no recurrence to
// recover the gates: the forward's outputs are the states, so the state
// before every step (h_prev) is known at once, and the gates of all steps
// come from the same products as the forward's, each over all B·T rows
// (OpenBLAS). Only the gradient's way back is a recurrence, one product per
// step with Rᵀ (packed once, as the forward packs R), the batch in slices
// as above. The gate gradients of every step are kept ([B·T, G·H]), so the
// weight gradients are single products over all steps afterwards.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "fast/gemm.hpp"
#include "fast/kernels.hpp"
#include "fast/ops.hpp"
#include "fast/parallel.hpp"

namespace seqattn::fast {

void rnn(const RnnArgs& r, Workspace& ws) {
  const int64_t B = r.dims.batch, T = r.dims.steps, I = r.dims.input_dim, H = r.dims.units;
  const int64_t G = rnn_gates(r.cell), GH = G * H;
  const float* bias_x = r.bias;
  const float* bias_h = (r.bias && r.cell == RnnCell::kGruResetAfter) ? r.bias + GH : nullptr;

  // gx [B, T, GH] = x·kernel + bias_x, every step at once.
  float* gx = ws.get(Workspace::kGates, size_t(B * T * GH));
  gemm_rows(B * T, GH, I, r.x, I, r.kernel, GH, gx, GH, [&](int64_t r0, int64_t r1) {
    if (bias_x)
      for (int64_t row = r0; row < r1; ++row) add_bias(gx + row * GH, bias_x, gx + row * GH, size_t(GH));
  });

  // The recurrent kernel in panels: all G·H columns, or for reset_before the
  // z, r columns [0, 2H) and the h columns [2H, 3H) apart.
  const bool before = r.cell == RnnCell::kGruResetBefore;
  const size_t zr_cols = before ? size_t(2 * H) : size_t(GH);
  const size_t zr_size = packed_size(size_t(H), zr_cols);
  float* packed = ws.get(Workspace::kPacked, zr_size + (before ? packed_size(size_t(H), size_t(H)) : 0));
  pack_panels(r.recurrent_kernel, size_t(H), zr_cols, size_t(GH), packed);
  if (before) pack_panels(r.recurrent_kernel + 2 * H, size_t(H), size_t(H), size_t(GH), packed + zr_size);

  // State: h [B, H]; per slice scratch gh [rows, GH] for the recurrent product.
  float* h = ws.get(Workspace::kState, size_t(B * H));
  float* gh_all = ws.get(Workspace::kEnergies, size_t(B * GH));
  if (r.h0)
    std::memcpy(h, r.h0, size_t(B * H) * sizeof(float));
  else
    std::fill(h, h + B * H, 0.0f);

  const int threads = threads_for(double(B) * double(T) * double(H) * double(GH), B);
  const int64_t slices = threads > 1 ? std::min<int64_t>(B, 2 * threads) : 1;
  parallel_for(slices, threads, [&](int64_t slice) {
    const int64_t b0 = B * slice / slices, b1 = B * (slice + 1) / slices, S = b1 - b0;
    float* hs = h + b0 * H;
    float* gh = gh_all + b0 * GH;
    auto length = [&](int64_t b) { return r.lengths ? int64_t(r.lengths[b]) : T; };
    int64_t steps = 0;
    for (int64_t b = b0; b < b1; ++b) {
      steps = std::max(steps, length(b));
      if (r.outputs)  // outputs past the length are zeros
        std::fill(r.outputs + (b * T + length(b)) * H, r.outputs + (b + 1) * T * H, 0.0f);
    }
    for (int64_t s = 0; s < steps; ++s) {
      // The recurrent product for all rows of the slice (rows already past
      // their length compute it too, and ignore it: cheaper than gathering).
      // reset_before: z and r from h·[Rz Rr] here; (r ⊙ h)·Rh below.
      if (bias_h)
        for (int64_t i = 0; i < S; ++i) std::memcpy(gh + i * GH, bias_h, size_t(GH) * sizeof(float));
      packed_gemm(size_t(S), zr_cols, size_t(H), hs, size_t(H), packed, gh, size_t(GH),
                  /*accumulate=*/bias_h != nullptr);
      for (int64_t i = 0; i < S; ++i) {
        const int64_t b = b0 + i, L = length(b);
        if (s >= L) continue;
        const int64_t t = r.reverse ? L - 1 - s : s;
        const float* gxr = gx + (b * T + t) * GH;
        float* ghr = gh + i * GH;
        float* hr = hs + i * H;
        switch (r.cell) {
          case RnnCell::kGruResetAfter: gru_reset_after_gates(gxr, ghr, hr, size_t(H), hr); break;
          case RnnCell::kSimple: simple_rnn_update(gxr, ghr, size_t(H), hr); break;
          case RnnCell::kGruResetBefore:
            // z into ghr[0, H), r ⊙ h into ghr[H, 2H): the operand of the next product.
            gru_reset_before_gates(gxr, ghr, hr, size_t(H), ghr, ghr + H);
            break;
        }
      }
      if (r.cell == RnnCell::kGruResetBefore) {
        // ghr[2H, 3H) = (r ⊙ h)·Rh, then the update, for the rows still running.
        packed_gemm(size_t(S), size_t(H), size_t(H), gh + H, size_t(GH), packed + zr_size,
                    gh + 2 * H, size_t(GH), false);
        for (int64_t i = 0; i < S; ++i) {
          const int64_t b = b0 + i, L = length(b);
          if (s >= L) continue;
          const int64_t t = r.reverse ? L - 1 - s : s;
          float* ghr = gh + i * GH;
          float* hr = hs + i * H;
          gru_reset_before_update(gx + (b * T + t) * GH + 2 * H, ghr + 2 * H, ghr, hr, size_t(H), hr);
        }
      }
      if (r.outputs)
        for (int64_t i = 0; i < S; ++i) {
          const int64_t b = b0 + i, L = length(b);
          if (s < L)
            std::memcpy(r.outputs + (b * T + (r.reverse ? L - 1 - s : s)) * H, hs + i * H,
                        size_t(H) * sizeof(float));
        }
    }
  });
  if (r.h_last) std::memcpy(r.h_last, h, size_t(B * H) * sizeof(float));
}

namespace {

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// out[0, n) = Σ_r x[r * ld + :] over `rows` rows, in row order, threaded
// over blocks of columns (each column's sum has one order whatever the threads).
void column_sums(const float* x, int64_t rows, int64_t n, int64_t ld, float* out) {
  constexpr int64_t kCols = 256;
  const int64_t blocks = (n + kCols - 1) / kCols;
  parallel_for(blocks, threads_for(double(rows) * double(n), blocks), [&](int64_t k) {
    const int64_t c0 = k * kCols, c1 = std::min(n, c0 + kCols);
    std::fill(out + c0, out + c1, 0.0f);
    for (int64_t r = 0; r < rows; ++r) axpy(1.0f, x + r * ld + c0, out + c0, size_t(c1 - c0));
  });
}

}  // namespace

// Scratch (B·T rows, zeros at steps past a row's length where noted):
//   kGates  gx [B·T, GH]: x·K + bias_x, then overwritten with z, r, c (GRU)
//   kGrad0  gh [B·T, GH] (GRU): h_prev·R + bias_h; reset_before: hz, hr, (r ⊙ h_prev)·Rh
//   kGrad1  hp [B·T, H]: h_prev (zeros)
//   kGrad2  rh [B·T, H] (reset_before): r ⊙ h_prev (zeros)
//   kGrad3  dgx [B·T, GH]: the gradient of x·K + bias_x (zeros)
//   kGrad4  dgh [B·T, GH] (reset_after): the gradient of h_prev·R + bias_h (zeros)
//   kGrad5  dh [B, H], then dg [B, GH], then t [B, H]: the recurrence's state
//   kState  Rᵀ [GH, H];  kPacked  Rᵀ in panels (reset_before: [Rz Rr]ᵀ and Rhᵀ apart)
void rnn_backward(const RnnBackwardArgs& r, Workspace& ws) {
  const int64_t B = r.dims.batch, T = r.dims.steps, I = r.dims.input_dim, H = r.dims.units;
  const int64_t G = rnn_gates(r.cell), GH = G * H, BT = B * T;
  const bool after = r.cell == RnnCell::kGruResetAfter, before = r.cell == RnnCell::kGruResetBefore;
  const bool gru = r.cell != RnnCell::kSimple;
  const float* bias_x = r.bias;
  const float* bias_h = (r.bias && after) ? r.bias + GH : nullptr;
  auto length = [&](int64_t b) { return r.lengths ? int64_t(r.lengths[b]) : T; };

  float* gx = gru ? ws.get(Workspace::kGates, size_t(BT * GH)) : nullptr;
  float* gh = gru ? ws.get(Workspace::kGrad0, size_t(BT * GH)) : nullptr;
  float* hp = ws.get(Workspace::kGrad1, size_t(BT * H));
  float* rh = before ? ws.get(Workspace::kGrad2, size_t(BT * H)) : nullptr;
  float* dgx = ws.get(Workspace::kGrad3, size_t(BT * GH));
  float* dgh = after ? ws.get(Workspace::kGrad4, size_t(BT * GH)) : dgx;
  float* state = ws.get(Workspace::kGrad5, size_t(B * (2 * H + GH)));
  float* dh_all = state;
  float* dg_all = state + B * H;
  float* tmp_all = dg_all + B * GH;

  // h_prev of every valid step: h0 (or zeros) before a row's first step,
  // else the output of the step before it in the walk's order.
  const double row_work = double(T) * double(H + 2 * GH);
  parallel_for(B, threads_for(double(B) * row_work, B), [&](int64_t b) {
    const int64_t L = length(b);
    for (int64_t t = 0; t < T; ++t) {
      float* dst = hp + (b * T + t) * H;
      const bool first = r.reverse ? t == L - 1 : t == 0;
      const float* src = t >= L ? nullptr
                         : first ? (r.h0 ? r.h0 + b * H : nullptr)
                                 : r.outputs + (b * T + (r.reverse ? t + 1 : t - 1)) * H;
      if (src)
        std::memcpy(dst, src, size_t(H) * sizeof(float));
      else
        std::fill(dst, dst + H, 0.0f);
    }
    std::fill(dgx + (b * T + L) * GH, dgx + (b + 1) * T * GH, 0.0f);
    // r ⊙ h_prev is set at valid steps only; it meets zero gradients elsewhere,
    // but 0·(stale scratch) could be NaN.
    if (before) std::fill(rh + (b * T + L) * H, rh + (b + 1) * T * H, 0.0f);
    if (after) std::fill(dgh + (b * T + L) * GH, dgh + (b + 1) * T * GH, 0.0f);
  });

  // The GRU's gates of every step, as the forward computes them.
  auto no_epilogue = [](int64_t, int64_t) {};
  if (gru) {
    gemm_rows(BT, GH, I, r.x, I, r.kernel, GH, gx, GH, [&](int64_t r0, int64_t r1) {
      if (bias_x)
        for (int64_t row = r0; row < r1; ++row) add_bias(gx + row * GH, bias_x, gx + row * GH, size_t(GH));
    });
    gemm_rows(BT, after ? GH : 2 * H, H, hp, H, r.recurrent_kernel, GH, gh, GH,
              [&](int64_t r0, int64_t r1) {
                if (bias_h)
                  for (int64_t row = r0; row < r1; ++row)
                    add_bias(gh + row * GH, bias_h, gh + row * GH, size_t(GH));
              });
    // z and r into gx's first 2H columns (reset_before: and r ⊙ h_prev),
    // c into its last H once its pre-activation is complete.
    auto zr = [&](int64_t row) {
      float* g = gx + row * GH;
      const float* h = gh + row * GH;
      for (int64_t j = 0; j < 2 * H; ++j) g[j] = sigmoid(g[j] + h[j]);
      if (before)
        for (int64_t j = 0; j < H; ++j) rh[row * H + j] = g[H + j] * hp[row * H + j];
    };
    auto candidate = [&](int64_t row) {
      float* g = gx + row * GH;
      const float* h = gh + row * GH;
      for (int64_t j = 0; j < H; ++j)
        g[2 * H + j] = std::tanh(g[2 * H + j] + (after ? g[H + j] * h[2 * H + j] : h[2 * H + j]));
    };
    auto each_valid_row = [&](auto&& f) {
      parallel_for(B, threads_for(double(B) * double(T) * double(GH) * 8, B), [&](int64_t b) {
        for (int64_t t = 0, L = length(b); t < L; ++t) f(b * T + t);
      });
    };
    each_valid_row(zr);
    if (before)
      gemm_rows(BT, H, H, rh, H, r.recurrent_kernel + 2 * H, GH, gh + 2 * H, GH, no_epilogue);
    each_valid_row(candidate);
  }

  // Rᵀ in panels: the recurrence's product d_gates·Rᵀ.
  float* rt = ws.get(Workspace::kState, size_t(GH * H));
  for (int64_t k = 0; k < H; ++k)
    for (int64_t j = 0; j < GH; ++j) rt[j * H + k] = r.recurrent_kernel[k * GH + j];
  const size_t zr_rows = before ? size_t(2 * H) : size_t(GH);
  const size_t zr_size = packed_size(zr_rows, size_t(H));
  float* packed = ws.get(Workspace::kPacked, zr_size + (before ? packed_size(size_t(H), size_t(H)) : 0));
  pack_panels(rt, zr_rows, size_t(H), size_t(H), packed);
  if (before) pack_panels(rt + 2 * H * H, size_t(H), size_t(H), size_t(H), packed + zr_size);

  // Back through time: dh is the gradient of the state after the step about
  // to be undone (d_h_last before the first), rows walked from their last
  // step to their first; a row whose steps are done keeps its dh (its gate
  // gradients stay zero, so the products add nothing to it).
  const int threads = threads_for(double(B) * double(T) * double(H) * double(GH) * 2, B);
  const int64_t slices = threads > 1 ? std::min<int64_t>(B, 2 * threads) : 1;
  parallel_for(slices, threads, [&](int64_t slice) {
    const int64_t b0 = B * slice / slices, b1 = B * (slice + 1) / slices, S = b1 - b0;
    float* dh = dh_all + b0 * H;
    float* dg = dg_all + b0 * GH;
    float* tmp = tmp_all + b0 * H;
    if (r.d_h_last)
      std::memcpy(dh, r.d_h_last + b0 * H, size_t(S * H) * sizeof(float));
    else
      std::fill(dh, dh + S * H, 0.0f);
    int64_t steps = 0;
    for (int64_t b = b0; b < b1; ++b) steps = std::max(steps, length(b));
    for (int64_t s = steps - 1; s >= 0; --s) {
      for (int64_t i = 0; i < S; ++i) {
        const int64_t b = b0 + i, L = length(b);
        float* g = dg + i * GH;
        if (s >= L) {
          std::fill(g, g + GH, 0.0f);
          continue;
        }
        const int64_t row = b * T + (r.reverse ? L - 1 - s : s);
        float* d = dh + i * H;
        if (r.d_outputs) axpy(1.0f, r.d_outputs + row * H, d, size_t(H));
        if (!gru) {  // h = tanh(a): da = dh ⊙ (1 − h²); nothing passes h_prev directly
          const float* y = r.outputs + row * H;
          for (int64_t j = 0; j < H; ++j) {
            g[j] = d[j] * (1.0f - y[j] * y[j]);
            d[j] = 0.0f;
          }
          continue;
        }
        const float* z = gx + row * GH;
        const float* rr = z + H;
        const float* c = z + 2 * H;
        const float* hh = gh + row * GH + 2 * H;
        const float* h = hp + row * H;
        float* dx = dgx + row * GH;
        for (int64_t j = 0; j < H; ++j) {
          // h' = z ⊙ h + (1 − z) ⊙ c
          const float dz = d[j] * (h[j] - c[j]) * z[j] * (1.0f - z[j]);
          const float dc = d[j] * (1.0f - z[j]) * (1.0f - c[j] * c[j]);
          g[j] = dx[j] = dz;
          g[2 * H + j] = dx[2 * H + j] = dc;
          if (after) {  // c = tanh(xh + r ⊙ hh): r's and hh's shares
            g[H + j] = dx[H + j] = dc * hh[j] * rr[j] * (1.0f - rr[j]);
            g[2 * H + j] = dc * rr[j];
          }
          d[j] *= z[j];
        }
      }
      if (before) {
        // c = tanh(xh + (r ⊙ h)·Rh): the gradient of r ⊙ h is dc·Rhᵀ.
        packed_gemm(size_t(S), size_t(H), size_t(H), dg + 2 * H, size_t(GH), packed + zr_size,
                    tmp, size_t(H), false);
        for (int64_t i = 0; i < S; ++i) {
          const int64_t b = b0 + i, L = length(b);
          if (s >= L) continue;
          const int64_t row = b * T + (r.reverse ? L - 1 - s : s);
          const float* rr = gx + row * GH + H;
          const float* h = hp + row * H;
          const float* drh = tmp + i * H;
          float* d = dh + i * H;
          float* g = dg + i * GH;
          for (int64_t j = 0; j < H; ++j) {
            g[H + j] = dgx[row * GH + H + j] = drh[j] * h[j] * rr[j] * (1.0f - rr[j]);
            d[j] += drh[j] * rr[j];
          }
        }
      }
      // dh_prev += d_gates·Rᵀ (reset_before: the z and r gates' share here).
      packed_gemm(size_t(S), size_t(H), zr_rows, dg, size_t(GH), packed, dh, size_t(H), true);
      if (!gru || after)
        for (int64_t i = 0; i < S; ++i) {
          const int64_t b = b0 + i, L = length(b);
          if (s < L)
            std::memcpy((after ? dgh : dgx) + (b * T + (r.reverse ? L - 1 - s : s)) * GH,
                        dg + i * GH, size_t(GH) * sizeof(float));
        }
    }
    if (r.d_h0) std::memcpy(r.d_h0 + b0 * H, dh, size_t(S * H) * sizeof(float));
  });

  // The weight gradients, each one product over every step.
  gemm_t_rows(false, true, BT, I, GH, dgx, GH, r.kernel, GH, r.d_x, I);
  gemm_t_rows(true, false, I, GH, BT, r.x, I, dgx, GH, r.d_kernel, GH);
  if (before) {
    gemm_t_rows(true, false, H, 2 * H, BT, hp, H, dgx, GH, r.d_recurrent_kernel, GH);
    gemm_t_rows(true, false, H, H, BT, rh, H, dgx + 2 * H, GH, r.d_recurrent_kernel + 2 * H, GH);
  } else {
    gemm_t_rows(true, false, H, GH, BT, hp, H, dgh, GH, r.d_recurrent_kernel, GH);
  }
  if (r.d_bias) {
    column_sums(dgx, BT, GH, GH, r.d_bias);
    if (after) column_sums(dgh, BT, GH, GH, r.d_bias + GH);
  }
}

}  // namespace seqattn::fast
