// The interface every device backend implements. The C layer (capi/) validates
// all arguments before calling in, so a backend may assume: pointers that must
// be non-NULL are, every dimension is >= 1, every tensor's byte size fits in
// int64, lengths arrays (host memory) hold values in range. Tensor pointers are
// in the backend's memory space (host for CPU, device for CUDA).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "seqattn/seqattn.h"

namespace seqattn {

struct AttentionArgs {
  seqattn_attention_dims dims;
  const float* encoder_out;    // [B, Te, He]
  const float* decoder_out;    // [B, Td, Hd]
  const int32_t* enc_lengths;  // [B] host, or nullptr (all Te valid)
  const int32_t* dec_lengths;  // [B] host, or nullptr (all Td valid)
  const float* W;              // [He, A]
  const float* U;              // [Hd, A]
  const float* bias;           // [A] or nullptr
  const float* v;              // [A]
  float* context_out;          // [B, Td, He]
  float* weights_out;          // [B, Td, Te] or nullptr
};

struct ProjectKeysArgs {
  seqattn_attention_dims dims;  // uses B, Te, He, A
  const float* encoder_out;     // [B, Te, He]
  const float* W;               // [He, A]
  const float* bias;            // [A] or nullptr
  float* keys_out;              // [B, Te, A]
};

struct ProjectedAttentionArgs {
  seqattn_attention_dims dims;
  const float* encoder_out;    // [B, Te, He]
  const float* keys;           // [B, Te, A]
  const float* decoder_out;    // [B, Td, Hd]
  const int32_t* enc_lengths;  // [B] host, or nullptr
  const int32_t* dec_lengths;  // [B] host, or nullptr
  const float* U;              // [Hd, A]
  const float* v;              // [A]
  float* context_out;          // [B, Td, He]
  float* weights_out;          // [B, Td, Te] or nullptr
};

struct PoolingArgs {
  seqattn_pooling_dims dims;
  const float* x;          // [B, T, F]
  const int32_t* lengths;  // [B] host, or nullptr
  const float* w;          // [F]
  const float* b;          // [T] or nullptr
  float* context_out;      // [B, F]
  float* weights_out;      // [B, T] or nullptr
};

enum class RnnCell { kGruResetAfter, kGruResetBefore, kSimple };

// Gate count: 3 for the GRU cells (column blocks z, r, h), 1 for SimpleRNN.
inline int rnn_gates(RnnCell cell) { return cell == RnnCell::kSimple ? 1 : 3; }

struct RnnArgs {
  seqattn_rnn_dims dims;
  RnnCell cell;
  bool reverse;
  const float* x;                 // [B, T, I]
  const int32_t* lengths;         // [B] host, or nullptr
  const float* h0;                // [B, H] or nullptr (zeros)
  const float* kernel;            // [I, G*H]
  const float* recurrent_kernel;  // [H, G*H]
  const float* bias;              // [2, 3H] (reset-after), [G*H] otherwise, or nullptr
  float* outputs;                 // [B, T, H] or nullptr
  float* h_last;                  // [B, H] or nullptr
};

struct DenseArgs {
  int64_t rows;
  int32_t in_dim, out_dim;
  const float* x;  // [rows, in]
  const float* W;  // [in, out]
  const float* b;  // [out] or nullptr
  seqattn_activation activation;
  float* y;  // [rows, out]
};


// Backward passes (seqattn.h, "backward passes"): gradients are written, never
// accumulated; a gradient pointer documented "or nullptr" is skipped when null.
struct AttentionBackwardArgs {
  seqattn_attention_dims dims;
  const float* encoder_out;    // [B, Te, He]
  const float* decoder_out;    // [B, Td, Hd]
  const int32_t* enc_lengths;  // [B] host, or nullptr
  const int32_t* dec_lengths;  // [B] host, or nullptr
  const float* W;              // [He, A]
  const float* U;              // [Hd, A]
  const float* bias;           // [A] or nullptr
  const float* v;              // [A]
  const float* weights;        // [B, Td, Te]: the forward's
  const float* d_context;      // [B, Td, He]
  const float* d_weights;      // [B, Td, Te] or nullptr
  float* d_encoder_out;        // [B, Te, He]: as values and as keys
  float* d_decoder_out;        // [B, Td, Hd]
  float* d_W;                  // [He, A]
  float* d_U;                  // [Hd, A]
  float* d_bias;               // [A] or nullptr
  float* d_v;                  // [A]
};

struct ProjectedAttentionBackwardArgs {
  seqattn_attention_dims dims;
  const float* encoder_out;    // [B, Te, He]
  const float* keys;           // [B, Te, A]
  const float* decoder_out;    // [B, Td, Hd]
  const int32_t* enc_lengths;  // [B] host, or nullptr
  const int32_t* dec_lengths;  // [B] host, or nullptr
  const float* U;              // [Hd, A]
  const float* v;              // [A]
  const float* weights;        // [B, Td, Te]
  const float* d_context;      // [B, Td, He]
  const float* d_weights;      // [B, Td, Te] or nullptr
  float* d_encoder_out;        // [B, Te, He]: as values only
  float* d_keys;               // [B, Te, A]
  float* d_decoder_out;        // [B, Td, Hd]
  float* d_U;                  // [Hd, A]
  float* d_v;                  // [A]
};

struct PoolingBackwardArgs {
  seqattn_pooling_dims dims;
  const float* x;          // [B, T, F]
  const int32_t* lengths;  // [B] host, or nullptr
  const float* w;          // [F]
  const float* b;          // [T] or nullptr
  const float* weights;    // [B, T]: the forward's
  const float* d_context;  // [B, F]
  const float* d_weights;  // [B, T] or nullptr
  float* d_x;              // [B, T, F]
  float* d_w;              // [F]
  float* d_b;              // [T] or nullptr
};

struct RnnBackwardArgs {
  seqattn_rnn_dims dims;
  RnnCell cell;
  bool reverse;
  const float* x;                 // [B, T, I]
  const int32_t* lengths;         // [B] host, or nullptr
  const float* h0;                // [B, H] or nullptr (zeros)
  const float* kernel;            // [I, G*H]
  const float* recurrent_kernel;  // [H, G*H]
  const float* bias;              // as RnnArgs, or nullptr
  const float* outputs;           // [B, T, H]: the forward's
  const float* d_outputs;         // [B, T, H] or nullptr
  const float* d_h_last;          // [B, H] or nullptr
  float* d_x;                     // [B, T, I]
  float* d_h0;                    // [B, H] or nullptr
  float* d_kernel;                // [I, G*H]
  float* d_recurrent_kernel;      // [H, G*H]
  float* d_bias;                  // the bias's shape, or nullptr
};

struct DenseBackwardArgs {
  int64_t rows;
  int32_t in_dim, out_dim;
  const float* x;  // [rows, in]
  const float* W;  // [in, out]
  seqattn_activation activation;
  const float* y;    // [rows, out]: the forward's
  const float* d_y;  // [rows, out]
  float* d_x;        // [rows, in]
  float* d_W;        // [in, out]
  float* d_b;        // [out] or nullptr
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual seqattn_device device() const = 0;

  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr) noexcept = 0;
  virtual void copy_to_device(void* dst, const void* host_src, size_t bytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* src, size_t bytes) = 0;
  virtual void synchronize() = 0;

