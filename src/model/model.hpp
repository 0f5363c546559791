// The attention seq2seq model of docs/model-format.md, run on any Backend.
//
//   src tokens [B, Ts] ─► embedding (or one-hot) ─► encoder GRU (+ REVERSE GRU) ─► h [B, Ts, He]
//   tgt tokens [B, Td] ─► embedding (or one-hot) ─► decoder GRU, h0 = encoder state ─► s [B, Td, Hd]
//   context = additive_attention(h, s, enc_lengths = src lengths)          [B, Td, He]
//   probs   = softmax(concat[s, context] · output.kernel + output.bias)     [B, Td, Vt]
//
// decoder.kind "bahdanau" (the PyTorch tutorial's AttnDecoderRNN) instead
// attends from the previous state, one step at a time (s_{-1} = encoder state):
//   context_t = additive_attention(h, s_{t-1})                              [B, He]
//   s_t       = GRU(concat[embed(y_{t-1}), context_t], s_{t-1})             [B, Hd]
//   probs_t   = softmax(s_t · output.kernel + output.bias)                  [B, Vt]
// The keys h · W are projected once per source (project_keys) and each step
// is additive_attention_projected, gather_rows, concat_rows and a one-step rnn.
//
// Source rows (config source_padding / source_mask): callers give each row's
// valid tokens first, with its length. Masked, the encoder skips the steps
// past a row's length and attention ignores them (the padding side cannot
// change the result). Unmasked, the model builds rows of exactly
// max_source_len tokens, the valid ones on the configured side and
// source_pad on the other, and runs over all of them; the attention weights
// it returns are those of the caller's tokens (the weight on pads is left out).
//
// Every step is a Backend op (rnn, additive_attention, dense, gather_rows,
// concat_rows, argmax_rows), so the same code runs on the CPU reference and on
// CUDA, and the weights live in the backend's memory for the model's lifetime.
//
// One-hot inputs (embedding_dim 0) never build a [B, T, V] tensor from the
// host: the token id selects a row of a "table" on the device, and the GRU
// multiplies by a "kernel". When V <= 3H the table is the identity [V, V] and
// the kernel the GRU's own; otherwise the table is the GRU kernel [V, 3H]
// (its rows are x·kernel already) and the kernel the identity [3H, 3H]. Either
// way the extra memory is min(V, 3H)² floats and the result is exact: a
// product with an identity adds one non-zero term.
//
// The caller (capi/model.cpp) validates every argument; inside, shapes and
// token ids are trusted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/backend.hpp"
#include "model/block_cache.hpp"
#include "model/config.hpp"
#include "model/safetensors.hpp"

namespace seqattn::model {

class Model {
 public:
  // Parses the config, checks every required tensor's dtype and shape, and
  // uploads the weights to `backend`, which must outlive the Model.
  Model(Backend& backend, const st::File& file);

  const Config& config() const { return config_; }
  const Backend& backend() const { return *backend_; }

  // Teacher-forced scoring. All pointers are host memory. Rows t >= tgt_lengths[b]
  // of probs and attention are 0. Lengths nullptr: every step valid.
  void score(int32_t batch, int32_t src_steps,
             const int32_t* src_tokens,   // [B, Ts], each in [0, Vs)
             const int32_t* src_lengths,  // [B] in [0, Ts], or nullptr
             int32_t tgt_steps,
             const int32_t* tgt_tokens,   // [B, Td], each in [0, Vt)
             const int32_t* tgt_lengths,  // [B] in [0, Td], or nullptr
             float* probs,                // [B, Td, Vt]
             float* attention);           // [B, Td, Ts] or nullptr

  // Greedy decoding from `start`: each row stops at `end` (not part of the
  // output) or after max_steps tokens. Host memory. out_tokens past a row's
  // length hold target_pad; attention rows t >= out_lengths[b] are 0.
  void translate(int32_t batch, int32_t src_steps,
                 const int32_t* src_tokens,   // [B, Ts]
                 const int32_t* src_lengths,  // [B] or nullptr
                 int32_t max_steps,
                 int32_t* out_tokens,   // [B, max_steps]
                 int32_t* out_lengths,  // [B]
                 float* attention);     // [B, max_steps, Ts] or nullptr

  // Tokenisation by the config: UTF-8 code points (chars) or ASCII-whitespace
  // separated words, ASCII lower-cased when lowercase_source, unknown → unk.
  std::vector<int32_t> encode_source(const std::string& text) const;
  // Target ids to text, skipping pad, start and end; ids in [0, Vt).
  std::string decode_target(const int32_t* ids, size_t count) const;

