// Dense on a CUDA handle (docs/math.md#simplernn-and-dense): cuBLAS writes x·W
// into y, then one epilogue pass of kernels/dense.cu adds the bias and applies
// the activation (a row softmax kernel for SOFTMAX); with no bias and no
// activation there is no second pass.
#include "cuda/ops.hpp"
#include "kernels/dense.cuh"

namespace seqattn::cuda {

void dense(CudaContext& ctx, const DenseArgs& d) {
  ctx.gemm(d.rows, d.out_dim, d.in_dim, d.x, d.in_dim, d.W, d.out_dim, d.y, d.out_dim);
  if (d.activation == SEQATTN_ACTIVATION_SOFTMAX)
    launch_softmax_rows(d.y, d.rows, d.out_dim, d.b, ctx.stream());
  else if (d.b || d.activation != SEQATTN_ACTIVATION_NONE)
    launch_bias_activation(d.y, d.rows, d.out_dim, d.b, d.activation, ctx.stream());
}

}  // namespace seqattn::cuda
