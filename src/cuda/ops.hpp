// The host side of each op on a CUDA handle: workspace layout, the cuBLAS
// products, the kernel launches (kernels/). Arguments were validated by the C
// layer (see core/backend.hpp); everything is enqueued on the context's
// stream and nothing waits for the device.
#pragma once

#include "core/backend.hpp"
#include "cuda/context.hpp"

namespace seqattn::cuda {

void additive_attention(CudaContext& ctx, const AttentionArgs& args);
void project_keys(CudaContext& ctx, const ProjectKeysArgs& args);
void additive_attention_projected(CudaContext& ctx, const ProjectedAttentionArgs& args);
void attention_pooling(CudaContext& ctx, const PoolingArgs& args);
void rnn(CudaContext& ctx, const RnnArgs& args);
void dense(CudaContext& ctx, const DenseArgs& args);

void additive_attention_backward(CudaContext& ctx, const AttentionBackwardArgs& args);
void additive_attention_projected_backward(CudaContext& ctx,
                                           const ProjectedAttentionBackwardArgs& args);
void attention_pooling_backward(CudaContext& ctx, const PoolingBackwardArgs& args);
void rnn_backward(CudaContext& ctx, const RnnBackwardArgs& args);
void dense_backward(CudaContext& ctx, const DenseBackwardArgs& args);

}  // namespace seqattn::cuda
