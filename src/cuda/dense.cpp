// Dense on a CUDA handle (docs/math.md#simplernn-and-dense): cuBLAS writes x·W
// into y, then one epilogue pass of kernels/dense.cu adds the bias and applies
// the activation (a row softmax kernel for SOFTMAX); with no bias and no
// activation there is no second pass.
#include "cuda/ops.hpp"
#include "kernels/dense.cuh"
#include "kernels/dense_backward.cuh"

namespace seqattn::cuda {

void dense(CudaContext& ctx, const DenseArgs& d) {
  ctx.gemm(d.rows, d.out_dim, d.in_dim, d.x, d.in_dim, d.W, d.out_dim, d.y, d.out_dim);
  if (d.activation == SEQATTN_ACTIVATION_SOFTMAX)
    launch_softmax_rows(d.y, d.rows, d.out_dim, d.b, ctx.stream());
  else if (d.b || d.activation != SEQATTN_ACTIVATION_NONE)
    launch_bias_activation(d.y, d.rows, d.out_dim, d.b, d.activation, ctx.stream());
}

// Dense backward: dz = d_y ⊙ act'(y) by kernels/dense_backward.cu into the
// workspace (NONE: d_y itself, no pass), then cuBLAS d_x = dz·Wᵀ and
// d_W = xᵀ·dz and a column sum for d_b.
void dense_backward(CudaContext& ctx, const DenseBackwardArgs& d) {
  const float* dz = d.d_y;
  if (d.activation != SEQATTN_ACTIVATION_NONE) {
    float* buf = reinterpret_cast<float*>(
        ctx.workspace().reserve(size_t(d.rows) * size_t(d.out_dim) * sizeof(float)));
    if (d.activation == SEQATTN_ACTIVATION_SOFTMAX)
      launch_softmax_backward(d.y, d.d_y, buf, d.rows, d.out_dim, ctx.stream());
    else
      launch_activation_backward(d.y, d.d_y, buf, d.rows, d.out_dim, d.activation, ctx.stream());
    dz = buf;
  }
  ctx.gemm(false, true, d.rows, d.in_dim, d.out_dim, dz, d.out_dim, d.W, d.out_dim, 0.0f, d.d_x,
           d.in_dim);
  ctx.gemm(true, false, d.in_dim, d.out_dim, d.rows, d.x, d.in_dim, dz, d.out_dim, 0.0f, d.d_W,
           d.out_dim);
  if (d.d_b) launch_column_sums(dz, d.rows, d.out_dim, d.out_dim, d.d_b, ctx.stream());
}

}  // namespace seqattn::cuda
