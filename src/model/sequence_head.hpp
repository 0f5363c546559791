// The sequence head of docs/model-format.md (format "seqattn.sequence_head"),
// run on any Backend:
//
//   x [B, T, F] ─► RNN layer 0 ─► ... ─► RNN layer L-1   (SimpleRNN or GRU, all steps) ─► r [B, T, H]
//   pooled  = attention_pooling(r, pooling.w, pooling.b)    Σ_t softmax_t(tanh(r_t·w + b_t)) r_t  [B, H]
//   y       = Dense_{D-1}(... Dense_0(pooled))                                                    [B, N]
//
// The second seed's Fibonacci forecaster is the case L = 1 (SimpleRNN, 2
// units), D = 1 (Dense(1, tanh)). Every step is a Backend op (rnn,
// attention_pooling, dense), the weights are uploaded once, and the buffers of
// a predict call are kept for the next: after the first call at a batch size,
// a call of that size or smaller allocates nothing (tests/model/
// test_model_allocations.cpp counts it).
//
// The caller (capi/model.cpp) validates every argument; inside, shapes are trusted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/backend.hpp"
#include "model/block_cache.hpp"
#include "model/safetensors.hpp"

namespace seqattn::model {

// The __metadata__ "format" of a sequence-head file.
inline constexpr const char* kSequenceHeadFormat = "seqattn.sequence_head";

struct HeadConfig {
  struct Rnn {
    RnnCell cell = RnnCell::kSimple;  // kSimple (tanh) or a GRU variant
    int32_t units = 0;                // H
  };
  struct Dense {
    int32_t units = 0;  // N
    seqattn_activation activation = SEQATTN_ACTIVATION_NONE;
  };
  int32_t input_features = 0;  // F
  int32_t steps = 0;           // T: pooling.b has one entry per step
  std::vector<Rnn> rnn;        // at least one
  std::vector<Dense> dense;    // may be empty: then y = pooled
  std::string name, description;

  int32_t pooled_dim() const { return rnn.back().units; }
  int32_t output_dim() const { return dense.empty() ? pooled_dim() : dense.back().units; }
};

// The most layers of each kind a file may declare (a bound on a hostile
// config; real heads have a few).
inline constexpr size_t kMaxHeadLayers = 64;

// Reads and checks __metadata__ (format, format_version, config); throws
// Error(FORMAT) naming the key or config field ("rnn[1].units").
HeadConfig parse_head_config(const st::File& file);

class SequenceHead {
 public:
  // Parses the config, checks every tensor's dtype and shape, and uploads the
  // weights to `backend`, which must outlive the SequenceHead.
  SequenceHead(Backend& backend, const st::File& file);

  const HeadConfig& config() const { return config_; }

  // y = the head applied to x. Host memory on every backend; x has the
  // config's steps and features. The outputs are written only once the work
  // succeeded.
  void predict(int32_t batch,
               const float* x,                // [B, T, F]
               float* y,                      // [B, N]
               float* pooling_weights);       // [B, T] or nullptr

 private:
  struct Layer {
    DeviceBuffer kernel, recurrent_kernel, bias;
  };
  DeviceBuffer upload(const std::vector<float>& values);
  // The per-call buffers, grown (never shrunk) to hold `batch` rows.
  void reserve(int32_t batch);

  Backend* backend_;
  BlockCache cache_;  // before every DeviceBuffer member: destroyed after them
  HeadConfig config_;
  std::vector<Layer> rnn_;
  DeviceBuffer pooling_w_, pooling_b_;  // [H], [T]
  std::vector<Layer> dense_;            // kernel [in, N], bias [N]

  int32_t capacity_ = 0;           // rows the buffers below hold
  DeviceBuffer x_;                 // [B, T, F]
  DeviceBuffer sequence_[2];       // [B, T, max H]: RNN layers alternate
  DeviceBuffer weights_;           // [B, T]
  DeviceBuffer pooled_;            // [B, H]
  DeviceBuffer dense_out_[2];      // [B, max N]: Dense layers alternate
  std::vector<float> host_y_, host_weights_;  // staging, so a failure writes nothing
};

}  // namespace seqattn::model
