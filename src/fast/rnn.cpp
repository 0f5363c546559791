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
#include <algorithm>
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

}  // namespace seqattn::fast
