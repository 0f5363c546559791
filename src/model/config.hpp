// The configuration of a model file (docs/model-format.md): its fields and
// the parser of the safetensors __metadata__ (src/model/config.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/backend.hpp"
#include "model/safetensors.hpp"

namespace seqattn::model {

enum class Tokenization { kChars, kWords };
// decoder.kind (docs/model-format.md): attention over the decoder GRU's outputs
// (attention_keras), or attention from the previous state feeding the GRU's
// input (the PyTorch tutorial's AttnDecoderRNN, Bahdanau et al. 2015).
enum class DecoderKind { kAttentionKeras, kBahdanau };
// source_padding: which side of a source row the pad tokens go.
enum class SourcePadding { kPost, kPre };

// Bounds on config values: every dimension also appears in a tensor's shape, so
// these only keep the arithmetic in int32 before the shapes are compared.
inline constexpr int64_t kMaxDim = int64_t(1) << 24;
inline constexpr size_t kMaxVocab = size_t(1) << 24;
// The most decoding steps a file may ask for (max_target_len, the default of
// translate's max_steps): a file whose end token never wins must not decode
// for minutes per input. The same bound as the CLI's --max-steps.
inline constexpr int64_t kMaxDecodeSteps = 100000;

struct Config {
  int32_t encoder_units = 0;  // H (per direction)
  bool bidirectional = false;
  int32_t encoder_embedding_dim = 0;  // 0: one-hot
  int32_t decoder_units = 0;          // Hd (== He)
  int32_t decoder_embedding_dim = 0;  // 0: one-hot
  DecoderKind decoder_kind = DecoderKind::kAttentionKeras;
  int32_t attention_units = 0;        // A
  bool attention_bias = false;
  RnnCell gru = RnnCell::kGruResetAfter;
  Tokenization tokenization = Tokenization::kChars;
  bool lowercase_source = false;
  SourcePadding source_padding = SourcePadding::kPost;
  // true: pad positions are skipped by the encoder and masked out of attention.
  // false: every source row is padded to max_source_len and all of it is read.
  bool source_mask = true;
  // Either may be empty (the file gives only its size): the model then takes
  // or returns token ids only.
  std::vector<std::string> source_vocab, target_vocab;
  int32_t source_vocab_count = 0, target_vocab_count = 0;  // Vs, Vt
  int32_t source_pad = 0, source_unk = -1;  // unk: -1 without a source vocabulary
  int32_t target_pad = 0, target_start = 0, target_end = 0;
  int32_t max_source_len = 0, max_target_len = 0;
  std::string name, description;

  int32_t encoder_out_dim() const { return bidirectional ? 2 * encoder_units : encoder_units; }
  int32_t source_vocab_size() const { return source_vocab_count; }
  int32_t target_vocab_size() const { return target_vocab_count; }
  bool has_source_vocab() const { return !source_vocab.empty(); }
  bool has_target_vocab() const { return !target_vocab.empty(); }
  // Decoder GRU input width: Et, plus He for the bahdanau kind (the context).
  int32_t decoder_input_extra() const {
    return decoder_kind == DecoderKind::kBahdanau ? encoder_out_dim() : 0;
  }
};

// Reads and checks __metadata__ (format, format_version, config); throws
// Error(FORMAT) naming the key or config field.
Config parse_config(const st::File& file);

}  // namespace seqattn::model