  virtual void additive_attention(const AttentionArgs& args) = 0;
  virtual void project_keys(const ProjectKeysArgs& args) = 0;
  virtual void additive_attention_projected(const ProjectedAttentionArgs& args) = 0;
  virtual void attention_pooling(const PoolingArgs& args) = 0;
  virtual void rnn(const RnnArgs& args) = 0;
  virtual void dense(const DenseArgs& args) = 0;

  // Backward passes (seqattn.h, "backward passes").
  virtual void additive_attention_backward(const AttentionBackwardArgs& args) = 0;
  virtual void additive_attention_projected_backward(
      const ProjectedAttentionBackwardArgs& args) = 0;
  virtual void attention_pooling_backward(const PoolingBackwardArgs& args) = 0;
  virtual void rnn_backward(const RnnBackwardArgs& args) = 0;
  virtual void dense_backward(const DenseBackwardArgs& args) = 0;

  // Helpers for whole models (src/model/), in the backend's memory so that a
  // decoding loop stays on the device.
  // out[r, :] = table[ids[r], :]; ids [rows] in this backend's memory, each in [0, vocab).
  virtual void gather_rows(const float* table /* [vocab, dim] */, int64_t vocab, int64_t dim,
                           const int32_t* ids /* [rows] */, int64_t rows,
                           float* out /* [rows, dim] */) = 0;
  // ids[r] = the first j maximising x[r, j] (as std::max_element).
  virtual void argmax_rows(const float* x /* [rows, cols] */, int64_t rows, int64_t cols,
                           int32_t* ids /* [rows] */) = 0;
  // out[r, :] = concat(a[r, :], b[r, :])
  virtual void concat_rows(const float* a /* [rows, da] */, int64_t da,
                           const float* b /* [rows, db] */, int64_t db, int64_t rows,
                           float* out /* [rows, da + db] */) = 0;
};

// The fast CPU path (src/fast/) and the double-precision reference (src/cpu/).
std::unique_ptr<Backend> make_fast_cpu_backend(const seqattn_handle_options& options);
std::unique_ptr<Backend> make_reference_backend(const seqattn_handle_options& options);
// What the fast CPU path runs on: SIMD target, BLAS, threads (seqattn_cpu_info).
std::string fast_cpu_info();
// Throws Error(UNSUPPORTED) in a build without CUDA, Error(NO_DEVICE) without a
// usable GPU or driver, Error(INVALID_ARGUMENT) for a bad ordinal.
std::unique_ptr<Backend> make_cuda_backend(const seqattn_handle_options& options);
// 0 without a driver, a GPU, or CUDA in the build; never throws.
int32_t cuda_device_count() noexcept;

}  // namespace seqattn