 private:
  // How token ids become GRU inputs: x = table[id] ([rows, dim]), then x · kernel.
  struct InputPath {
    const float* table = nullptr;  // [vocab, dim]
    int64_t vocab = 0, dim = 0;
    const float* kernel = nullptr;  // [dim, 3H]
  };
  struct Gru {
    DeviceBuffer kernel, recurrent_kernel, bias;
    InputPath input;
  };
  struct Encoded {
    DeviceBuffer outputs;  // [B, Ts, He]
    DeviceBuffer state;    // [B, He]
  };
  // The source rows the encoder reads (see above), on the device.
  struct Source {
    DeviceBuffer ids;                      // [B, steps]
    int32_t steps = 0;                     // Ts, or max_source_len when unmasked
    const int32_t* lengths = nullptr;      // [B] host, or nullptr: all valid
    std::vector<int32_t> offset, length;   // [B]: where the caller's tokens are in a row
  };
  // The bahdanau decoder's step state, allocated before any loop.
  struct StepBuffers {
    DeviceBuffer keys;     // [B, Ts, A]
    DeviceBuffer x;        // [B, decoder_.input.dim]
    DeviceBuffer context;  // [B, He]
    DeviceBuffer cat;      // [B, decoder_.input.dim + He]
  };

  DeviceBuffer upload(const std::vector<float>& values);
  DeviceBuffer upload_ids(const int32_t* ids, size_t count);
  void load_gru(const st::File& file, const std::string& prefix, int64_t input_dim, int64_t units,
                Gru& gru);
  // Sets gru.input for embedding (table given) or one-hot (table null) inputs.
  void set_input_path(Gru& gru, const DeviceBuffer* embedding, int64_t vocab, int64_t embedding_dim,
                      int64_t units);
  // x is scratch for the gathered inputs; the caller owns it so that a decoding
  // loop allocates nothing per step.
  void run_gru(const Gru& gru, int32_t batch, int32_t steps, int64_t units,
               const int32_t* d_ids,    // [B, T]
               const int32_t* lengths,  // [B] host, or nullptr
               const float* h0,         // [B, H] or nullptr
               bool reverse,
               float* x,        // [B, T, gru.input.dim]
               float* outputs,  // [B, T, H]
               float* h_last);  // [B, H] or nullptr
  Encoded encode(int32_t batch, int32_t src_steps, const int32_t* d_src_ids,
                 const int32_t* src_lengths);
  Source prepare_source(int32_t batch, int32_t src_steps, const int32_t* src_tokens,
                        const int32_t* src_lengths);
  // One attention row of batch row b, [src.steps] -> the caller's [caller_steps].
  static void weights_to_caller(const Source& src, size_t b, const float* in,
                                int32_t caller_steps, float* out);
  StepBuffers step_buffers(int32_t batch, const Source& src, const Encoded& enc);
  // One bahdanau step: context from s_prev, s_cur = GRU([table[ids], context], s_prev).
  void bahdanau_step(int32_t batch, const Source& src, const Encoded& enc, StepBuffers& buf,
                     const int32_t* d_ids /* [B] */, const float* s_prev, float* s_cur,
                     float* weights /* [B, src.steps] or nullptr */);
  void score_bahdanau(int32_t batch, const Source& src, const Encoded& enc, int32_t tgt_steps,
                      const int32_t* tgt_tokens, float* d_probs /* [Td, B, Vt] */,
                      float* d_weights /* [Td, B, src.steps] or nullptr */);

  Backend* backend_;
  BlockCache cache_;  // before every DeviceBuffer member: destroyed after them
  Config config_;
  std::unordered_map<std::string, int32_t> source_index_;

  DeviceBuffer encoder_embedding_, decoder_embedding_;  // [Vs, Es], [Vt, Et] (embedding only)
  std::map<int64_t, DeviceBuffer> identities_;          // [n, n] one-hot tables / kernels
  Gru encoder_forward_, encoder_backward_, decoder_;
  // bahdanau one-hot with Vt > 3Hd: the step kernel [3Hd + He, 3Hd] = [I; context rows]
  // (the table is then the embedding rows of decoder.kernel, see set_input_path).
  DeviceBuffer decoder_step_kernel_;
  DeviceBuffer attention_W_, attention_U_, attention_bias_, attention_v_;
  DeviceBuffer output_kernel_, output_bias_;  // [Hd + He or Hd, Vt], [Vt]
};

}  // namespace seqattn::model
