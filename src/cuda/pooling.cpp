// Attention pooling on a CUDA handle (docs/math.md#attention-pooling): the
// workspace for the lengths and, for very long rows, the score scratch, then
// one fused kernel (kernels/pooling.cu).
#include <cstddef>
#include <cstdint>

#include "cuda/ops.hpp"
#include "kernels/pooling.cuh"

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

}  // namespace seqattn::cuda
