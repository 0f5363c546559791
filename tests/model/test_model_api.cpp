// The model functions of the C API apart from the numbers: info, vocabularies,
// tokenisation, and every bad-argument rule (a message naming the argument,
// SEQATTN_ERROR_INVALID_ARGUMENT, nothing written).
#include <gtest/gtest.h>

#include <climits>
#include <string>
#include <utility>
#include <vector>

#include "model_test_util.hpp"

namespace {

using namespace model_test;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class ModelApi : public ::testing::Test {
 protected:
  void load(const Spec& spec) {
    spec_ = spec;
    const Bytes bytes = random_model(spec).serialize();
    ASSERT_EQ(seqattn_model_load_from_memory(handle_.h, bytes.data(), bytes.size(), &model_.m),
              SEQATTN_OK)
        << last_error();
  }
  void SetUp() override {
    ASSERT_EQ(handle_.status, SEQATTN_OK);
    load(Spec{});
  }

  std::vector<int32_t> encode(const std::string& text) {
    int32_t n = -1;
    EXPECT_EQ(seqattn_model_encode_source(model_.m, text.c_str(), nullptr, 0, &n), SEQATTN_OK)
        << last_error();
    std::vector<int32_t> ids(size_t(std::max(n, 0)));
    if (n > 0) {
      EXPECT_EQ(seqattn_model_encode_source(model_.m, text.c_str(), ids.data(), n, &n), SEQATTN_OK)
          << last_error();
    }
    return ids;
  }
  std::string decode(const std::vector<int32_t>& ids) {
    size_t n = 0;
    EXPECT_EQ(
        seqattn_model_decode_target(model_.m, ids.data(), int32_t(ids.size()), nullptr, 0, &n),
        SEQATTN_OK)
        << last_error();
    std::string text(n + 1, '#');
    EXPECT_EQ(seqattn_model_decode_target(model_.m, ids.data(), int32_t(ids.size()), text.data(),
                                          text.size(), &n),
              SEQATTN_OK)
        << last_error();
    EXPECT_EQ(text[n], '\0');
    text.resize(n);
    return text;
  }
  int32_t src_id(const std::string& token) {
    const std::vector<std::string> v = source_vocab(spec_);
    return int32_t(std::find(v.begin(), v.end(), token) - v.begin());
  }

  HandleOwner handle_;
  ModelOwner model_;
  Spec spec_;
};

TEST_F(ModelApi, InfoDescribesTheFile) {
  seqattn_model_info info;
  seqattn_model_info_init(&info);
  EXPECT_EQ(info.struct_size, sizeof(seqattn_model_info));
  ASSERT_EQ(seqattn_model_get_info(model_.m, &info), SEQATTN_OK) << last_error();
  EXPECT_EQ(info.source_vocab_size, spec_.src_vocab);
  EXPECT_EQ(info.target_vocab_size, spec_.tgt_vocab);
  EXPECT_EQ(info.encoder_units, spec_.units);
  EXPECT_EQ(info.encoder_embedding_dim, spec_.src_embedding);
  EXPECT_EQ(info.bidirectional, 1);
  EXPECT_EQ(info.encoder_output_dim, 2 * spec_.units);
  EXPECT_EQ(info.decoder_units, 2 * spec_.units);
  EXPECT_EQ(info.decoder_embedding_dim, spec_.tgt_embedding);
  EXPECT_EQ(info.attention_units, spec_.attention_units);
  EXPECT_EQ(info.attention_bias, 0);
  EXPECT_EQ(info.gru_variant, SEQATTN_GRU_RESET_AFTER);
  EXPECT_EQ(info.tokenization, SEQATTN_TOKENIZATION_CHARS);
  EXPECT_EQ(info.lowercase_source, 1);
  EXPECT_EQ(info.source_pad, 0);
  EXPECT_EQ(info.source_unk, 1);
  EXPECT_EQ(info.target_pad, 0);
  EXPECT_EQ(info.target_start, 1);
  EXPECT_EQ(info.target_end, 2);
  EXPECT_EQ(info.max_source_len, 20);
  EXPECT_EQ(info.max_target_len, spec_.max_target_len);
  EXPECT_STREQ(info.name, "test-model");
  EXPECT_STREQ(info.description, "random weights");
}

TEST_F(ModelApi, InfoChecksStructSize) {
  seqattn_model_info info;
  seqattn_model_info_init(&info);
  info.struct_size = 8;
  info.source_vocab_size = -5;
  EXPECT_EQ(seqattn_model_get_info(model_.m, &info), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(last_error(), "struct_size")) << last_error();
  EXPECT_EQ(info.source_vocab_size, -5);  // nothing written
  EXPECT_EQ(seqattn_model_get_info(model_.m, nullptr), SEQATTN_ERROR_INVALID_ARGUMENT);
  seqattn_model_info_init(&info);
  EXPECT_EQ(seqattn_model_get_info(nullptr, &info), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(last_error(), "model")) << last_error();
}

TEST_F(ModelApi, Vocabularies) {
  int32_t n = 0;
  ASSERT_EQ(seqattn_model_source_vocab_size(model_.m, &n), SEQATTN_OK);
  EXPECT_EQ(n, spec_.src_vocab);
  ASSERT_EQ(seqattn_model_target_vocab_size(model_.m, &n), SEQATTN_OK);
  EXPECT_EQ(n, spec_.tgt_vocab);
  const std::vector<std::string> sv = source_vocab(spec_), tv = target_vocab(spec_);
  for (int32_t i = 0; i < spec_.src_vocab; ++i) {
    const char* s = nullptr;
    ASSERT_EQ(seqattn_model_source_token(model_.m, i, &s), SEQATTN_OK);
    EXPECT_EQ(std::string(s), sv[size_t(i)]);
  }
  for (int32_t i = 0; i < spec_.tgt_vocab; ++i) {
    const char* s = nullptr;
    ASSERT_EQ(seqattn_model_target_token(model_.m, i, &s), SEQATTN_OK);
    EXPECT_EQ(std::string(s), tv[size_t(i)]);
  }
  const char* untouched = "untouched";
  const char* s = untouched;
  EXPECT_EQ(seqattn_model_source_token(model_.m, spec_.src_vocab, &s),
            SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(last_error(), "id = 11")) << last_error();
  EXPECT_EQ(seqattn_model_target_token(model_.m, -1, &s), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(last_error(), "id = -1")) << last_error();
  EXPECT_EQ(s, untouched);
  EXPECT_EQ(seqattn_model_source_token(model_.m, 0, nullptr), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(seqattn_model_source_vocab_size(nullptr, &n), SEQATTN_ERROR_INVALID_ARGUMENT);
}

TEST_F(ModelApi, EncodeSourceChars) {
  // The Spec's source vocabulary: <pad> <unk> ' ' a b c d e f g h ...
  EXPECT_EQ(encode("Ab c"),
            (std::vector<int32_t>{src_id("a"), src_id("b"), src_id(" "), src_id("c")}));
  // '?' is not in the vocabulary; "é" is one code point (two bytes), also unknown;
  // a stray continuation byte is a token of its own.
  EXPECT_EQ(encode("a?\xC3\xA9\x80"), (std::vector<int32_t>{src_id("a"), 1, 1, 1}));
  EXPECT_TRUE(encode("").empty());
}

TEST_F(ModelApi, EncodeSourceWithoutLowercasing) {
  Spec s;
  s.lowercase = false;
  seqattn_model_destroy(model_.m);
  model_.m = nullptr;
  load(s);
  EXPECT_EQ(encode("Ab"), (std::vector<int32_t>{1, src_id("b")}));
}

TEST_F(ModelApi, WordsTokenization) {
  Spec s;
  s.tokenization = "words";
  s.src_vocab = 30;
  s.tgt_vocab = 40;
  seqattn_model_destroy(model_.m);
  model_.m = nullptr;
  load(s);
  const std::vector<std::string> sv = source_vocab(s);
  // Words split on any ASCII whitespace; "a" and "b" are words of this vocabulary.
  EXPECT_EQ(encode("  A\tb \n zz "), (std::vector<int32_t>{src_id("a"), src_id("b"), 1}));
  const std::vector<std::string> tv = target_vocab(s);
  // Target words joined with one space; pad, start and end left out.
  EXPECT_EQ(decode({1, 3, 0, 4, 2, int32_t(tv.size()) - 1}), tv[3] + " " + tv[4] + " " + tv.back());
}

TEST_F(ModelApi, EncodeSourceCapacity) {
  std::vector<int32_t> ids(2, -9);
  int32_t n = -1;
  EXPECT_EQ(seqattn_model_encode_source(model_.m, "abc", ids.data(), 2, &n),
            SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(last_error(), "capacity = 2")) << last_error();
  EXPECT_EQ(ids, (std::vector<int32_t>{-9, -9}));
  EXPECT_EQ(n, -1);
  EXPECT_EQ(seqattn_model_encode_source(model_.m, nullptr, ids.data(), 2, &n),
            SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(last_error(), "text")) << last_error();
  EXPECT_EQ(seqattn_model_encode_source(model_.m, "a", nullptr, 2, &n),
            SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(last_error(), "ids_out")) << last_error();
  EXPECT_EQ(seqattn_model_encode_source(model_.m, "a", ids.data(), -1, &n),
            SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(seqattn_model_encode_source(model_.m, "a", ids.data(), 2, nullptr),
            SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(last_error(), "len_out")) << last_error();
}

// [offset, length] pairs of seqattn_model_source_spans, asked for the count first.
std::vector<std::pair<int32_t, int32_t>> spans_of(seqattn_model m, const std::string& text) {
  int32_t n = -1;
  EXPECT_EQ(seqattn_model_source_spans(m, text.c_str(), nullptr, 0, &n), SEQATTN_OK)
      << last_error();
  std::vector<int32_t> flat(2 * size_t(std::max(n, 0)), -1);
  if (n > 0) {
    EXPECT_EQ(seqattn_model_source_spans(m, text.c_str(), flat.data(), n, &n), SEQATTN_OK)
        << last_error();
  }
  std::vector<std::pair<int32_t, int32_t>> out;
  for (size_t i = 0; i + 1 < flat.size(); i += 2) out.emplace_back(flat[i], flat[i + 1]);
  return out;
}

using Spans = std::vector<std::pair<int32_t, int32_t>>;

TEST_F(ModelApi, SourceSpansChars) {
  // One span per code point, as encode_source splits: "é" (2 bytes), "€" (3),
  // "😀" (4), a stray continuation byte (1), a truncated 3-byte lead (1 each).
  const std::string text = "Ab\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\x80\xE2\x82";
  EXPECT_EQ(spans_of(model_.m, text),
            (Spans{{0, 1}, {1, 1}, {2, 2}, {4, 3}, {7, 4}, {11, 1}, {12, 1}, {13, 1}}));
  EXPECT_EQ(spans_of(model_.m, text).size(), encode(text).size());
  EXPECT_TRUE(spans_of(model_.m, "").empty());
  // The spans keep the text as written: the source vocabulary is lower case.
  EXPECT_EQ(encode("A"), (std::vector<int32_t>{src_id("a")}));
  EXPECT_EQ(spans_of(model_.m, "A"), (Spans{{0, 1}}));
}

TEST_F(ModelApi, SourceSpansWords) {
  Spec s;
  s.tokenization = "words";
  s.src_vocab = 30;
  seqattn_model_destroy(model_.m);
  model_.m = nullptr;
  load(s);
  const std::string text = "  A\tb \n zz\xC3\xA9 ";
  EXPECT_EQ(spans_of(model_.m, text), (Spans{{2, 1}, {4, 1}, {8, 4}}));
  EXPECT_EQ(spans_of(model_.m, text).size(), encode(text).size());
  EXPECT_TRUE(spans_of(model_.m, " \t\n").empty());
}

TEST_F(ModelApi, SourceSpansRefusesBadArguments) {
  std::vector<int32_t> spans(4, -9);
  int32_t n = -1;
  const auto refused = [&](seqattn_status st, const std::string& needle) {
    EXPECT_EQ(st, SEQATTN_ERROR_INVALID_ARGUMENT) << needle;
    EXPECT_TRUE(contains(last_error(), needle)) << "message: " << last_error();
    EXPECT_EQ(spans, std::vector<int32_t>(4, -9)) << "spans_out written for " << needle;
    EXPECT_EQ(n, -1) << "count_out written for " << needle;
  };
  refused(seqattn_model_source_spans(nullptr, "ab", spans.data(), 2, &n), "model");
  refused(seqattn_model_source_spans(model_.m, nullptr, spans.data(), 2, &n), "text");
  refused(seqattn_model_source_spans(model_.m, "ab", spans.data(), 2, nullptr), "count_out");
  refused(seqattn_model_source_spans(model_.m, "ab", nullptr, 2, &n), "spans_out");
  refused(seqattn_model_source_spans(model_.m, "ab", spans.data(), -1, &n), "capacity = -1");
  refused(seqattn_model_source_spans(model_.m, "abc", spans.data(), 2, &n),
          "capacity = 2 is less than the 3 tokens");
  // A capacity of 0 with a buffer is a capacity, not the count query.
  refused(seqattn_model_source_spans(model_.m, "a", spans.data(), 0, &n), "capacity = 0");
  // Exactly enough room works and writes only the spans.
  EXPECT_EQ(seqattn_model_source_spans(model_.m, "ab", spans.data(), 2, &n), SEQATTN_OK)
      << last_error();
  EXPECT_EQ(spans, (std::vector<int32_t>{0, 1, 1, 1}));
  EXPECT_EQ(n, 2);
}

TEST_F(ModelApi, DecodeTarget) {
  const std::vector<std::string> tv = target_vocab(spec_);
  EXPECT_EQ(decode({1, 3, 4, 0, 5, 2}), tv[3] + tv[4] + tv[5]);
  EXPECT_EQ(decode({}), "");
  std::vector<char> small(3, '#');
  size_t n = 99;
  const std::vector<int32_t> ids = {3, 4, 5};
  EXPECT_EQ(seqattn_model_decode_target(model_.m, ids.data(), 3, small.data(), small.size(), &n),
            SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(last_error(), "capacity = 3")) << last_error();
  EXPECT_EQ(n, 99u);
  EXPECT_EQ(small, std::vector<char>(3, '#'));
  const std::vector<int32_t> bad = {3, spec_.tgt_vocab};
  EXPECT_EQ(seqattn_model_decode_target(model_.m, bad.data(), 2, nullptr, 0, &n),
            SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(last_error(), "ids[1] = 9")) << last_error();
  EXPECT_EQ(seqattn_model_decode_target(model_.m, ids.data(), -1, nullptr, 0, &n),
            SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(seqattn_model_decode_target(model_.m, nullptr, 2, nullptr, 0, &n),
            SEQATTN_ERROR_INVALID_ARGUMENT);
}

// ------------------------------------------------------- translate / score

class ModelRunArgs : public ModelApi {
 protected:
  static constexpr int32_t kB = 2, kTs = 3, kSteps = 4;
  std::vector<int32_t> src = {3, 4, 5, 6, 7, 0}, src_len = {3, 2};
  std::vector<int32_t> out = std::vector<int32_t>(kB * kSteps, -3), out_len = {-3, -3};
  std::vector<float> att = std::vector<float>(kB * kSteps * kTs, -3.0f);

  seqattn_status translate(seqattn_handle h, seqattn_model m, int32_t batch, int32_t ts,
                           const int32_t* tokens, const int32_t* lengths, int32_t steps) {
    return seqattn_model_translate(h, m, batch, ts, tokens, lengths, steps, out.data(),
                                   out_len.data(), att.data());
  }
  void expect_refused(seqattn_status status, const std::string& needle) {
    EXPECT_EQ(status, SEQATTN_ERROR_INVALID_ARGUMENT) << needle;
    EXPECT_TRUE(contains(last_error(), needle)) << "message: " << last_error();
    EXPECT_EQ(out, std::vector<int32_t>(kB * kSteps, -3)) << "out_tokens written for " << needle;
    EXPECT_EQ(out_len, (std::vector<int32_t>{-3, -3})) << "out_lengths written for " << needle;
    EXPECT_EQ(att, std::vector<float>(kB * kSteps * kTs, -3.0f))
        << "attention written for " << needle;
  }
};

TEST_F(ModelRunArgs, TranslateRefusesBadArguments) {
  const seqattn_handle h = handle_.h;
  const seqattn_model m = model_.m;
  expect_refused(translate(nullptr, m, kB, kTs, src.data(), src_len.data(), kSteps), "handle");
  expect_refused(translate(h, nullptr, kB, kTs, src.data(), src_len.data(), kSteps), "model");
  expect_refused(translate(h, m, 0, kTs, src.data(), src_len.data(), kSteps), "batch = 0");
  expect_refused(translate(h, m, kB, -1, src.data(), src_len.data(), kSteps), "src_steps = -1");
  expect_refused(translate(h, m, kB, kTs, src.data(), src_len.data(), 0), "max_steps = 0");
  expect_refused(translate(h, m, kB, kTs, nullptr, src_len.data(), kSteps), "src_tokens is NULL");
  std::vector<int32_t> bad = src;
  bad[4] = spec_.src_vocab;
  expect_refused(translate(h, m, kB, kTs, bad.data(), src_len.data(), kSteps),
                 "src_tokens[1, 1] = 11 is outside the source vocabulary [0, 11)");
  bad[4] = -1;
  expect_refused(translate(h, m, kB, kTs, bad.data(), src_len.data(), kSteps),
                 "src_tokens[1, 1] = -1");
  std::vector<int32_t> long_len = {3, 4};
  expect_refused(translate(h, m, kB, kTs, src.data(), long_len.data(), kSteps),
                 "src_lengths[1] = 4 exceeds src_steps = 3");
  std::vector<int32_t> neg_len = {-1, 0};
  expect_refused(translate(h, m, kB, kTs, src.data(), neg_len.data(), kSteps),
                 "src_lengths[0] = -1");
  // Sizes that overflow are refused before any array is read.
  expect_refused(translate(h, m, INT32_MAX, INT32_MAX, src.data(), nullptr, kSteps), "overflow");
  EXPECT_EQ(seqattn_model_translate(h, m, kB, kTs, src.data(), nullptr, kSteps, nullptr,
                                    out_len.data(), nullptr),
            SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(last_error(), "out_tokens")) << last_error();
  EXPECT_EQ(seqattn_model_translate(h, m, kB, kTs, src.data(), nullptr, kSteps, out.data(), nullptr,
                                    nullptr),
            SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(last_error(), "out_lengths")) << last_error();
}

TEST_F(ModelRunArgs, AModelRunsOnlyWithItsHandle) {
  HandleOwner other;
  ASSERT_EQ(other.status, SEQATTN_OK);
  expect_refused(translate(other.h, model_.m, kB, kTs, src.data(), src_len.data(), kSteps),
                 "different handle");
  std::vector<int32_t> tgt(kB * kSteps, 1);
  std::vector<float> probs(size_t(kB * kSteps * spec_.tgt_vocab), -3.0f);
  EXPECT_EQ(seqattn_model_score(other.h, model_.m, kB, kTs, src.data(), src_len.data(), kSteps,
                                tgt.data(), nullptr, probs.data(), nullptr),
            SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(last_error(), "different handle")) << last_error();
  EXPECT_EQ(probs, std::vector<float>(probs.size(), -3.0f));
  // ...and works with it.
  EXPECT_EQ(translate(handle_.h, model_.m, kB, kTs, src.data(), src_len.data(), kSteps), SEQATTN_OK)
      << last_error();
}

// The model shares its handle's backend: destroying the handle first must leave
// the weights valid until the model goes (ASan would report a use after free).
TEST(ModelLifetime, AModelOutlivesItsHandle) {
  seqattn_handle_options opt;
  seqattn_handle_options_init(&opt);
  seqattn_handle h = nullptr;
  ASSERT_EQ(seqattn_handle_create(&opt, &h), SEQATTN_OK);
  const Bytes bytes = random_model(Spec{}).serialize();
  seqattn_model m = nullptr;
  ASSERT_EQ(seqattn_model_load_from_memory(h, bytes.data(), bytes.size(), &m), SEQATTN_OK)
      << last_error();
  seqattn_handle_destroy(h);
  seqattn_model_info info;
  seqattn_model_info_init(&info);
  EXPECT_EQ(seqattn_model_get_info(m, &info), SEQATTN_OK) << last_error();
  seqattn_model_destroy(m);
}

TEST_F(ModelRunArgs, ScoreRefusesBadArguments) {
  const int32_t vt = spec_.tgt_vocab;
  std::vector<int32_t> tgt = {1, 3, 4, 5, 1, 6, 7, 8}, tgt_len = {4, 2};
  std::vector<float> probs(size_t(kB * kSteps * vt), -3.0f);
  std::vector<float> att2(size_t(kB * kSteps * kTs), -3.0f);
  const auto score = [&](const int32_t* s, const int32_t* sl, int32_t td, const int32_t* t,
                         const int32_t* tl, float* p) {
    return seqattn_model_score(handle_.h, model_.m, kB, kTs, s, sl, td, t, tl, p, att2.data());
  };
  const auto refused = [&](seqattn_status st, const std::string& needle) {
    EXPECT_EQ(st, SEQATTN_ERROR_INVALID_ARGUMENT) << needle;
    EXPECT_TRUE(contains(last_error(), needle)) << "message: " << last_error();
    EXPECT_EQ(probs, std::vector<float>(probs.size(), -3.0f)) << needle;
    EXPECT_EQ(att2, std::vector<float>(att2.size(), -3.0f)) << needle;
  };
  refused(score(src.data(), src_len.data(), 0, tgt.data(), tgt_len.data(), probs.data()),
          "tgt_steps = 0");
  refused(score(src.data(), src_len.data(), kSteps, nullptr, tgt_len.data(), probs.data()),
          "tgt_in_tokens is NULL");
  refused(score(src.data(), src_len.data(), kSteps, tgt.data(), tgt_len.data(), nullptr),
          "probs_out is NULL");
  std::vector<int32_t> bad = tgt;
  bad[7] = vt;
  refused(score(src.data(), src_len.data(), kSteps, bad.data(), tgt_len.data(), probs.data()),
          "tgt_in_tokens[1, 3] = 9 is outside the target vocabulary [0, 9)");
  std::vector<int32_t> long_len = {5, 1};
  refused(score(src.data(), src_len.data(), kSteps, tgt.data(), long_len.data(), probs.data()),
          "tgt_lengths[0] = 5 exceeds tgt_steps = 4");
  std::vector<int32_t> bad_src = src;
  bad_src[0] = 99;
  refused(score(bad_src.data(), src_len.data(), kSteps, tgt.data(), tgt_len.data(), probs.data()),
          "src_tokens[0, 0] = 99");
  EXPECT_EQ(score(src.data(), src_len.data(), kSteps, tgt.data(), tgt_len.data(), probs.data()),
            SEQATTN_OK)
      << last_error();
  // Valid rows are distributions; rows past tgt_lengths are 0.
  for (int32_t b = 0; b < kB; ++b)
    for (int32_t t = 0; t < kSteps; ++t) {
      double sum = 0.0;
      for (int32_t j = 0; j < vt; ++j) sum += probs[size_t((b * kSteps + t) * vt + j)];
      EXPECT_NEAR(sum, t < tgt_len[size_t(b)] ? 1.0 : 0.0, 1e-5) << "b " << b << " t " << t;
    }
}

TEST_F(ModelApi, LoadRefusesNullArguments) {
  seqattn_model m = nullptr;
  const Bytes bytes = random_model(spec_).serialize();
  EXPECT_EQ(seqattn_model_load(nullptr, "x", &m), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(last_error(), "handle")) << last_error();
  EXPECT_EQ(seqattn_model_load(handle_.h, nullptr, &m), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(last_error(), "path")) << last_error();
  EXPECT_EQ(seqattn_model_load(handle_.h, "x", nullptr), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(seqattn_model_load_from_memory(handle_.h, nullptr, 10, &m),
            SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(last_error(), "data")) << last_error();
  EXPECT_EQ(seqattn_model_load_from_memory(handle_.h, bytes.data(), bytes.size(), nullptr),
            SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(m, nullptr);
  seqattn_model_destroy(nullptr);  // a no-op
}

// The same file from disk and from memory gives the same model.
TEST_F(ModelApi, LoadFromFileEqualsLoadFromMemory) {
  const std::string path = ::testing::TempDir() + "seqattn_model_api.safetensors";
  ASSERT_TRUE(write_file(path, random_model(spec_).serialize()));
  ModelOwner from_file;
  ASSERT_EQ(seqattn_model_load(handle_.h, path.c_str(), &from_file.m), SEQATTN_OK) << last_error();
  const std::vector<int32_t> src = {3, 4, 5, 6, 7, 8, 9};
  std::vector<float> a(size_t(spec_.max_target_len) * 7), b(a.size());
  std::vector<int32_t> ta(size_t(spec_.max_target_len)), tb(ta.size()), la(1), lb(1);
  ASSERT_EQ(seqattn_model_translate(handle_.h, model_.m, 1, 7, src.data(), nullptr,
                                    spec_.max_target_len, ta.data(), la.data(), a.data()),
            SEQATTN_OK);
  ASSERT_EQ(seqattn_model_translate(handle_.h, from_file.m, 1, 7, src.data(), nullptr,
                                    spec_.max_target_len, tb.data(), lb.data(), b.data()),
            SEQATTN_OK);
  EXPECT_EQ(ta, tb);
  EXPECT_EQ(la, lb);
  EXPECT_EQ(a, b);
  std::remove(path.c_str());
}

}  // namespace
