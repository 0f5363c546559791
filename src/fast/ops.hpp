// The fast CPU backend's ops: SIMD kernels (kernels.hpp) and OpenBLAS
// products (gemm.hpp), threaded by parallel.hpp. Same contract as the
// reference (src/cpu/reference.hpp): arguments were validated at the C
// boundary; results agree with the reference within the bounds that
// docs/math.md states for each math mode.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "core/backend.hpp"

namespace seqattn::fast {

// A block of attention work: decoder rows [t0, t1) of batch entry b, whose
// encoder length is le.
struct AttentionItem {
  int64_t b, t0, t1, le;
};

// A block of the attention backward's fused work: encoder positions [i0, i1)
// of batch entry b; its share of d_q goes to partial buffer `partial`, or
// straight into d_q when the entry is one block (partial < 0).
struct AttentionBackwardItem {
  int64_t b, i0, i1, partial;
};

// Grow-only scratch buffers, one per slot, kept between calls so that a
// steady stream of calls (a decoding loop) allocates nothing after the first.
class Workspace {
 public:
  // kGrad0… kGrad5: the backward passes' scratch; each pass's source says
  // what it keeps in which.
  enum Slot {
    kKeys, kQueries, kEnergies, kState, kGates, kPacked,
    kGrad0, kGrad1, kGrad2, kGrad3, kGrad4, kGrad5,
    kSlots
  };
  float* get(Slot slot, size_t floats) {
    Buffer& b = buffers_[slot];
    if (floats > b.size) {
      b.data.reset(new float[floats]);
      b.size = floats;
    }
    return b.data.get();
  }
  // The attention's plan, kept for its capacity: (item, first key) pairs
  // when a row is split over encoder positions.
  std::vector<AttentionItem> items;
  std::vector<std::pair<size_t, int64_t>> parts;
  std::vector<AttentionBackwardItem> backward_items;

 private:
  struct Buffer {
    std::unique_ptr<float[]> data;
    size_t size = 0;
  };
  std::array<Buffer, kSlots> buffers_;
};

void additive_attention(const AttentionArgs& args, bool fast_math, Workspace& ws);
void project_keys(const ProjectKeysArgs& args);
void additive_attention_projected(const ProjectedAttentionArgs& args, bool fast_math,
                                  Workspace& ws);
void attention_pooling(const PoolingArgs& args);
void rnn(const RnnArgs& args, Workspace& ws);
void dense(const DenseArgs& args);

// Backward passes (seqattn.h, "backward passes"); `fast_math` as the forward's.
void additive_attention_backward(const AttentionBackwardArgs& args, bool fast_math,
                                 Workspace& ws);
void additive_attention_projected_backward(const ProjectedAttentionBackwardArgs& args,
                                           bool fast_math, Workspace& ws);
void attention_pooling_backward(const PoolingBackwardArgs& args, Workspace& ws);
void rnn_backward(const RnnBackwardArgs& args, Workspace& ws);
void dense_backward(const DenseBackwardArgs& args, Workspace& ws);

}  // namespace seqattn::fast
