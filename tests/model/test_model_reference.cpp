// The model through the C API against the double-precision reference of
// model_test_util.hpp, for every configuration the format allows: embedding
// and one-hot inputs (both one-hot paths: vocabulary <= 3H and > 3H),
// unidirectional and bidirectional encoders, both GRU variants, attention with
// and without bias; both decoder kinds; masked, unmasked, pre- and
// post-padded sources; files without vocabularies. Scoring, greedy decoding,
// and the consistency of the two, on the library's reference, on the fast
// CPU path and on CUDA (skipped without a GPU), each within its tolerance of
// atol_for / rtol_for.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "model_test_util.hpp"

namespace {

using namespace model_test;

struct Case {
  std::string name;
  Spec spec;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::vector<Case> cases() {
  std::vector<Case> out;
  {
    Spec s;  // bidirectional, embeddings, reset_after
    out.push_back({"bidirectional_embedding", s});
  }
  {
    Spec s;  // the exact seed: one-hot, unidirectional; V <= 3H: identity tables
    s.bidirectional = false;
    s.src_embedding = 0;
    s.tgt_embedding = 0;
    s.seed = 2;
    out.push_back({"onehot_identity", s});
  }
  {
    Spec s;  // one-hot with V > 3H on both sides: the kernel rows are the table
    s.units = 3;
    s.src_vocab = 23;
    s.tgt_vocab = 25;
    s.src_embedding = 0;
    s.tgt_embedding = 0;
    s.seed = 3;
    out.push_back({"onehot_kernel_rows", s});
  }
  {
    Spec s;  // reset_before, attention bias
    s.reset_after = false;
    s.attention_bias = true;
    s.seed = 4;
    out.push_back({"reset_before_bias", s});
  }
  {
    Spec s;  // one-hot source, embedded target, primes everywhere
    s.units = 5;
    s.bidirectional = false;
    s.src_embedding = 0;
    s.tgt_embedding = 3;
    s.attention_units = 13;
    s.src_vocab = 17;
    s.tgt_vocab = 7;
    s.seed = 5;
    out.push_back({"mixed_primes", s});
  }
  {
    Spec s;  // bidirectional one-hot, as the seed's bidirectional variant
    s.src_embedding = 0;
    s.tgt_embedding = 0;
    s.seed = 6;
    out.push_back({"bidirectional_onehot", s});
  }
  // decoder.kind "bahdanau" (the PyTorch tutorial's AttnDecoderRNN) on each input path.
  {
    Spec s;  // bidirectional, embeddings
    s.bahdanau = true;
    s.seed = 7;
    out.push_back({"bahdanau_embedding", s});
  }
  {
    Spec s;  // one-hot, V <= 3H: identity table, the step kernel is the file's
    s.bahdanau = true;
    s.bidirectional = false;
    s.src_embedding = 0;
    s.tgt_embedding = 0;
    s.seed = 8;
    out.push_back({"bahdanau_onehot_identity", s});
  }
  {
    Spec s;  // one-hot target with V > 3H: kernel rows as table, [I; context rows] kernel
    s.bahdanau = true;
    s.units = 3;
    s.tgt_vocab = 25;
    s.tgt_embedding = 0;
    s.reset_after = false;
    s.attention_bias = true;
    s.seed = 9;
    out.push_back({"bahdanau_onehot_kernel_rows_reset_before", s});
  }
  // source_mask / source_padding.
  {
    Spec s;  // masked: the padding side changes nothing
    s.pad_pre = true;
    s.seed = 10;
    out.push_back({"masked_pre", s});
  }
  {
    Spec s;  // unmasked, pads before the tokens, as Keras pad_sequences
    s.mask = false;
    s.pad_pre = true;
    s.max_source_len = 9;
    s.seed = 11;
    out.push_back({"unmasked_pre", s});
  }
  {
    Spec s;  // unmasked, pads after, with the bahdanau decoder (the tutorial's data loader)
    s.mask = false;
    s.bahdanau = true;
    s.bidirectional = false;
    s.max_source_len = 10;
    s.seed = 12;
    out.push_back({"unmasked_post_bahdanau", s});
  }
  {
    Spec s;  // no vocabularies: ids only
    s.vocabularies = false;
    s.seed = 13;
    out.push_back({"no_vocabularies", s});
  }
  return out;
}

// The library's reference accumulates in double like this test's; the fast
// CPU path is held to the PRECISE contract of seqattn.h (1e-5 + 1e-4·|x|);
// a GPU accumulates in float.
double atol_for(seqattn_device d) {
  return d == SEQATTN_DEVICE_CPU_REFERENCE ? 2e-6 : d == SEQATTN_DEVICE_CPU ? 1e-5 : 2e-5;
}
double rtol_for(seqattn_device d) { return d == SEQATTN_DEVICE_CPU_REFERENCE ? 1e-5 : 1e-4; }

class ModelReference : public ::testing::TestWithParam<std::tuple<Case, seqattn_device>> {
 protected:
  void SetUp() override {
    const auto& [c, device] = GetParam();
    spec_ = c.spec;
    kAtol = atol_for(device);
    kRtol = rtol_for(device);
    if (!device_available(device))
      GTEST_SKIP() << "no CUDA device (seqattn_cuda_device_count() == 0)";
    handle_ = std::make_unique<HandleOwner>(device);
    ASSERT_EQ(handle_->status, SEQATTN_OK) << last_error();
    file_ = random_model(spec_);
    const Bytes bytes = file_.serialize();
    ASSERT_EQ(seqattn_model_load_from_memory(handle_->h, bytes.data(), bytes.size(), &model_.m),
              SEQATTN_OK)
        << last_error();
    ref_ = std::make_unique<Reference>(spec_, file_);

    // Rows of every kind: full length, short, a single step, empty.
    Lcg rng(spec_.seed + 100);
    src_len_ = {kTs, 4, 1, 0, 5};
    for (int32_t i = 0; i < kB * kTs; ++i) src_.push_back(rng.below(spec_.src_vocab));
  }
  void TearDown() override {
    seqattn_model_destroy(model_.m);  // before the handle
    model_.m = nullptr;
  }

