// Model configuration: reads and checks the safetensors __metadata__ of
// docs/model-format.md (format, format_version, config), naming the key or
// config field in every error.
#include "model/config.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "model/config_fields.hpp"

namespace seqattn::model {

namespace fields {

using nlohmann::json;

void format_error(const std::string& message) { fail(SEQATTN_ERROR_FORMAT, message); }

// Config fields are addressed by their dotted path ("encoder.units") in messages.
const json& field(const json& object, const char* key, const std::string& path) {
  const auto it = object.find(key);
  if (it == object.end()) format_error("model config lacks the field \"" + path + "\"");
  return *it;
}

const json& get_object(const json& object, const char* key, const std::string& path) {
  const json& v = field(object, key, path);
  if (!v.is_object()) format_error("model config field \"" + path + "\" is not a JSON object");
  return v;
}

int32_t get_int(const json& object, const char* key, const std::string& path, int64_t lo,
                int64_t hi) {
  const json& v = field(object, key, path);
  if (!v.is_number_integer()) format_error("model config field \"" + path + "\" is not an integer");
  if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(hi))
    format_error("model config field \"" + path + "\" = " + v.dump() + " exceeds " +
                 std::to_string(hi));
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi)
    format_error("model config field \"" + path + "\" = " + std::to_string(x) + " is outside [" +
                 std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return int32_t(x);
}

bool get_bool(const json& object, const char* key, const std::string& path) {
  const json& v = field(object, key, path);
  if (!v.is_boolean()) format_error("model config field \"" + path + "\" is not true or false");
  return v.get<bool>();
}

std::string get_string(const json& object, const char* key, const std::string& path) {
  const json& v = field(object, key, path);
  if (!v.is_string()) format_error("model config field \"" + path + "\" is not a string");
  return v.get<std::string>();
}

std::string metadata_value(const st::File& file, const char* key) {
  const auto it = file.metadata().find(key);
  if (it == file.metadata().end())
    format_error(std::string("model file lacks the __metadata__ key \"") + key + "\"");
  return it->second;
}

json parse_config_text(const st::File& file) {
  constexpr int kMaxConfigDepth = 16;
  const std::string text = metadata_value(file, "config");
  const auto* first = reinterpret_cast<const uint8_t*>(text.data());
  json j = st::parse_untrusted_json(first, first + text.size(), kMaxConfigDepth,
                                    "model file __metadata__ \"config\"");
  if (!j.is_object()) format_error("model file __metadata__ \"config\" is not a JSON object");
  return j;
}

}  // namespace fields

namespace {

using nlohmann::json;
using namespace fields;

std::vector<std::string> get_vocab(const json& object, const char* key) {
  const json& v = field(object, key, key);
  if (!v.is_array() || v.empty())
    format_error(std::string("model config field \"") + key + "\" is not a non-empty array");
  if (v.size() > kMaxVocab)
    format_error(std::string("model config field \"") + key + "\" has " + std::to_string(v.size()) +
                 " entries, more than " + std::to_string(kMaxVocab));
  std::vector<std::string> vocab;
  vocab.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string())
      format_error(std::string("model config field \"") + key + "[" + std::to_string(i) +
                   "]\" is not a string");
    vocab.push_back(v[i].get<std::string>());
  }
  return vocab;
}

// A vocabulary (`key`, a non-empty array of strings) or, when the file has
// none, its size alone (`size_key`); both present must agree. Sets `count`.
std::vector<std::string> get_vocab_or_size(const json& object, const char* key,
                                           const char* size_key, int32_t& count) {
  const bool has_size = object.contains(size_key);
  if (!object.contains(key)) {
    if (!has_size)
      format_error(std::string("model config lacks both \"") + key + "\" and \"" + size_key +
                   "\" (a model without a vocabulary gives its size)");
    count = get_int(object, size_key, size_key, 1, int64_t(kMaxVocab));
    return {};
  }
  std::vector<std::string> vocab = get_vocab(object, key);
  count = int32_t(vocab.size());
  if (has_size) {
    const int32_t n = get_int(object, size_key, size_key, 1, int64_t(kMaxVocab));
    if (n != count)
      format_error(std::string("model config field \"") + size_key + "\" = " + std::to_string(n) +
                   " but \"" + key + "\" has " + std::to_string(count) + " entries");
  }
  return vocab;
}


}  // namespace

