// seqattn — a header-only C++17 wrapper over the C API of seqattn.h.
//
// Ownership and errors the C++ way, nothing more: Handle owns a seqattn_handle,
// DeviceBuffer<T> owns memory from seqattn_malloc, and every call that fails
// throws seqattn::Error carrying the seqattn_status and seqattn_last_error().
// The op methods take the same arguments, in the same order and memory space,
// as their C functions (see seqattn.h for shapes and the math).
//
//   seqattn::Handle cpu;                                  // CPU, precise math
//   seqattn::DeviceBuffer<float> ctx(cpu, B * Td * He);   // [B, Td, He]
//   cpu.additive_attention_forward(dims, h, s, nullptr, nullptr, W, U, nullptr, v,
//                                  ctx.data(), nullptr);
#ifndef SEQATTN_SEQATTN_HPP
#define SEQATTN_SEQATTN_HPP

#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include "seqattn/seqattn.h"

namespace seqattn {

// A failed seqattn call: what() is "SEQATTN_ERROR_...: <detail naming the argument>".
class Error : public std::runtime_error {
 public:
  explicit Error(seqattn_status status)
      : std::runtime_error(std::string(seqattn_status_string(status)) + ": " +
                           seqattn_last_error()),
        status_(status) {}
  seqattn_status status() const noexcept { return status_; }

 private:
  seqattn_status status_;
};

// Throws Error unless status is SEQATTN_OK. The message is read at once, while
// it is still this thread's last error.
inline void check(seqattn_status status) {
  if (status != SEQATTN_OK) throw Error(status);
}

inline uint32_t version() noexcept { return seqattn_version(); }

inline seqattn_handle_options default_options(seqattn_device device = SEQATTN_DEVICE_CPU) {
  seqattn_handle_options options;
  seqattn_handle_options_init(&options);
  options.device = device;
  return options;
}

// Owns one seqattn_handle; move-only. Like the C handle, one thread at a time.
class Handle {
 public:
  explicit Handle(seqattn_device device = SEQATTN_DEVICE_CPU) : Handle(default_options(device)) {}
  explicit Handle(const seqattn_handle_options& options) {
    check(seqattn_handle_create(&options, &handle_));
  }
  ~Handle() { seqattn_handle_destroy(handle_); }

