// Dense and attention pooling on a CUDA handle. Dense: cuBLAS writes x·W into
// y, then one epilogue pass adds the bias and applies the activation (a row
// softmax kernel for SOFTMAX); with no bias and no activation there is no
// second pass. Pooling: one fused kernel (kernels/pooling.cu).
#include <cstddef>
#include <cstdint>

#include "cuda/kernels.hpp"
#include "cuda/ops.hpp"

namespace seqattn::cuda {

void dense(CudaContext& ctx, const DenseArgs& d) {
  ctx.gemm(d.rows, d.out_dim, d.in_dim, d.x, d.in_dim, d.W, d.out_dim, d.y, d.out_dim);
  if (d.activation == SEQATTN_ACTIVATION_SOFTMAX)
    launch_softmax_rows(d.y, d.rows, d.out_dim, d.b, ctx.stream());
  else if (d.b || d.activation != SEQATTN_ACTIVATION_NONE)
    launch_bias_activation(d.y, d.rows, d.out_dim, d.b, d.activation, ctx.stream());
}

void attention_pooling(CudaContext& ctx, const PoolingArgs& a) {
  const int64_t score_floats = pooling_scratch_floats(a.dims.batch, a.dims.steps);
  WorkspaceLayout layout;
  const size_t scores_at = layout.add(size_t(score_floats) * sizeof(float));
  const size_t lengths_at = layout.add(size_t(a.dims.batch) * sizeof(int32_t));
  char* ws = ctx.workspace().reserve(layout.total(), ctx.stream());

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

}  // namespace seqattn::cuda
