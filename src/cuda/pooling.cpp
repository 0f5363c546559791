// Attention pooling on a CUDA handle (docs/math.md#attention-pooling): the
// workspace for the lengths and, for very long rows, the score scratch, then
// one fused kernel (kernels/pooling.cu).
#include <cstddef>
#include <cstdint>

#include "cuda/ops.hpp"
#include "kernels/dense_backward.cuh"
#include "kernels/pooling.cuh"
#include "kernels/pooling_backward.cuh"

namespace seqattn::cuda {

void attention_pooling(CudaContext& ctx, const PoolingArgs& a) {
  const int64_t score_floats = pooling_scratch_floats(a.dims.batch, a.dims.steps);
  WorkspaceLayout layout;
  const size_t scores_at = layout.add(size_t(score_floats) * sizeof(float));
  const size_t lengths_at = layout.add(size_t(a.dims.batch) * sizeof(int32_t));
  char* ws = ctx.workspace().reserve(layout.total());

  PoolingParams p{};
  p.batch = a.dims.batch;
  p.steps = a.dims.steps;
  p.features = a.dims.features;
  p.x = a.x;
  p.lengths = ctx.stage_lengths(a.lengths, size_t(a.dims.batch),
                                reinterpret_cast<int32_t*>(ws + lengths_at));
  p.w = a.w;
  p.b = a.b;
  p.context = a.context_out;
  p.weights = a.weights_out;
  p.scores = score_floats > 0 ? reinterpret_cast<float*>(ws + scores_at) : nullptr;
  launch_attention_pooling(p, ctx.stream());
}


// Attention pooling backward: one kernel (kernels/pooling_backward.cu) for
// d_x, the per-row d_w sums and the score gradients dz, then fixed-order
// column sums for d_w = Σ_b d_w_rows and d_b = Σ_b dz.
void attention_pooling_backward(CudaContext& ctx, const PoolingBackwardArgs& a) {
  const int64_t B = a.dims.batch, T = a.dims.steps, F = a.dims.features;
  WorkspaceLayout layout;
  const size_t dw_at = layout.add(size_t(B * F) * sizeof(float));
  const size_t dz_at = layout.add(size_t(B * T) * sizeof(float));
  const size_t da_at = layout.add(size_t(B * T) * sizeof(float));
  const size_t lengths_at = layout.add(size_t(B) * sizeof(int32_t));
  char* ws = ctx.workspace().reserve(layout.total());

  PoolingBackwardParams p{};
  p.batch = a.dims.batch;
  p.steps = a.dims.steps;
  p.features = a.dims.features;
  p.x = a.x;
  p.lengths = ctx.stage_lengths(a.lengths, size_t(B), reinterpret_cast<int32_t*>(ws + lengths_at));
  p.w = a.w;
  p.b = a.b;
  p.weights = a.weights;
  p.d_context = a.d_context;
  p.d_weights = a.d_weights;
  p.d_x = a.d_x;
  p.d_w_rows = reinterpret_cast<float*>(ws + dw_at);
  p.dz = reinterpret_cast<float*>(ws + dz_at);
  p.da = reinterpret_cast<float*>(ws + da_at);
  launch_attention_pooling_backward(p, ctx.stream());
  launch_column_sums(p.d_w_rows, B, a.dims.features, F, a.d_w, ctx.stream());
  if (a.d_b) launch_column_sums(p.dz, B, a.dims.steps, T, a.d_b, ctx.stream());
}

}  // namespace seqattn::cuda