  Handle(Handle&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      seqattn_handle_destroy(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  seqattn_handle get() const noexcept { return handle_; }  // nullptr once moved from
  explicit operator bool() const noexcept { return handle_ != nullptr; }

  seqattn_device device() const {
    seqattn_device d = SEQATTN_DEVICE_CPU;
    check(seqattn_handle_get_device(handle_, &d));
    return d;
  }
  void synchronize() const { check(seqattn_synchronize(handle_)); }

  // Tensor pointers below are in this handle's memory space; lengths are host memory.

  void additive_attention_forward(const seqattn_attention_dims& dims,
                                  const float* encoder_out,    // [B, Te, He]
                                  const float* decoder_out,    // [B, Td, Hd]
                                  const int32_t* enc_lengths,  // [B] host, or nullptr
                                  const int32_t* dec_lengths,  // [B] host, or nullptr
                                  const float* W,              // [He, A]
                                  const float* U,              // [Hd, A]
                                  const float* bias,           // [A] or nullptr
                                  const float* v,              // [A]
                                  float* context_out,          // [B, Td, He]
                                  float* weights_out) const {  // [B, Td, Te] or nullptr
    check(seqattn_additive_attention_forward(handle_, &dims, encoder_out, decoder_out, enc_lengths,
                                             dec_lengths, W, U, bias, v, context_out, weights_out));
  }

  void additive_attention_project_keys(const seqattn_attention_dims& dims,
                                       const float* encoder_out,  // [B, Te, He]
                                       const float* W,            // [He, A]
                                       const float* bias,         // [A] or nullptr
                                       float* keys_out) const {   // [B, Te, A]
    check(seqattn_additive_attention_project_keys(handle_, &dims, encoder_out, W, bias, keys_out));
  }

  void additive_attention_forward_projected(const seqattn_attention_dims& dims,
                                            const float* encoder_out,    // [B, Te, He]
                                            const float* keys,           // [B, Te, A]
                                            const float* decoder_out,    // [B, Td, Hd]
                                            const int32_t* enc_lengths,  // [B] host, or nullptr
                                            const int32_t* dec_lengths,  // [B] host, or nullptr
                                            const float* U,              // [Hd, A]
                                            const float* v,              // [A]
                                            float* context_out,          // [B, Td, He]
                                            float* weights_out) const {  // [B, Td, Te] or nullptr
    check(seqattn_additive_attention_forward_projected(handle_, &dims, encoder_out, keys,
                                                       decoder_out, enc_lengths, dec_lengths, U, v,
                                                       context_out, weights_out));
  }

  void attention_pooling_forward(const seqattn_pooling_dims& dims,
                                 const float* x,              // [B, T, F]
                                 const int32_t* lengths,      // [B] host, or nullptr
                                 const float* w,              // [F]
                                 const float* b,              // [T] or nullptr
                                 float* context_out,          // [B, F]
                                 float* weights_out) const {  // [B, T] or nullptr
    check(seqattn_attention_pooling_forward(handle_, &dims, x, lengths, w, b, context_out,
                                            weights_out));
  }

  void gru_forward(const seqattn_rnn_dims& dims, seqattn_gru_variant variant, uint32_t flags,
                   const float* x,                 // [B, T, I]
                   const int32_t* lengths,         // [B] host, or nullptr
                   const float* h0,                // [B, H] or nullptr (zeros)
                   const float* kernel,            // [I, 3H]
                   const float* recurrent_kernel,  // [H, 3H]
                   const float* bias,              // [2, 3H] / [3H] by variant, or nullptr
                   float* outputs,                 // [B, T, H] or nullptr
                   float* h_last) const {          // [B, H] or nullptr
    check(seqattn_gru_forward(handle_, &dims, variant, flags, x, lengths, h0, kernel,
                              recurrent_kernel, bias, outputs, h_last));
  }

  void simple_rnn_forward(const seqattn_rnn_dims& dims, uint32_t flags,
                          const float* x,                 // [B, T, I]
                          const int32_t* lengths,         // [B] host, or nullptr
                          const float* h0,                // [B, H] or nullptr (zeros)
                          const float* kernel,            // [I, H]
                          const float* recurrent_kernel,  // [H, H]
                          const float* bias,              // [H] or nullptr
                          float* outputs,                 // [B, T, H] or nullptr
                          float* h_last) const {          // [B, H] or nullptr
    check(seqattn_simple_rnn_forward(handle_, &dims, flags, x, lengths, h0, kernel,
                                     recurrent_kernel, bias, outputs, h_last));
  }

  void dense_forward(int64_t rows, int32_t in_dim, int32_t out_dim,
                     const float* x,  // [rows, in]
                     const float* W,  // [in, out]
                     const float* b,  // [out] or nullptr
                     seqattn_activation activation,
                     float* y) const {  // [rows, out]
    check(seqattn_dense_forward(handle_, rows, in_dim, out_dim, x, W, b, activation, y));
  }

  // Backward passes (seqattn.h, "backward passes"): the same arguments, in
  // the same order, as the C functions.
  void additive_attention_backward(const seqattn_attention_dims& dims, const float* encoder_out,
                                   const float* decoder_out, const int32_t* enc_lengths,
                                   const int32_t* dec_lengths, const float* W, const float* U,
                                   const float* bias, const float* v, const float* weights,
                                   const float* d_context, const float* d_weights,
                                   float* d_encoder_out, float* d_decoder_out, float* d_W,
                                   float* d_U, float* d_bias, float* d_v) const {
    check(seqattn_additive_attention_backward(handle_, &dims, encoder_out, decoder_out,
                                              enc_lengths, dec_lengths, W, U, bias, v, weights,
                                              d_context, d_weights, d_encoder_out, d_decoder_out,
                                              d_W, d_U, d_bias, d_v));
  }

  void additive_attention_projected_backward(
      const seqattn_attention_dims& dims, const float* encoder_out, const float* keys,
      const float* decoder_out, const int32_t* enc_lengths, const int32_t* dec_lengths,
      const float* U, const float* v, const float* weights, const float* d_context,
      const float* d_weights, float* d_encoder_out, float* d_keys, float* d_decoder_out,
      float* d_U, float* d_v) const {
    check(seqattn_additive_attention_projected_backward(
        handle_, &dims, encoder_out, keys, decoder_out, enc_lengths, dec_lengths, U, v, weights,
        d_context, d_weights, d_encoder_out, d_keys, d_decoder_out, d_U, d_v));
  }

  void attention_pooling_backward(const seqattn_pooling_dims& dims, const float* x,
                                  const int32_t* lengths, const float* w, const float* b,
                                  const float* weights, const float* d_context,
                                  const float* d_weights, float* d_x, float* d_w,
                                  float* d_b) const {
    check(seqattn_attention_pooling_backward(handle_, &dims, x, lengths, w, b, weights,
                                             d_context, d_weights, d_x, d_w, d_b));
  }

  void gru_backward(const seqattn_rnn_dims& dims, seqattn_gru_variant variant, uint32_t flags,
                    const float* x, const int32_t* lengths, const float* h0, const float* kernel,
                    const float* recurrent_kernel, const float* bias, const float* outputs,
                    const float* d_outputs, const float* d_h_last, float* d_x, float* d_h0,
                    float* d_kernel, float* d_recurrent_kernel, float* d_bias) const {
    check(seqattn_gru_backward(handle_, &dims, variant, flags, x, lengths, h0, kernel,
                               recurrent_kernel, bias, outputs, d_outputs, d_h_last, d_x, d_h0,
                               d_kernel, d_recurrent_kernel, d_bias));
  }

  void simple_rnn_backward(const seqattn_rnn_dims& dims, uint32_t flags, const float* x,
                           const int32_t* lengths, const float* h0, const float* kernel,
                           const float* recurrent_kernel, const float* bias,
                           const float* outputs, const float* d_outputs, const float* d_h_last,
                           float* d_x, float* d_h0, float* d_kernel, float* d_recurrent_kernel,
                           float* d_bias) const {
    check(seqattn_simple_rnn_backward(handle_, &dims, flags, x, lengths, h0, kernel,
                                      recurrent_kernel, bias, outputs, d_outputs, d_h_last, d_x,
                                      d_h0, d_kernel, d_recurrent_kernel, d_bias));
  }

  void dense_backward(int64_t rows, int32_t in_dim, int32_t out_dim, const float* x,
                      const float* W, seqattn_activation activation, const float* y,
                      const float* d_y, float* d_x, float* d_W, float* d_b) const {
    check(seqattn_dense_backward(handle_, rows, in_dim, out_dim, x, W, activation, y, d_y, d_x,
                                 d_W, d_b));
  }

 private:
  seqattn_handle handle_ = nullptr;
};

// count elements of T from seqattn_malloc on a handle; move-only. It keeps the
// raw seqattn_handle (unchanged when the Handle object is moved), so it must be
// released before that handle is destroyed: declare the Handle first.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const Handle& handle, size_t count) : handle_(handle.get()), count_(count) {
    if (count > std::numeric_limits<size_t>::max() / sizeof(T))
      throw std::length_error("seqattn::DeviceBuffer: element count overflows size_t bytes");
    void* p = nullptr;
    check(seqattn_malloc(handle_, count * sizeof(T), &p));
    data_ = static_cast<T*>(p);
  }
  ~DeviceBuffer() { reset(); }

  DeviceBuffer(DeviceBuffer&& other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)),
        data_(std::exchange(other.data_, nullptr)),
        count_(std::exchange(other.count_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, nullptr);
      data_ = std::exchange(other.data_, nullptr);
      count_ = std::exchange(other.count_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* data() const noexcept { return data_; }
  size_t size() const noexcept { return count_; }
  size_t bytes() const noexcept { return count_ * sizeof(T); }

  // Copies all size() elements from / to host memory.
  void copy_from_host(const T* host_src) {
    check(seqattn_copy_to_device(handle_, data_, host_src, bytes()));
  }
  void copy_to_host(T* host_dst) const {
    check(seqattn_copy_to_host(handle_, host_dst, data_, bytes()));
  }

  void reset() noexcept {
    // seqattn_free fails only for a pointer this handle does not own, which
    // this class never holds; a destructor must not throw either way.
    if (data_) (void)seqattn_free(handle_, data_);
    handle_ = nullptr;
    data_ = nullptr;
    count_ = 0;
  }

 private:
  seqattn_handle handle_ = nullptr;
  T* data_ = nullptr;
  size_t count_ = 0;
};

}  // namespace seqattn

#endif  // SEQATTN_SEQATTN_HPP
