// The config options of issue 10 against fixtures whose expected values come
// from an independent float64 numpy implementation (tools/make_decoder_fixtures.py,
// tools/numpy_forward.py):
//   bahdanau_tutorial.safetensors  decoder.kind "bahdanau" (the PyTorch tutorial's
//                                  AttnDecoderRNN), unmasked post-padded sources,
//                                  no vocabularies, start == pad;
//   unpadded_pre.safetensors       unmasked pre-padded sources (Keras pad_sequences
//                                  without a mask), end == pad.
// Teacher-forced probabilities and attention, greedy tokens (exact), lengths and
// attention, on the library's reference, the fast CPU path and CUDA (skipped
// without a GPU); then what changes when the padding side or the mask does, and
// what a model without vocabularies refuses.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "model_test_util.hpp"

namespace {

using namespace model_test;

std::string fixture_path(const std::string& name) { return SEQATTN_FIXTURES_DIR "/" + name; }

// The fixtures' values are float64 results rounded to float32 (weights are
// float32 exactly). The library's reference accumulates in double, so it
// matches to float32 rounding: 1e-5 absolute leaves a wide margin and would
// still catch any wrong term. The fast CPU path and CUDA accumulate in float
// (SIMD, BLAS, other summation orders) over up to 8 steps of recurrence:
// they are held to the PRECISE contract of seqattn.h, 1e-5 + 1e-4·|x|.
double atol_for(seqattn_device) { return 1e-5; }
double rtol_for(seqattn_device d) { return d == SEQATTN_DEVICE_CPU_REFERENCE ? 0.0 : 1e-4; }

struct Fixture {
  SafetensorsFile file;
  std::vector<int32_t> src, src_len, tgt, tgt_len;
  int32_t B = 0, Ts = 0, Td = 0, Vt = 0;
  json config;

  const Tensor& t(const std::string& name) const { return file.tensors.at(name); }
};

bool load_fixture(const std::string& name, Fixture* fx, std::string* error) {
  std::optional<SafetensorsFile> f = read_safetensors(fixture_path(name), error);
  if (!f) return false;
  fx->file = std::move(*f);
  fx->src = fx->t("fixture.src_tokens").i32();
  fx->src_len = fx->t("fixture.src_lengths").i32();
  fx->tgt = fx->t("fixture.tgt_in_tokens").i32();
  fx->tgt_len = fx->t("fixture.tgt_lengths").i32();
  fx->B = int32_t(fx->t("fixture.src_tokens").dim(0));
  fx->Ts = int32_t(fx->t("fixture.src_tokens").dim(1));
  fx->Td = int32_t(fx->t("fixture.tgt_in_tokens").dim(1));
  fx->Vt = int32_t(fx->t("fixture.probs").dim(2));
  fx->config = json::parse(fx->file.metadata.at("config"));
  return true;
}

// The fixture's model with `config` in place of its own, on `handle`.
seqattn_status load_with(seqattn_handle handle, const Fixture& fx, const json& config,
                         seqattn_model* out) {
  SafetensorsFile f = fx.file;
  f.metadata["config"] = config.dump();
  const Bytes bytes = f.serialize();
  return seqattn_model_load_from_memory(handle, bytes.data(), bytes.size(), out);
}

class DecoderFixture : public ::testing::TestWithParam<std::tuple<std::string, seqattn_device>> {
 protected:
  void SetUp() override {
    const auto& [name, device] = GetParam();
    device_ = device;
    if (!std::ifstream(fixture_path(name)).good())
      GTEST_SKIP() << "fixture " << fixture_path(name)
                   << " is missing (tools/make_decoder_fixtures.py)";
    if (!device_available(device))
      GTEST_SKIP() << "no CUDA device (seqattn_cuda_device_count() == 0)";
    std::string error;
    ASSERT_TRUE(load_fixture(name, &fx_, &error)) << error;
    handle_ = std::make_unique<HandleOwner>(device);
    ASSERT_EQ(handle_->status, SEQATTN_OK) << last_error();
    ASSERT_EQ(load_with(handle_->h, fx_, fx_.config, &model_.m), SEQATTN_OK) << last_error();
  }
  void TearDown() override {
    seqattn_model_destroy(model_.m);  // before the handle
    model_.m = nullptr;
  }

