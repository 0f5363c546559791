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

#include "cuda/check.hpp"
#include "cuda/ops.hpp"
#include "kernels/rnn.cuh"

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

}  // namespace seqattn::cuda