  std::vector<int32_t> src_row(int32_t b) const {
    return {src_.begin() + b * kTs, src_.begin() + (b + 1) * kTs};
  }

  static constexpr int32_t kB = 5, kTs = 7;
  double kAtol = 0, kRtol = 0;
  Spec spec_;
  std::unique_ptr<HandleOwner> handle_;
  ModelOwner model_;
  SafetensorsFile file_;
  std::unique_ptr<Reference> ref_;
  std::vector<int32_t> src_, src_len_;
};

TEST_P(ModelReference, ScoreMatchesReference) {
  constexpr int32_t kTd = 6;
  const int32_t vt = spec_.tgt_vocab;
  Lcg rng(spec_.seed + 200);
  std::vector<int32_t> tgt, tgt_len = {kTd, 3, kTd, 2, 0};
  for (int32_t i = 0; i < kB * kTd; ++i) tgt.push_back(rng.below(vt));
  std::vector<float> probs(size_t(kB * kTd * vt), -1.0f), att(size_t(kB * kTd * kTs), -1.0f);
  ASSERT_EQ(seqattn_model_score(handle_->h, model_.m, kB, kTs, src_.data(), src_len_.data(), kTd,
                                tgt.data(), tgt_len.data(), probs.data(), att.data()),
            SEQATTN_OK)
      << last_error();
  for (int32_t b = 0; b < kB; ++b) {
    const std::vector<int32_t> row(tgt.begin() + b * kTd, tgt.begin() + (b + 1) * kTd);
    const Reference::Scored want =
        ref_->score(src_row(b), src_len_[size_t(b)], row, tgt_len[size_t(b)]);
    const std::vector<float> got_p(probs.begin() + b * kTd * vt,
                                   probs.begin() + (b + 1) * kTd * vt);
    const std::vector<float> got_a(att.begin() + b * kTd * kTs, att.begin() + (b + 1) * kTd * kTs);
    EXPECT_TRUE(all_close(got_p, want.probs, kAtol, kRtol, "probs row " + std::to_string(b)));
    EXPECT_TRUE(
        all_close(got_a, want.attention, kAtol, kRtol, "attention row " + std::to_string(b)));
  }
}

TEST_P(ModelReference, ScoreWithoutLengthsOrAttention) {
  constexpr int32_t kTd = 4;
  const int32_t vt = spec_.tgt_vocab;
  std::vector<int32_t> tgt(size_t(kB * kTd), 1);
  std::vector<float> probs(size_t(kB * kTd * vt));
  ASSERT_EQ(seqattn_model_score(handle_->h, model_.m, kB, kTs, src_.data(), nullptr, kTd,
                                tgt.data(), nullptr, probs.data(), nullptr),
            SEQATTN_OK)
      << last_error();
  for (int32_t b = 0; b < kB; ++b) {
    const Reference::Scored want = ref_->score(src_row(b), kTs, std::vector<int32_t>(kTd, 1), kTd);
    const std::vector<float> got(probs.begin() + b * kTd * vt, probs.begin() + (b + 1) * kTd * vt);
    EXPECT_TRUE(all_close(got, want.probs, kAtol, kRtol, "probs row " + std::to_string(b)));
  }
}

TEST_P(ModelReference, TranslateMatchesReference) {
  const int32_t steps = spec_.max_target_len;
  std::vector<int32_t> out(size_t(kB * steps), -7), lengths(kB, -7);
  std::vector<float> att(size_t(kB * steps * kTs), -1.0f);
  ASSERT_EQ(seqattn_model_translate(handle_->h, model_.m, kB, kTs, src_.data(), src_len_.data(),
                                    steps, out.data(), lengths.data(), att.data()),
            SEQATTN_OK)
      << last_error();
  for (int32_t b = 0; b < kB; ++b) {
    const Reference::Greedy want = ref_->translate(src_row(b), src_len_[size_t(b)], steps);
    SCOPED_TRACE("row " + std::to_string(b));
    ASSERT_EQ(lengths[size_t(b)], int32_t(want.tokens.size()));
    std::vector<int32_t> want_tokens = want.tokens;
    want_tokens.resize(size_t(steps), 0);  // target_pad after the end
    const std::vector<int32_t> got(out.begin() + b * steps, out.begin() + (b + 1) * steps);
    EXPECT_EQ(got, want_tokens);
    std::vector<double> want_att = want.attention;
    want_att.resize(size_t(steps * kTs), 0.0);  // rows after the end are 0
    const std::vector<float> got_a(att.begin() + b * steps * kTs,
                                   att.begin() + (b + 1) * steps * kTs);
    EXPECT_TRUE(all_close(got_a, want_att, kAtol, kRtol, "attention"));
  }
}

// The greedy output, fed back with teacher forcing, is the argmax at every step,
// and both paths (step-by-step with projected keys; all steps at once) give the
// same attention.
TEST_P(ModelReference, TranslateAgreesWithScore) {
  const int32_t steps = spec_.max_target_len, vt = spec_.tgt_vocab;
  std::vector<int32_t> out(size_t(kB * steps)), lengths(kB);
  std::vector<float> att(size_t(kB * steps * kTs));
  ASSERT_EQ(seqattn_model_translate(handle_->h, model_.m, kB, kTs, src_.data(), src_len_.data(),
                                    steps, out.data(), lengths.data(), att.data()),
            SEQATTN_OK)
      << last_error();
  std::vector<int32_t> tgt_in(size_t(kB * steps), 0), tgt_len(kB);
  for (int32_t b = 0; b < kB; ++b) {
    tgt_in[size_t(b * steps)] = 1;  // <start>
    for (int32_t t = 1; t < steps; ++t)
      tgt_in[size_t(b * steps + t)] = out[size_t(b * steps + t - 1)];
    tgt_len[size_t(b)] = std::max(1, lengths[size_t(b)]);
  }
  std::vector<float> probs(size_t(kB * steps * vt)), satt(size_t(kB * steps * kTs));
  ASSERT_EQ(seqattn_model_score(handle_->h, model_.m, kB, kTs, src_.data(), src_len_.data(), steps,
                                tgt_in.data(), tgt_len.data(), probs.data(), satt.data()),
            SEQATTN_OK)
      << last_error();
  for (int32_t b = 0; b < kB; ++b)
    for (int32_t t = 0; t < lengths[size_t(b)]; ++t) {
      const float* p = probs.data() + (b * steps + t) * vt;
      EXPECT_EQ(int32_t(std::max_element(p, p + vt) - p), out[size_t(b * steps + t)])
          << "row " << b << " step " << t;
      for (int32_t i = 0; i < kTs; ++i)
        EXPECT_NEAR(att[size_t((b * steps + t) * kTs + i)], satt[size_t((b * steps + t) * kTs + i)],
                    kAtol)
            << "row " << b << " step " << t << " source " << i;
    }
}

// A row's translation does not depend on the other rows of its batch, nor on
// the padding tokens past its length.
TEST_P(ModelReference, RowsAreIndependentOfTheBatch) {
  const int32_t steps = spec_.max_target_len;
  std::vector<int32_t> out(size_t(kB * steps)), lengths(kB);
  ASSERT_EQ(seqattn_model_translate(handle_->h, model_.m, kB, kTs, src_.data(), src_len_.data(),
                                    steps, out.data(), lengths.data(), nullptr),
            SEQATTN_OK)
      << last_error();
  const int32_t b = 1;
  std::vector<int32_t> alone(src_.begin() + b * kTs, src_.begin() + b * kTs + src_len_[b]);
  std::vector<int32_t> out1(static_cast<size_t>(steps)), len1(1);
  ASSERT_EQ(seqattn_model_translate(handle_->h, model_.m, 1, int32_t(alone.size()), alone.data(),
                                    nullptr, steps, out1.data(), len1.data(), nullptr),
            SEQATTN_OK)
      << last_error();
  EXPECT_EQ(len1[0], lengths[b]);
  EXPECT_EQ(out1, std::vector<int32_t>(out.begin() + b * steps, out.begin() + (b + 1) * steps));
}

std::string case_name(const ::testing::TestParamInfo<std::tuple<Case, seqattn_device>>& info) {
  return std::get<0>(info.param).name + "_" + device_name(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Configs, ModelReference,
                         ::testing::Combine(::testing::ValuesIn(cases()),
                                            ::testing::ValuesIn(all_devices())),
                         case_name);

}  // namespace
