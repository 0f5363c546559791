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
  int32_t attention_units = 0;        // A
  bool attention_bias = false;
  RnnCell gru = RnnCell::kGruResetAfter;
  Tokenization tokenization = Tokenization::kChars;
  bool lowercase_source = false;
  std::vector<std::string> source_vocab, target_vocab;
  int32_t source_pad = 0, source_unk = 0;
  int32_t target_pad = 0, target_start = 0, target_end = 0;
  int32_t max_source_len = 0, max_target_len = 0;
  std::string name, description;

  int32_t encoder_out_dim() const { return bidirectional ? 2 * encoder_units : encoder_units; }
  int32_t source_vocab_size() const { return int32_t(source_vocab.size()); }
  int32_t target_vocab_size() const { return int32_t(target_vocab.size()); }
};

// Reads and checks __metadata__ (format, format_version, config); throws
// Error(FORMAT) naming the key or config field.
Config parse_config(const st::File& file);

}  // namespace seqattn::model