Config parse_config(const st::File& file) {
  if (const std::string f = metadata_value(file, "format"); f != "seqattn.seq2seq")
    format_error("model file __metadata__ \"format\" = \"" + f +
                 "\", expected \"seqattn.seq2seq\" (or \"seqattn.sequence_head\")");
  if (const std::string v = metadata_value(file, "format_version"); v != "1")
    format_error("model file __metadata__ \"format_version\" = \"" + v +
                 "\" is not a version this library reads (1)");
  const json j = parse_config_text(file);

  Config c;
  const json& enc = get_object(j, "encoder", "encoder");
  c.encoder_units = get_int(enc, "units", "encoder.units", 1, kMaxDim);
  c.bidirectional = get_bool(enc, "bidirectional", "encoder.bidirectional");
  c.encoder_embedding_dim = get_int(enc, "embedding_dim", "encoder.embedding_dim", 0, kMaxDim);
  const json& dec = get_object(j, "decoder", "decoder");
  c.decoder_units = get_int(dec, "units", "decoder.units", 1, kMaxDim);
  c.decoder_embedding_dim = get_int(dec, "embedding_dim", "decoder.embedding_dim", 0, kMaxDim);
  if (dec.contains("kind")) {
    const std::string kind = get_string(dec, "kind", "decoder.kind");
    if (kind == "attention_keras")
      c.decoder_kind = DecoderKind::kAttentionKeras;
    else if (kind == "bahdanau")
      c.decoder_kind = DecoderKind::kBahdanau;
    else
      format_error("model config field \"decoder.kind\" = \"" + kind +
                   "\" is neither \"attention_keras\" nor \"bahdanau\"");
  }
  const json& att = get_object(j, "attention", "attention");
  c.attention_units = get_int(att, "units", "attention.units", 1, kMaxDim);
  c.attention_bias = get_bool(att, "bias", "attention.bias");

  const std::string variant = get_string(j, "gru_variant", "gru_variant");
  if (variant == "reset_after")
    c.gru = RnnCell::kGruResetAfter;
  else if (variant == "reset_before")
    c.gru = RnnCell::kGruResetBefore;
  else
    format_error("model config field \"gru_variant\" = \"" + variant +
                 "\" is neither \"reset_after\" nor \"reset_before\"");
  c.source_vocab = get_vocab_or_size(j, "source_vocab", "source_vocab_size", c.source_vocab_count);
  c.target_vocab = get_vocab_or_size(j, "target_vocab", "target_vocab_size", c.target_vocab_count);
  // Tokenisation only matters to text, so a model without vocabularies may omit it.
  const bool any_vocab = c.has_source_vocab() || c.has_target_vocab();
  if (any_vocab || j.contains("tokenization")) {
    const std::string tok = get_string(j, "tokenization", "tokenization");
    if (tok == "chars")
      c.tokenization = Tokenization::kChars;
    else if (tok == "words")
      c.tokenization = Tokenization::kWords;
    else
      format_error("model config field \"tokenization\" = \"" + tok +
                   "\" is neither \"chars\" nor \"words\"");
  }
  if (any_vocab || j.contains("lowercase_source"))
    c.lowercase_source = get_bool(j, "lowercase_source", "lowercase_source");

  const json& sp = get_object(j, "special_tokens", "special_tokens");
  const int64_t vs = c.source_vocab_size() - 1, vt = c.target_vocab_size() - 1;
  c.source_pad = get_int(sp, "source_pad", "special_tokens.source_pad", 0, vs);
  // unk is what text maps an unknown token to: no text, no unk needed.
  if (c.has_source_vocab() || sp.contains("source_unk"))
    c.source_unk = get_int(sp, "source_unk", "special_tokens.source_unk", 0, vs);
  c.target_pad = get_int(sp, "target_pad", "special_tokens.target_pad", 0, vt);
  c.target_start = get_int(sp, "target_start", "special_tokens.target_start", 0, vt);
  c.target_end = get_int(sp, "target_end", "special_tokens.target_end", 0, vt);

  if (j.contains("source_padding")) {
    const std::string side = get_string(j, "source_padding", "source_padding");
    if (side == "post")
      c.source_padding = SourcePadding::kPost;
    else if (side == "pre")
      c.source_padding = SourcePadding::kPre;
    else
      format_error("model config field \"source_padding\" = \"" + side +
                   "\" is neither \"post\" nor \"pre\"");
  }
  if (j.contains("source_mask")) c.source_mask = get_bool(j, "source_mask", "source_mask");
  c.max_source_len = get_int(j, "max_source_len", "max_source_len", 1, kMaxDim);
  c.max_target_len = get_int(j, "max_target_len", "max_target_len", 1, kMaxDecodeSteps);
  // name and description are for people; a file without them still runs.
  if (j.contains("name")) c.name = get_string(j, "name", "name");
  if (j.contains("description")) c.description = get_string(j, "description", "description");

  if (c.decoder_units != c.encoder_out_dim())
    format_error("model config field \"decoder.units\" = " + std::to_string(c.decoder_units) +
                 " must equal the encoder output size " + std::to_string(c.encoder_out_dim()) +
                 " (encoder.units, doubled when bidirectional): the decoder starts from the "
                 "encoder's final state");
  return c;
}

}  // namespace seqattn::model