  // Teacher-forced probs and attention of `model` on the fixture's inputs.
  void score(seqattn_model model, std::vector<float>* probs, std::vector<float>* att) {
    probs->assign(size_t(fx_.B * fx_.Td * fx_.Vt), -1.0f);
    att->assign(size_t(fx_.B * fx_.Td * fx_.Ts), -1.0f);
    ASSERT_EQ(seqattn_model_score(handle_->h, model, fx_.B, fx_.Ts, fx_.src.data(),
                                  fx_.src_len.data(), fx_.Td, fx_.tgt.data(), fx_.tgt_len.data(),
                                  probs->data(), att->data()),
              SEQATTN_OK)
        << last_error();
  }

  seqattn_device device_ = SEQATTN_DEVICE_CPU;
  Fixture fx_;
  std::unique_ptr<HandleOwner> handle_;
  ModelOwner model_;
};

TEST_P(DecoderFixture, TeacherForcedMatchesNumpy) {
  std::vector<float> probs, att;
  score(model_.m, &probs, &att);
  double max_p = 0.0, max_a = 0.0;
  EXPECT_TRUE(all_close(probs, fx_.t("fixture.probs").f32(), atol_for(device_), rtol_for(device_),
                        "probs", &max_p));
  EXPECT_TRUE(all_close(att, fx_.t("fixture.attention").f32(), atol_for(device_),
                        rtol_for(device_), "attention", &max_a));
  std::printf("%s on %s: max |seqattn - numpy| probs %.3g, attention %.3g\n",
              std::get<0>(GetParam()).c_str(), device_name(device_).c_str(), max_p, max_a);
}

TEST_P(DecoderFixture, GreedyMatchesNumpy) {
  const Tensor& want_tokens = fx_.t("fixture.greedy_tokens");
  const auto steps = int32_t(want_tokens.dim(1));
  ASSERT_EQ(steps, fx_.config.at("max_target_len").get<int32_t>());
  std::vector<int32_t> out(size_t(fx_.B * steps), -7), lengths(size_t(fx_.B), -7);
  std::vector<float> att(size_t(fx_.B * steps * fx_.Ts), -1.0f);
  ASSERT_EQ(seqattn_model_translate(handle_->h, model_.m, fx_.B, fx_.Ts, fx_.src.data(),
                                    fx_.src_len.data(), steps, out.data(), lengths.data(),
                                    att.data()),
            SEQATTN_OK)
      << last_error();
  EXPECT_EQ(lengths, fx_.t("fixture.greedy_lengths").i32());
  EXPECT_EQ(out, want_tokens.i32());
  EXPECT_TRUE(all_close(att, fx_.t("fixture.greedy_attention").f32(), atol_for(device_),
                        rtol_for(device_), "greedy attention"));
}

// Unmasked, the model reads pads: the side they go on, and masking them
// instead, change the result (pre is what the fixture's numpy computed, as
// Keras' pad_sequences builds the rows), beyond any float tolerance.
TEST_P(DecoderFixture, PaddingSideAndMaskDecide) {
  std::vector<float> base_p, base_a;
  score(model_.m, &base_p, &base_a);
  const bool pre = fx_.config.value("source_padding", "post") == "pre";
  for (const auto& [key, value] : {std::pair<std::string, json>{"source_padding",
                                                                pre ? "post" : "pre"},
                                   {"source_mask", true}}) {
    SCOPED_TRACE(key + " = " + value.dump());
    json config = fx_.config;
    config[key] = value;
    ModelOwner other;
    ASSERT_EQ(load_with(handle_->h, fx_, config, &other.m), SEQATTN_OK) << last_error();
    std::vector<float> p, a;
    score(other.m, &p, &a);
    double max_p = 0.0;
    all_close(p, base_p, 0.0, 0.0, "probs", &max_p);
    EXPECT_GT(max_p, 1e-2);
    seqattn_model_destroy(other.m);
    other.m = nullptr;
  }
}

TEST_P(DecoderFixture, UnmaskedRefusesASourceLongerThanMaxSourceLen) {
  const int32_t L = fx_.config.at("max_source_len").get<int32_t>();
  const int32_t steps = L + 1;
  std::vector<int32_t> src(size_t(2 * steps), 2), len = {3, steps};
  std::vector<int32_t> out(size_t(2 * 4), -7), out_len(2, -7);
  EXPECT_EQ(seqattn_model_translate(handle_->h, model_.m, 2, steps, src.data(), len.data(), 4,
                                    out.data(), out_len.data(), nullptr),
            SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("src_lengths[1] = " + std::to_string(steps)), std::string::npos)
      << last_error();
  EXPECT_NE(last_error().find("max_source_len"), std::string::npos) << last_error();
  EXPECT_EQ(out, std::vector<int32_t>(8, -7));  // nothing written
  EXPECT_EQ(seqattn_model_translate(handle_->h, model_.m, 2, steps, src.data(), nullptr, 4,
                                    out.data(), out_len.data(), nullptr),
            SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("src_steps"), std::string::npos) << last_error();
  // A longer array is fine when the valid tokens fit.
  len = {3, L};
  EXPECT_EQ(seqattn_model_translate(handle_->h, model_.m, 2, steps, src.data(), len.data(), 4,
                                    out.data(), out_len.data(), nullptr),
            SEQATTN_OK)
      << last_error();
}

std::string case_name(const ::testing::TestParamInfo<std::tuple<std::string, seqattn_device>>& i) {
  std::string n = std::get<0>(i.param);
  n = n.substr(0, n.find('.'));
  return n + "_" + device_name(std::get<1>(i.param));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DecoderFixture,
                         ::testing::Combine(::testing::Values("bahdanau_tutorial.safetensors",
                                                              "unpadded_pre.safetensors"),
                                            ::testing::ValuesIn(all_devices())),
                         case_name);

// ------------------------------------------------ a model without vocabularies

TEST(NoVocabularies, InfoAndTextFunctions) {
  Fixture fx;
  std::string error;
  if (!std::ifstream(fixture_path("bahdanau_tutorial.safetensors")).good())
    GTEST_SKIP() << "fixture missing (tools/make_decoder_fixtures.py)";
  ASSERT_TRUE(load_fixture("bahdanau_tutorial.safetensors", &fx, &error)) << error;
  HandleOwner handle;
  ModelOwner model;
  ASSERT_EQ(load_with(handle.h, fx, fx.config, &model.m), SEQATTN_OK) << last_error();

  seqattn_model_info info;
  seqattn_model_info_init(&info);
  ASSERT_EQ(seqattn_model_get_info(model.m, &info), SEQATTN_OK) << last_error();
  EXPECT_EQ(info.source_vocab_size, 13);
  EXPECT_EQ(info.target_vocab_size, 11);
  EXPECT_EQ(info.has_source_vocab, 0);
  EXPECT_EQ(info.has_target_vocab, 0);
  EXPECT_EQ(info.decoder_kind, SEQATTN_DECODER_BAHDANAU);
  EXPECT_EQ(info.source_mask, 0);
  EXPECT_EQ(info.source_padding_pre, 0);
  EXPECT_EQ(info.source_unk, -1);
  EXPECT_EQ(info.target_start, info.target_pad);  // the tutorial's SOS = 0 pads too

  int32_t ids[4] = {-7, -7, -7, -7}, n = -7;
  EXPECT_EQ(seqattn_model_encode_source(model.m, "a b", ids, 4, &n), SEQATTN_ERROR_UNSUPPORTED);
  EXPECT_NE(last_error().find("no source vocabulary"), std::string::npos) << last_error();
  EXPECT_NE(last_error().find("token ids only"), std::string::npos) << last_error();
  EXPECT_EQ(n, -7);
  const int32_t out_ids[2] = {3, 4};
  char text[16] = "untouched";
  size_t bytes = 99;
  EXPECT_EQ(seqattn_model_decode_target(model.m, out_ids, 2, text, sizeof text, &bytes),
            SEQATTN_ERROR_UNSUPPORTED);
  EXPECT_NE(last_error().find("no target vocabulary"), std::string::npos) << last_error();
  EXPECT_STREQ(text, "untouched");
  EXPECT_EQ(bytes, 99u);
  int32_t spans[4] = {-7, -7, -7, -7};
  EXPECT_EQ(seqattn_model_source_spans(model.m, "a b", spans, 2, &n), SEQATTN_ERROR_UNSUPPORTED);
  EXPECT_EQ(spans[0], -7);
  const char* tok = nullptr;
  EXPECT_EQ(seqattn_model_source_token(model.m, 0, &tok), SEQATTN_ERROR_UNSUPPORTED);
  EXPECT_EQ(seqattn_model_target_token(model.m, 0, &tok), SEQATTN_ERROR_UNSUPPORTED);
  EXPECT_EQ(tok, nullptr);

  // Only the target side without a vocabulary: source text works, target text not.
  json config = fx.config;
  config["source_vocab"] = json::array();
  for (int i = 0; i < 13; ++i) config["source_vocab"].push_back("s" + std::to_string(i));
  config["tokenization"] = "words";
  config["lowercase_source"] = false;
  config["special_tokens"]["source_unk"] = 1;
  ModelOwner half;
  ASSERT_EQ(load_with(handle.h, fx, config, &half.m), SEQATTN_OK) << last_error();
  ASSERT_EQ(seqattn_model_encode_source(half.m, "s5 s8 zz", ids, 4, &n), SEQATTN_OK)
      << last_error();
  EXPECT_EQ(n, 3);
  EXPECT_EQ(std::vector<int32_t>(ids, ids + 3), (std::vector<int32_t>{5, 8, 1}));
  EXPECT_EQ(seqattn_model_decode_target(half.m, out_ids, 2, text, sizeof text, &bytes),
            SEQATTN_ERROR_UNSUPPORTED);
}

TEST(NoVocabularies, ConfigRules) {
  Fixture fx;
  std::string error;
  if (!std::ifstream(fixture_path("bahdanau_tutorial.safetensors")).good())
    GTEST_SKIP() << "fixture missing (tools/make_decoder_fixtures.py)";
  ASSERT_TRUE(load_fixture("bahdanau_tutorial.safetensors", &fx, &error)) << error;
  HandleOwner handle;
  const auto refused = [&](json config, const std::string& needle) {
    ModelOwner m;
    const seqattn_status st = load_with(handle.h, fx, config, &m.m);
    EXPECT_EQ(st, SEQATTN_ERROR_FORMAT) << needle;
    EXPECT_NE(last_error().find(needle), std::string::npos) << last_error();
  };
  json c = fx.config;
  c.erase("target_vocab_size");
  refused(c, "lacks both \"target_vocab\" and \"target_vocab_size\"");
  c = fx.config;
  c["source_vocab"] = {"a", "b"};  // 2 entries, but source_vocab_size says 13
  refused(c, "\"source_vocab_size\" = 13 but \"source_vocab\" has 2 entries");
  c = fx.config;
  c["source_vocab_size"] = 0;
  refused(c, "source_vocab_size");
  c = fx.config;
  c["decoder"]["kind"] = "luong";
  refused(c, "\"decoder.kind\" = \"luong\"");
  c = fx.config;
  c["source_padding"] = "left";
  refused(c, "\"source_padding\" = \"left\"");
  c = fx.config;
  c["source_mask"] = "no";
  refused(c, "\"source_mask\" is not true or false");
  c = fx.config;
  c["decoder"]["kind"] = "attention_keras";  // the tensors are the bahdanau shapes
  refused(c, "decoder.kernel");
  c = fx.config;
  c["special_tokens"]["target_end"] = 11;  // outside target_vocab_size
  refused(c, "special_tokens.target_end");
}

}  // namespace
