// The extern "C" model functions of seqattn.h: validate every argument (token
// ids against the vocabularies, lengths against the steps, the model against
// its handle), then run src/model/model.cpp (the seq2seq kind) or
// src/model/sequence_head.cpp (the sequence head, seqattn_model_predict, at
// the end). Bad files come back from the reader and the model as
// SEQATTN_ERROR_FORMAT / _IO, prefixed with the file.
#include "model/model.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>

#include "guard.hpp"
#include "handle.hpp"
#include "validate.hpp"
#include "model/safetensors.hpp"
#include "model/sequence_head.hpp"
#include "model/vocab.hpp"
#include "seqattn/seqattn.h"

struct seqattn_model_s {
  // The backend whose memory holds the weights; declared first so that it is
  // released after the model, even when the handle was destroyed before.
  std::shared_ptr<seqattn::Backend> backend;
  // Exactly one of the two, by the file's "format".
  std::unique_ptr<seqattn::model::Model> model;
  std::unique_ptr<seqattn::model::SequenceHead> head;
};

namespace seqattn {
namespace {

// The seq2seq functions refuse a sequence head by name (see also head_for).
void check_seq2seq(seqattn_model m) {
  if (!m->model)
    invalid(
        "model is a sequence head (format \"seqattn.sequence_head\"), which has no "
        "vocabularies or decoder: run it with seqattn_model_predict");
}

const model::Model& model_of(seqattn_model m) {
  check::not_null(m, "model");
  check_seq2seq(m);
  return *m->model;
}

// The model's weights are in `handle`'s memory: any other handle cannot read them.
void check_same_handle(seqattn_handle handle, seqattn_model m) {
  check::not_null(handle, "handle");
  check::not_null(m, "model");
  if (m->backend != handle->backend)
    invalid(
        "model was loaded on a different handle than the one passed (its weights live in "
        "that handle's memory)");
}

model::Model& model_for(seqattn_handle handle, seqattn_model m) {
  check_same_handle(handle, m);
  check_seq2seq(m);
  return *m->model;
}

void check_tokens(const int32_t* tokens, int64_t rows, int64_t steps, const char* name,
                  int32_t vocab, const char* vocab_name) {
  for (int64_t i = 0; i < rows * steps; ++i) {
    if (tokens[i] < 0 || tokens[i] >= vocab)
      invalid(std::string(name) + "[" + std::to_string(i / steps) + ", " +
              std::to_string(i % steps) + "] = " + std::to_string(tokens[i]) + " is outside the " +
              vocab_name + " vocabulary [0, " + std::to_string(vocab) + ")");
  }
}

void check_ids(const int32_t* ids, int32_t count, int32_t vocab) {
  for (int32_t i = 0; i < count; ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      invalid("ids[" + std::to_string(i) + "] = " + std::to_string(ids[i]) +
              " is outside the target vocabulary [0, " + std::to_string(vocab) + ")");
}

void check_token_id(int32_t id, int32_t vocab, const char* vocab_name) {
  if (id < 0 || id >= vocab)
    invalid("id = " + std::to_string(id) + " is outside the " + vocab_name + " vocabulary [0, " +
            std::to_string(vocab) + ")");
}

// Sizes of the model's intermediate tensors for these arguments, refused when
// they overflow rather than wrapped.
void check_run_sizes(const model::Config& c, int64_t batch, int64_t src_steps, int64_t tgt_steps) {
  // bahdanau: the decoder's step input is [embedding or one-hot row, context].
  const int64_t in_dim =
      std::max<int64_t>({c.encoder_embedding_dim, c.source_vocab_size(),
                         std::max<int64_t>({c.decoder_embedding_dim, c.target_vocab_size(),
                                            3 * int64_t(c.decoder_units)}) +
                             c.decoder_input_extra()});
  const int64_t widest = std::max<int64_t>(
      {c.decoder_units + c.encoder_out_dim(), c.attention_units, c.target_vocab_size(), in_dim});
  check::elements("source-side tensors [B, Ts, max(He + Hd, A, Vt, input)]",
                  {batch, src_steps, widest});
  check::elements("target-side tensors [B, Td, max(He + Hd, A, Vt, input)]",
                  {batch, tgt_steps, widest});
  check::elements("attention [B, Td, Ts]", {batch, tgt_steps, src_steps});
  check::elements("token ids [Td + 1, B]", {tgt_steps + 1, batch});
}

// What translate and score check alike: the model belongs to the handle, the
// sizes, and the source side (tokens in the vocabulary, lengths in range).
model::Model& check_run(seqattn_handle handle, seqattn_model model, int32_t batch,
                        int32_t src_steps, const int32_t* src_tokens, const int32_t* src_lengths,
                        int32_t tgt_steps, const char* tgt_steps_name) {
  model::Model& m = model_for(handle, model);
  const model::Config& c = m.config();
  check::positive(batch, "batch");
  check::positive(src_steps, "src_steps");
  check::positive(tgt_steps, tgt_steps_name);
  check_run_sizes(c, batch, src_steps, tgt_steps);
  check::not_null(src_tokens, "src_tokens");
  check::lengths(src_lengths, batch, "src_lengths", src_steps, "src_steps");
  check_tokens(src_tokens, batch, src_steps, "src_tokens", c.source_vocab_size(), "source");
  if (!c.source_mask) {
    // Unmasked, every row is padded to max_source_len (docs/model-format.md).
    check_run_sizes(c, batch, c.max_source_len, tgt_steps);
    for (int32_t b = 0; b < batch; ++b) {
      const int32_t n = src_lengths ? src_lengths[b] : src_steps;
      if (n > c.max_source_len)
        invalid(std::string(src_lengths ? "src_lengths[" + std::to_string(b) + "]" : "src_steps") +
                " = " + std::to_string(n) + " exceeds the model's max_source_len " +
                std::to_string(c.max_source_len) +
                " (source_mask is false: every source is padded to exactly that length)");
    }
  }
  return m;
}

// Text needs the vocabulary: a model file without one takes and gives token ids only.
void require_vocab(const model::Config& c, bool source, const char* what) {
  if (source ? c.has_source_vocab() : c.has_target_vocab()) return;
  fail(SEQATTN_ERROR_UNSUPPORTED,
       std::string(what) + ": the model has no " + (source ? "source" : "target") +
           " vocabulary (its file gives only " +
           (source ? "source_vocab_size" : "target_vocab_size") + "), so it works on token ids only");
}

// The text argument of encode_source and source_spans: present, and short
// enough that every offset and count fits in an int32_t.
std::string text_of(const char* text) {
  check::not_null(text, "text");
  const size_t bytes = std::strlen(text);
  if (bytes > size_t(INT32_MAX))
    invalid("text is " + std::to_string(bytes) + " bytes long, more than INT32_MAX");
  return std::string(text, bytes);
}

// The caller's array of encode_source and source_spans: `capacity` entries
// at `out`. Before the work: a negative capacity, or a positive one without
// an array, is refused.
void check_capacity(int32_t capacity, const void* out, const char* out_name) {
  if (capacity < 0) invalid("capacity = " + std::to_string(capacity) + " is negative");
  if (capacity > 0) check::not_null(out, out_name);
}

// After the work, with n entries to give: a NULL array with capacity 0 asks
// for the count alone (written to *count_out; true); otherwise the array must
// hold all n (refused before anything is written), and the caller fills it.
bool count_only(int32_t n, int32_t capacity, const void* out, int32_t* count_out) {
  if (out == nullptr && capacity == 0) {
    *count_out = n;
    return true;
  }
  if (n > capacity)
    invalid("capacity = " + std::to_string(capacity) + " is less than the " + std::to_string(n) +
            " tokens of text");
  return false;
}

seqattn_model load(seqattn_handle handle, const st::File& file, const std::string& what) {
  try {
    auto m = std::make_unique<seqattn_model_s>();
    m->backend = handle->backend;
    const auto format = file.metadata().find("format");
    if (format != file.metadata().end() && format->second == model::kSequenceHeadFormat)
      m->head = std::make_unique<model::SequenceHead>(*m->backend, file);
    else
      m->model = std::make_unique<model::Model>(*m->backend, file);
    return m.release();
  } catch (const Error& e) {
    if (e.status() != SEQATTN_ERROR_FORMAT) throw;
    throw Error(e.status(), what + ": " + e.what());
  }
}

// The reader's messages name the tensor or field; add which file it was, once.
st::File open_file(const std::string& path) {
  try {
    return st::File::open(path);
  } catch (const Error& e) {
    if (std::string(e.what()).find(path) != std::string::npos) throw;
    throw Error(e.status(), path + ": " + e.what());
  }
}

// ----------------------------------------------------------- sequence head

// The model's head, after the checks model_for makes for the seq2seq kind.
model::SequenceHead& head_for(seqattn_handle handle, seqattn_model m) {
  check_same_handle(handle, m);
  if (!m->head)
    invalid(
        "model is a seq2seq model (format \"seqattn.seq2seq\"), not a sequence head: run it "
        "with seqattn_model_translate or seqattn_model_score");
  return *m->head;
}

seqattn_model_info head_info(const model::HeadConfig& c) {
  seqattn_model_info r{};
  r.struct_size = sizeof(seqattn_model_info);
  r.name = c.name.c_str();
  r.description = c.description.c_str();
  r.kind = SEQATTN_MODEL_SEQUENCE_HEAD;
  r.input_features = c.input_features;
  r.steps = c.steps;
  r.output_dim = c.output_dim();
  r.pooled_dim = c.pooled_dim();
  r.rnn_layers = int32_t(c.rnn.size());
  r.dense_layers = int32_t(c.dense.size());
  return r;
}

}  // namespace
}  // namespace seqattn

using namespace seqattn;

extern "C" {

void seqattn_model_info_init(seqattn_model_info* info) {
  if (!info) return;
  *info = seqattn_model_info{};
  info->struct_size = sizeof(seqattn_model_info);
  info->name = "";
  info->description = "";
}

seqattn_status seqattn_model_load(seqattn_handle handle, const char* path, seqattn_model* out) {
  return guard([&] {
    check::not_null(handle, "handle");
    check::not_null(path, "path");
    check::not_null(out, "out");
    const st::File file = open_file(path);
    *out = load(handle, file, path);
  });
}

seqattn_status seqattn_model_load_from_memory(seqattn_handle handle, const void* data, size_t size,
                                              seqattn_model* out) {
  return guard([&] {
    check::not_null(handle, "handle");
    check::not_null(data, "data");
    check::not_null(out, "out");
    std::string what = "model in memory";
    st::File file = [&] {
      try {
        return st::File::from_bytes(static_cast<const uint8_t*>(data), size);
      } catch (const Error& e) {
        throw Error(e.status(), what + ": " + e.what());
      }
    }();
    *out = load(handle, file, what);
  });
}

void seqattn_model_destroy(seqattn_model model) { delete model; }

seqattn_status seqattn_model_get_info(seqattn_model model, seqattn_model_info* info) {
  return guard([&] {
    check::not_null(model, "model");
    check::not_null(info, "info");
    // A program built against seqattn 0.1.0's header (the struct up to
    // `description`) passes that size and gets the fields it knows.
    constexpr size_t kVersion010 = offsetof(seqattn_model_info, decoder_kind);
    const size_t size = info->struct_size;
    if (size != sizeof(seqattn_model_info) && size != kVersion010)
      invalid("info->struct_size = " + std::to_string(size) + " but expected " +
              std::to_string(sizeof(seqattn_model_info)) + " (or " + std::to_string(kVersion010) +
              ", seqattn 0.1.0's; call seqattn_model_info_init first)");
    if (model->head) {
      seqattn_model_info r = head_info(model->head->config());
      r.struct_size = uint32_t(size);
      std::memcpy(info, &r, size);
      return;
    }
    const model::Config& c = model_of(model).config();
    seqattn_model_info r{};
    r.struct_size = sizeof(seqattn_model_info);
    r.source_vocab_size = c.source_vocab_size();
    r.target_vocab_size = c.target_vocab_size();
    r.encoder_units = c.encoder_units;
    r.encoder_embedding_dim = c.encoder_embedding_dim;
    r.bidirectional = c.bidirectional ? 1 : 0;
    r.encoder_output_dim = c.encoder_out_dim();
    r.decoder_units = c.decoder_units;
    r.decoder_embedding_dim = c.decoder_embedding_dim;
    r.attention_units = c.attention_units;
    r.attention_bias = c.attention_bias ? 1 : 0;
    r.gru_variant =
        c.gru == RnnCell::kGruResetAfter ? SEQATTN_GRU_RESET_AFTER : SEQATTN_GRU_RESET_BEFORE;
    r.tokenization = c.tokenization == model::Tokenization::kChars ? SEQATTN_TOKENIZATION_CHARS
                                                                   : SEQATTN_TOKENIZATION_WORDS;
    r.lowercase_source = c.lowercase_source ? 1 : 0;
    r.source_pad = c.source_pad;
    r.source_unk = c.source_unk;
    r.target_pad = c.target_pad;
    r.target_start = c.target_start;
    r.target_end = c.target_end;
    r.max_source_len = c.max_source_len;
    r.max_target_len = c.max_target_len;
    r.name = c.name.c_str();
    r.description = c.description.c_str();
    r.decoder_kind = c.decoder_kind == model::DecoderKind::kBahdanau ? SEQATTN_DECODER_BAHDANAU
                                                                     : SEQATTN_DECODER_ATTENTION_KERAS;
    r.source_padding_pre = c.source_padding == model::SourcePadding::kPre ? 1 : 0;
    r.source_mask = c.source_mask ? 1 : 0;
    r.has_source_vocab = c.has_source_vocab() ? 1 : 0;
    r.has_target_vocab = c.has_target_vocab() ? 1 : 0;
    r.kind = SEQATTN_MODEL_SEQ2SEQ;
    r.struct_size = uint32_t(size);
    std::memcpy(info, &r, size);
  });
}

seqattn_status seqattn_model_source_vocab_size(seqattn_model model, int32_t* out) {
  return guard([&] {
    const model::Model& m = model_of(model);
    check::not_null(out, "out");
    *out = m.config().source_vocab_size();
  });
}

seqattn_status seqattn_model_target_vocab_size(seqattn_model model, int32_t* out) {
  return guard([&] {
    const model::Model& m = model_of(model);
    check::not_null(out, "out");
    *out = m.config().target_vocab_size();
  });
}

seqattn_status seqattn_model_source_token(seqattn_model model, int32_t id, const char** out) {
  return guard([&] {
    const model::Config& c = model_of(model).config();
    check::not_null(out, "out");
    check_token_id(id, c.source_vocab_size(), "source");
    require_vocab(c, true, "seqattn_model_source_token");
    *out = c.source_vocab[size_t(id)].c_str();
  });
}

seqattn_status seqattn_model_target_token(seqattn_model model, int32_t id, const char** out) {
  return guard([&] {
    const model::Config& c = model_of(model).config();
    check::not_null(out, "out");
    check_token_id(id, c.target_vocab_size(), "target");
    require_vocab(c, false, "seqattn_model_target_token");
    *out = c.target_vocab[size_t(id)].c_str();
  });
}

seqattn_status seqattn_model_encode_source(seqattn_model model, const char* text, int32_t* ids_out,
                                           int32_t capacity, int32_t* len_out) {
  return guard([&] {
    const model::Model& m = model_of(model);
    const std::string s = text_of(text);
    check::not_null(len_out, "len_out");
    require_vocab(m.config(), true, "seqattn_model_encode_source");
    check_capacity(capacity, ids_out, "ids_out");
    check::no_overlap({check::buffer(ids_out, capacity, "ids_out"),
                       check::buffer(len_out, 1, "len_out")},
                      {check::buffer(text, int64_t(s.size()) + 1, "text")});
    const std::vector<int32_t> ids = m.encode_source(s);
    const auto n = int32_t(ids.size());
    if (count_only(n, capacity, ids_out, len_out)) return;
    std::copy(ids.begin(), ids.end(), ids_out);
    *len_out = n;
  });
}

seqattn_status seqattn_model_source_spans(seqattn_model model, const char* text,
                                          int32_t* spans_out, int32_t capacity,
                                          int32_t* count_out) {
  return guard([&] {
    const model::Model& m = model_of(model);
    const std::string s = text_of(text);
    check::not_null(count_out, "count_out");
    check_capacity(capacity, spans_out, "spans_out");
    require_vocab(m.config(), true, "seqattn_model_source_spans");
    check::no_overlap({check::buffer(spans_out, 2 * int64_t(capacity), "spans_out"),
                       check::buffer(count_out, 1, "count_out")},
                      {check::buffer(text, int64_t(s.size()) + 1, "text")});
    const std::vector<model::Span> spans = model::source_spans(s, m.config().tokenization);
    const auto n = int32_t(spans.size());
    if (count_only(n, capacity, spans_out, count_out)) return;
    for (size_t i = 0; i < spans.size(); ++i) {
      spans_out[2 * i] = int32_t(spans[i].offset);
      spans_out[2 * i + 1] = int32_t(spans[i].length);
    }
    *count_out = n;
  });
}

seqattn_status seqattn_model_decode_target(seqattn_model model, const int32_t* ids, int32_t count,
                                           char* text_out, size_t capacity, size_t* len_out) {
  return guard([&] {
    const model::Model& m = model_of(model);
    check::not_null(len_out, "len_out");
    if (count < 0) invalid("count = " + std::to_string(count) + " is negative");
    if (count > 0) check::not_null(ids, "ids");
    if (capacity > 0) check::not_null(text_out, "text_out");
    check_ids(ids, count, m.config().target_vocab_size());
    require_vocab(m.config(), false, "seqattn_model_decode_target");
    check::no_overlap({check::buffer(text_out, int64_t(std::min<uint64_t>(capacity, INT64_MAX)),
                                     "text_out"),
                       check::buffer(len_out, 1, "len_out")},
                      {check::buffer(ids, count, "ids")});
    const std::string text = m.decode_target(ids, size_t(count));
    if (text_out == nullptr && capacity == 0) {
      *len_out = text.size();
      return;
    }
    if (capacity < text.size() + 1)
      invalid("capacity = " + std::to_string(capacity) + " is less than the " +
              std::to_string(text.size() + 1) + " bytes of the text and its NUL");
    std::memcpy(text_out, text.c_str(), text.size() + 1);
    *len_out = text.size();
  });
}

seqattn_status seqattn_model_translate(seqattn_handle handle, seqattn_model model, int32_t batch,
                                       int32_t src_steps, const int32_t* src_tokens,
                                       const int32_t* src_lengths, int32_t max_steps,
                                       int32_t* out_tokens, int32_t* out_lengths,
                                       float* attention_out) {
  return guard([&] {
    model::Model& m =
        check_run(handle, model, batch, src_steps, src_tokens, src_lengths, max_steps, "max_steps");
    check::not_null(out_tokens, "out_tokens");
    check::not_null(out_lengths, "out_lengths");
    const int64_t B = batch, Ts = src_steps, Td = max_steps;
    check::no_overlap({check::buffer(out_tokens, B * Td, "out_tokens"),
                       check::buffer(out_lengths, B, "out_lengths"),
                       check::buffer(attention_out, B * Td * Ts, "attention_out")},
                      {check::buffer(src_tokens, B * Ts, "src_tokens"),
                       check::buffer(src_lengths, B, "src_lengths")});
    m.translate(batch, src_steps, src_tokens, src_lengths, max_steps, out_tokens, out_lengths,
                attention_out);
  });
}

seqattn_status seqattn_model_score(seqattn_handle handle, seqattn_model model, int32_t batch,
                                   int32_t src_steps, const int32_t* src_tokens,
                                   const int32_t* src_lengths, int32_t tgt_steps,
                                   const int32_t* tgt_in_tokens, const int32_t* tgt_lengths,
                                   float* probs_out, float* attention_out) {
  return guard([&] {
    model::Model& m =
        check_run(handle, model, batch, src_steps, src_tokens, src_lengths, tgt_steps, "tgt_steps");
    check::not_null(tgt_in_tokens, "tgt_in_tokens");
    check::not_null(probs_out, "probs_out");
    check::lengths(tgt_lengths, batch, "tgt_lengths", tgt_steps, "tgt_steps");
    check_tokens(tgt_in_tokens, batch, tgt_steps, "tgt_in_tokens", m.config().target_vocab_size(),
                 "target");
    const int64_t B = batch, Ts = src_steps, Td = tgt_steps;
    check::no_overlap(
        {check::buffer(probs_out, B * Td * m.config().target_vocab_size(), "probs_out"),
         check::buffer(attention_out, B * Td * Ts, "attention_out")},
        {check::buffer(src_tokens, B * Ts, "src_tokens"),
         check::buffer(src_lengths, B, "src_lengths"),
         check::buffer(tgt_in_tokens, B * Td, "tgt_in_tokens"),
         check::buffer(tgt_lengths, B, "tgt_lengths")});
    m.score(batch, src_steps, src_tokens, src_lengths, tgt_steps, tgt_in_tokens, tgt_lengths,
            probs_out, attention_out);
  });
}

seqattn_status seqattn_model_predict(seqattn_handle handle, seqattn_model model, int32_t batch,
                                     int32_t steps, int32_t features, const float* x,
                                     float* y_out, float* pooling_weights_out) {
  return guard([&] {
    model::SequenceHead& head = head_for(handle, model);
    const model::HeadConfig& c = head.config();
    check::positive(batch, "batch");
    if (steps != c.steps)
      invalid("steps = " + std::to_string(steps) + " but the model takes steps = " +
              std::to_string(c.steps) + " (its attention pooling has one bias per time step)");
    if (features != c.input_features)
      invalid("features = " + std::to_string(features) + " but the model takes features = " +
              std::to_string(c.input_features));
    int64_t widest = std::max<int64_t>({c.input_features, c.output_dim(), 1});
    for (const model::HeadConfig::Rnn& r : c.rnn)
      widest = std::max<int64_t>(widest, 3 * int64_t(r.units));
    for (const model::HeadConfig::Dense& d : c.dense) widest = std::max<int64_t>(widest, d.units);
    check::elements("sequence-head tensors [B, T, max(F, 3H, N)]", {batch, steps, widest});
    check::not_null(x, "x");
    check::not_null(y_out, "y_out");
    head.predict(batch, x, y_out, pooling_weights_out);
  });
}

}  // extern "C"
