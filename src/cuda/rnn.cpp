// GRU and SimpleRNN on a CUDA handle: the input projections of all steps in
// one cuBLAS GEMM, then per step one recurrent GEMM and one fused gate kernel
// (kernels/rnn.cu). The reset-before GRU needs r⊙h before its Rh product:
// two GEMMs and two kernels per step.
//
// The host knows the lengths, so the loop runs max(lengths) steps, not T;
// rows that finish earlier keep their state inside the kernel. The state is
// h_last itself when the caller asked for it (no copy at the end), else a
// workspace buffer.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "cuda/check.hpp"
#include "cuda/ops.hpp"
#include "kernels/dense_backward.cuh"
#include "kernels/rnn.cuh"
#include "kernels/rnn_backward.cuh"

namespace seqattn::cuda {
namespace {

RnnStepCell step_cell(RnnCell cell) {
  switch (cell) {
    case RnnCell::kGruResetAfter: return RnnStepCell::kGruResetAfter;
    case RnnCell::kGruResetBefore: return RnnStepCell::kGruResetBefore;
    case RnnCell::kSimple: break;
  }
  return RnnStepCell::kSimple;
}

}  // namespace

void rnn(CudaContext& ctx, const RnnArgs& r) {
  const int64_t B = r.dims.batch, T = r.dims.steps, I = r.dims.input_dim, H = r.dims.units;
  const int64_t GH = int64_t(rnn_gates(r.cell)) * H;
  const bool reset_before = r.cell == RnnCell::kGruResetBefore;
  const cudaStream_t stream = ctx.stream();

  int32_t max_len = r.dims.steps;
  bool all_full = true;
  if (r.lengths) {
    max_len = *std::max_element(r.lengths, r.lengths + B);
    all_full = *std::min_element(r.lengths, r.lengths + B) == r.dims.steps;
  }

  WorkspaceLayout layout;
  const size_t xproj_at = layout.add(size_t(B * T * GH) * sizeof(float));
  const size_t hproj_at = layout.add(size_t(B * GH) * sizeof(float));
  const size_t reset_at = layout.add(reset_before ? size_t(B * H) * sizeof(float) : 0);
  const size_t state_at = layout.add(r.h_last ? 0 : size_t(B * H) * sizeof(float));
  const size_t lengths_at = layout.add(size_t(B) * sizeof(int32_t));
  char* ws = ctx.workspace().reserve(layout.total());
  float* xproj = reinterpret_cast<float*>(ws + xproj_at);
  float* hproj = reinterpret_cast<float*>(ws + hproj_at);
  float* h = r.h_last ? r.h_last : reinterpret_cast<float*>(ws + state_at);
  const size_t state_bytes = size_t(B * H) * sizeof(float);

  RnnStepParams p{};
  p.batch = r.dims.batch;
  p.steps = r.dims.steps;
  p.units = r.dims.units;
  p.reverse = r.reverse;
  p.cell = step_cell(r.cell);
  p.lengths = ctx.stage_lengths(r.lengths, size_t(B), reinterpret_cast<int32_t*>(ws + lengths_at));
  p.xproj = xproj;
  // Bias rows: reset-after has an input row and a recurrent row of G·H each.
  p.bias_x = r.bias;
  p.bias_h = (r.bias && r.cell == RnnCell::kGruResetAfter) ? r.bias + GH : nullptr;
  p.hproj = hproj;
  p.h = h;
  p.reset_h = reset_before ? reinterpret_cast<float*>(ws + reset_at) : nullptr;
  p.outputs = r.outputs;

  if (r.h0) {
    if (r.h0 != h)
      check(cudaMemcpyAsync(h, r.h0, state_bytes, cudaMemcpyDeviceToDevice, stream),
            "cudaMemcpyAsync (h0)");
  } else {
    check(cudaMemsetAsync(h, 0, state_bytes, stream), "cudaMemsetAsync (h0 = 0)");
  }
  // Steps past a row's length output zeros; the kernels write only valid steps.
  if (r.outputs && !all_full)
    check(cudaMemsetAsync(r.outputs, 0, size_t(B * T * H) * sizeof(float), stream),
          "cudaMemsetAsync (outputs)");
  if (max_len == 0) return;

  ctx.gemm(B * T, GH, I, r.x, I, r.kernel, GH, xproj, GH);
  const float* R = r.recurrent_kernel;  // [H, G·H]
  for (int32_t step = 0; step < max_len; ++step) {
    p.step = step;
    if (reset_before) {
      ctx.gemm(B, 2 * H, H, h, H, R, GH, hproj, GH);  // z and r blocks
      launch_gru_reset_gate(p, stream);
      ctx.gemm(B, H, H, p.reset_h, H, R + 2 * H, GH, hproj + 2 * H, GH);  // (r⊙h)·Rh
    } else {
      ctx.gemm(B, GH, H, h, H, R, GH, hproj, GH);
    }
    launch_rnn_step(p, stream);
  }
}

// Backward through time (kernels/rnn_backward.cu has the math). The forward
// is recomputed without a recurrence, its states being the outputs: h_prev
// for every step by a kernel, then xproj = x·K and hproj = h_prev·R as one
// GEMM each over B·T rows (reset-before: the z and r blocks, reset_h, then
// reset_h·Rh). Then max(lengths) steps backwards, each one gate kernel and
// one GEMM dh_next += dg_step·Rᵀ (reset-before: a kernel, dc·Rhᵀ, a kernel,
// [dz, dr]·[Rz, Rr]ᵀ). The weight gradients are one GEMM each over all steps
// at the end, from the gate gradients kept for every step.
void rnn_backward(CudaContext& ctx, const RnnBackwardArgs& r) {
  const int64_t B = r.dims.batch, T = r.dims.steps, I = r.dims.input_dim, H = r.dims.units;
  const int64_t GH = int64_t(rnn_gates(r.cell)) * H;
  const bool reset_before = r.cell == RnnCell::kGruResetBefore;
  const bool reset_after = r.cell == RnnCell::kGruResetAfter;
  const cudaStream_t stream = ctx.stream();
  const int32_t max_len = r.lengths ? *std::max_element(r.lengths, r.lengths + B) : r.dims.steps;

  const auto bytes = [](int64_t n) { return size_t(n) * sizeof(float); };
  WorkspaceLayout layout;
  const size_t xproj_at = layout.add(bytes(B * T * GH));
  const size_t hproj_at = layout.add(bytes(B * T * GH));
  const size_t h_prev_at = layout.add(bytes(B * T * H));
  const size_t reset_at = layout.add(reset_before ? bytes(B * T * H) : 0);
  const size_t dgx_at = layout.add(bytes(B * T * GH));
  const size_t dgh_at = layout.add(reset_after ? bytes(B * T * GH) : 0);
  const size_t dh_at = layout.add(bytes(B * H));
  const size_t dh_next_at = layout.add(bytes(B * H));
  const size_t dg_step_at = layout.add(bytes(B * GH));
  const size_t d_reset_at = layout.add(reset_before ? bytes(B * H) : 0);
  const size_t lengths_at = layout.add(size_t(B) * sizeof(int32_t));
  char* ws = ctx.workspace().reserve(layout.total());
  const auto at = [ws](size_t offset) { return reinterpret_cast<float*>(ws + offset); };

  float* d_reset_h = reset_before ? at(d_reset_at) : nullptr;
  RnnBackwardParams p{};
  p.batch = r.dims.batch;
  p.steps = r.dims.steps;
  p.units = r.dims.units;
  p.reverse = r.reverse;
  p.cell = step_cell(r.cell);
  p.lengths = ctx.stage_lengths(r.lengths, size_t(B), reinterpret_cast<int32_t*>(ws + lengths_at));
  p.h0 = r.h0;
  p.outputs = r.outputs;
  p.xproj = at(xproj_at);
  p.bias_x = r.bias;
  p.bias_h = (r.bias && reset_after) ? r.bias + GH : nullptr;
  p.hproj = at(hproj_at);
  p.h_prev = at(h_prev_at);
  p.reset_h = reset_before ? at(reset_at) : nullptr;
  p.d_outputs = r.d_outputs;
  p.dg_step = at(dg_step_at);
  p.d_reset_h = d_reset_h;
  p.dgx = at(dgx_at);
  p.dgh = reset_after ? at(dgh_at) : nullptr;
  float* dh = at(dh_at);
  float* dh_next = at(dh_next_at);
  float* hproj = at(hproj_at);
  const float* R = r.recurrent_kernel;  // [H, G·H]

  // The recomputed forward, all steps at once.
  launch_rnn_prev_states(p, stream);
  ctx.gemm(B * T, GH, I, r.x, I, r.kernel, GH, at(xproj_at), GH);
  if (reset_before) {
    ctx.gemm(B * T, 2 * H, H, p.h_prev, H, R, GH, hproj, GH);
    launch_gru_reset_states(p, stream);
    ctx.gemm(B * T, H, H, p.reset_h, H, R + 2 * H, GH, hproj + 2 * H, GH);
  } else {
    ctx.gemm(B * T, GH, H, p.h_prev, H, R, GH, hproj, GH);
  }

  // Steps a row never reached keep zero gate gradients.
  check(cudaMemsetAsync(p.dgx, 0, bytes(B * T * GH), stream), "cudaMemsetAsync (dgx)");
  if (p.dgh) check(cudaMemsetAsync(p.dgh, 0, bytes(B * T * GH), stream), "cudaMemsetAsync (dgh)");
  if (r.d_h_last)
    check(cudaMemcpyAsync(dh, r.d_h_last, bytes(B * H), cudaMemcpyDeviceToDevice, stream),
          "cudaMemcpyAsync (d_h_last)");
  else
    check(cudaMemsetAsync(dh, 0, bytes(B * H), stream), "cudaMemsetAsync (dh = 0)");

  for (int32_t step = max_len - 1; step >= 0; --step) {
    p.step = step;
    p.dh = dh;
    p.dh_next = dh_next;
    launch_rnn_backward_step(p, stream);
    if (reset_before) {
      ctx.gemm(false, true, B, H, H, p.dg_step + 2 * H, GH, R + 2 * H, GH, 0.0f, d_reset_h, H);
      launch_gru_backward_reset_half(p, stream);
      ctx.gemm(false, true, B, H, 2 * H, p.dg_step, GH, R, GH, 1.0f, dh_next, H);
    } else {
      ctx.gemm(false, true, B, H, GH, p.dg_step, GH, R, GH, 1.0f, dh_next, H);
    }
    std::swap(dh, dh_next);
  }
  if (r.d_h0)
    check(cudaMemcpyAsync(r.d_h0, dh, bytes(B * H), cudaMemcpyDeviceToDevice, stream),
          "cudaMemcpyAsync (d_h0)");

  ctx.gemm(false, true, B * T, I, GH, p.dgx, GH, r.kernel, GH, 0.0f, r.d_x, I);
  ctx.gemm(true, false, I, GH, B * T, r.x, I, p.dgx, GH, 0.0f, r.d_kernel, GH);
  if (reset_before) {
    ctx.gemm(true, false, H, 2 * H, B * T, p.h_prev, H, p.dgx, GH, 0.0f, r.d_recurrent_kernel,
             GH);
    ctx.gemm(true, false, H, H, B * T, p.reset_h, H, p.dgx + 2 * H, GH, 0.0f,
             r.d_recurrent_kernel + 2 * H, GH);
  } else {
    ctx.gemm(true, false, H, GH, B * T, p.h_prev, H, reset_after ? p.dgh : p.dgx, GH, 0.0f,
             r.d_recurrent_kernel, GH);
  }
  if (r.d_bias) {
    launch_column_sums(p.dgx, B * T, int32_t(GH), GH, r.d_bias, stream);
    if (reset_after) launch_column_sums(p.dgh, B * T, int32_t(GH), GH, r.d_bias + GH, stream);
  }
}

}  // namespace seqattn::cuda
