// Keras parity from the golden fixtures of tools/make_fixtures.py
// (tests/fixtures/*.safetensors): teacher-forced probabilities and attention
// weights of the date model, of the attention_keras seed architecture (one-hot,
// unidirectional and bidirectional, no masking) and of an embedding /
// reset_before / attention-bias / masked variant must agree with Keras within
// 1e-4 on every valid step; the seed-003 forecaster (SimpleRNN -> attention
// pooling -> Dense) through the layer C API likewise. On the fast CPU path
// and the reference always; CUDA when a device exists. A missing fixture
// skips the test and names the file.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "model_test_util.hpp"

namespace {

using namespace model_test;

constexpr double kParityTol = 1e-4;  // the bound, absolute

std::string fixture_path(const std::string& name) { return SEQATTN_FIXTURES_DIR "/" + name; }

bool exists(const std::string& path) { return std::ifstream(path).good(); }

// --------------------------------------------------------------- seq2seq

struct Seq2SeqFixture {
  std::string file;   // under tests/fixtures/
  std::string model;  // the model file; empty: the fixture file itself
};

void PrintTo(const Seq2SeqFixture& f, std::ostream* os) { *os << f.file; }

class Seq2SeqParity : public ::testing::TestWithParam<std::tuple<Seq2SeqFixture, seqattn_device>> {
};

TEST_P(Seq2SeqParity, TeacherForcedProbsAndAttention) {
  const auto& [fx, device] = GetParam();
  const std::string path = fixture_path(fx.file);
  const std::string model_path = fx.model.empty() ? path : fx.model;
  if (!exists(path)) GTEST_SKIP() << "fixture " << path << " is missing (tools/make_fixtures.py)";
  if (!exists(model_path)) GTEST_SKIP() << "model " << model_path << " is missing";
  if (!device_available(device))
    GTEST_SKIP() << "no CUDA device (seqattn_cuda_device_count() == 0)";

  std::string error;
  const std::optional<SafetensorsFile> file = read_safetensors(path, &error);
  ASSERT_TRUE(file) << error;
  const auto get = [&](const std::string& name) -> const Tensor& {
    static const Tensor none;
    const auto it = file->tensors.find(name);
    EXPECT_NE(it, file->tensors.end()) << path << " lacks " << name;
    return it == file->tensors.end() ? none : it->second;
  };
  const Tensor &src = get("fixture.src_tokens"), &src_len = get("fixture.src_lengths");
  const Tensor &tgt = get("fixture.tgt_in_tokens"), &tgt_len = get("fixture.tgt_lengths");
  const Tensor &probs = get("fixture.probs"), &att = get("fixture.attention");
  ASSERT_FALSE(::testing::Test::HasFailure());
  ASSERT_EQ(src.dtype, "I32");
  ASSERT_EQ(probs.dtype, "F32");
  const auto B = int32_t(src.dim(0)), Ts = int32_t(src.dim(1)), Td = int32_t(tgt.dim(1));
  const auto Vt = int32_t(probs.dim(2));
  ASSERT_EQ(probs.shape, (std::vector<int64_t>{B, Td, Vt}));
  ASSERT_EQ(att.shape, (std::vector<int64_t>{B, Td, Ts}));

  HandleOwner handle(device);
  ASSERT_EQ(handle.status, SEQATTN_OK) << last_error();
  ModelOwner model;
  ASSERT_EQ(seqattn_model_load(handle.h, model_path.c_str(), &model.m), SEQATTN_OK) << last_error();

  std::vector<float> got_p(size_t(B) * size_t(Td) * size_t(Vt), -1.0f);
  std::vector<float> got_a(size_t(B) * size_t(Td) * size_t(Ts), -1.0f);
  const std::vector<int32_t> src_v = src.i32(), src_len_v = src_len.i32(), tgt_v = tgt.i32(),
                             tgt_len_v = tgt_len.i32();
  ASSERT_EQ(seqattn_model_score(handle.h, model.m, B, Ts, src_v.data(), src_len_v.data(), Td,
                                tgt_v.data(), tgt_len_v.data(), got_p.data(), got_a.data()),
            SEQATTN_OK)
      << last_error();

  // Valid steps only: Keras computes something past tgt_lengths, we write 0.
  std::vector<bool> use_p(got_p.size()), use_a(got_a.size());
  for (int32_t b = 0; b < B; ++b)
    for (int32_t t = 0; t < Td; ++t) {
      const bool valid = t < tgt_len_v[size_t(b)];
      for (int32_t j = 0; j < Vt; ++j) use_p[size_t((b * Td + t) * Vt + j)] = valid;
      for (int32_t i = 0; i < Ts; ++i) use_a[size_t((b * Td + t) * Ts + i)] = valid;
    }
  double max_p = 0.0, max_a = 0.0;
  EXPECT_TRUE(all_close(got_p, probs.f32(), kParityTol, 0.0, "probs", &max_p, use_p));
  EXPECT_TRUE(all_close(got_a, att.f32(), kParityTol, 0.0, "attention", &max_a, use_a));
  std::printf("%s on %s: max |seqattn - keras| probs %.3g, attention %.3g\n", fx.file.c_str(),
              device_name(device).c_str(), max_p, max_a);
  RecordProperty("max_diff_probs", std::to_string(max_p));
  RecordProperty("max_diff_attention", std::to_string(max_a));

  // The date fixture also lists its sources and the targets: greedy decoding
  // of the sources must give them.
  const auto sources = file->metadata.find("sources"), targets = file->metadata.find("targets");
  if (sources == file->metadata.end() || targets == file->metadata.end()) return;
  const auto in = json::parse(sources->second).get<std::vector<std::string>>();
  const auto want = json::parse(targets->second).get<std::vector<std::string>>();
  ASSERT_EQ(in.size(), want.size());
  seqattn_model_info info;
  seqattn_model_info_init(&info);
  ASSERT_EQ(seqattn_model_get_info(model.m, &info), SEQATTN_OK);
  const int32_t steps = info.max_target_len;
  std::vector<int32_t> out(size_t(B) * size_t(steps));
  std::vector<int32_t> out_len(static_cast<size_t>(B));
  ASSERT_EQ(seqattn_model_translate(handle.h, model.m, B, Ts, src_v.data(), src_len_v.data(), steps,
                                    out.data(), out_len.data(), nullptr),
            SEQATTN_OK)
      << last_error();
  for (size_t b = 0; b < in.size() && b < size_t(B); ++b) {
    char text[128];
    size_t n = 0;
    ASSERT_EQ(seqattn_model_decode_target(model.m, out.data() + b * size_t(steps), out_len[b], text,
                                          sizeof text, &n),
              SEQATTN_OK);
    EXPECT_EQ(std::string(text, n), want[b]) << "source \"" << in[b] << "\"";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, Seq2SeqParity,
    ::testing::Combine(::testing::Values(Seq2SeqFixture{"date_model_parity.safetensors",
                                                        SEQATTN_DATE_MODEL},
                                         Seq2SeqFixture{"seed_onehot.safetensors", ""},
                                         Seq2SeqFixture{"seed_onehot_bidir.safetensors", ""},
                                         Seq2SeqFixture{"embed_reset_before.safetensors", ""}),
                       ::testing::ValuesIn(all_devices())),
    [](const auto& p) {
      std::string name = std::get<0>(p.param).file;
      name = name.substr(0, name.find('.'));
      return name + "_" + device_name(std::get<1>(p.param));
    });

// ------------------------------------------------------------- forecaster

// Memory of a handle holding a copy of host data; freed with the handle's
// seqattn_free. Must not outlive the handle.
class Buffer {
 public:
  Buffer(seqattn_handle h, const std::vector<float>& host) : h_(h), n_(host.size()) {
    EXPECT_EQ(seqattn_malloc(h, n_ * sizeof(float), &p_), SEQATTN_OK) << last_error();
    EXPECT_EQ(seqattn_copy_to_device(h, p_, host.data(), n_ * sizeof(float)), SEQATTN_OK);
  }
  Buffer(seqattn_handle h, size_t n) : Buffer(h, std::vector<float>(n, 0.0f)) {}
  ~Buffer() { seqattn_free(h_, p_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  float* get() const { return static_cast<float*>(p_); }
  std::vector<float> host() const {
    std::vector<float> v(n_);
    EXPECT_EQ(seqattn_copy_to_host(h_, v.data(), p_, n_ * sizeof(float)), SEQATTN_OK);
    return v;
  }

 private:
  seqattn_handle h_;
  size_t n_;
  void* p_ = nullptr;
};

class ForecasterParity : public ::testing::TestWithParam<seqattn_device> {};

TEST_P(ForecasterParity, SimpleRnnPoolingDense) {
  const std::string path = fixture_path("forecaster.safetensors");
  if (!exists(path)) GTEST_SKIP() << "fixture " << path << " is missing (tools/make_fixtures.py)";
  if (!device_available(GetParam())) GTEST_SKIP() << "no CUDA device";
  std::string error;
  const std::optional<SafetensorsFile> file = read_safetensors(path, &error);
  ASSERT_TRUE(file) << error;
  for (const char* name : {"fixture.x", "rnn.kernel", "rnn.recurrent_kernel", "rnn.bias",
                           "pooling.w", "pooling.b", "dense.kernel", "dense.bias",
                           "fixture.rnn_out", "fixture.pooled", "fixture.weights", "fixture.y"})
    ASSERT_TRUE(file->tensors.count(name)) << path << " lacks " << name;
  const auto& t = file->tensors;
  const Tensor& x = t.at("fixture.x");
  const auto B = int32_t(x.dim(0)), T = int32_t(x.dim(1)), F = int32_t(x.dim(2));
  const auto H = int32_t(t.at("rnn.kernel").dim(1)), D = int32_t(t.at("dense.kernel").dim(1));
  ASSERT_EQ(t.at("rnn.kernel").shape, (std::vector<int64_t>{F, H}));
  ASSERT_EQ(t.at("pooling.b").shape, (std::vector<int64_t>{T}));

  HandleOwner handle(GetParam());
  ASSERT_EQ(handle.status, SEQATTN_OK) << last_error();
  const seqattn_handle h = handle.h;
  Buffer d_x(h, x.f32()), d_k(h, t.at("rnn.kernel").f32()),
      d_rk(h, t.at("rnn.recurrent_kernel").f32());
  Buffer d_rb(h, t.at("rnn.bias").f32()), d_pw(h, t.at("pooling.w").f32());
  Buffer d_pb(h, t.at("pooling.b").f32()), d_dk(h, t.at("dense.kernel").f32());
  Buffer d_db(h, t.at("dense.bias").f32());
  Buffer d_rnn(h, size_t(B * T * H)), d_pooled(h, size_t(B * H)), d_w(h, size_t(B * T));
  Buffer d_y(h, size_t(B * D));

  const seqattn_rnn_dims rd{B, T, F, H};
  ASSERT_EQ(seqattn_simple_rnn_forward(h, &rd, 0, d_x.get(), nullptr, nullptr, d_k.get(),
                                       d_rk.get(), d_rb.get(), d_rnn.get(), nullptr),
            SEQATTN_OK)
      << last_error();
  const seqattn_pooling_dims pd{B, T, H};
  ASSERT_EQ(seqattn_attention_pooling_forward(h, &pd, d_rnn.get(), nullptr, d_pw.get(), d_pb.get(),
                                              d_pooled.get(), d_w.get()),
            SEQATTN_OK)
      << last_error();
  ASSERT_EQ(seqattn_dense_forward(h, B, H, D, d_pooled.get(), d_dk.get(), d_db.get(),
                                  SEQATTN_ACTIVATION_TANH, d_y.get()),
            SEQATTN_OK)
      << last_error();
  ASSERT_EQ(seqattn_synchronize(h), SEQATTN_OK);

  double worst = 0.0;
  EXPECT_TRUE(
      all_close(d_rnn.host(), t.at("fixture.rnn_out").f32(), kParityTol, 0.0, "rnn_out", &worst));
  EXPECT_TRUE(
      all_close(d_w.host(), t.at("fixture.weights").f32(), kParityTol, 0.0, "weights", &worst));
  EXPECT_TRUE(
      all_close(d_pooled.host(), t.at("fixture.pooled").f32(), kParityTol, 0.0, "pooled", &worst));
  EXPECT_TRUE(all_close(d_y.host(), t.at("fixture.y").f32(), kParityTol, 0.0, "y", &worst));
  std::printf("forecaster on %s: max |seqattn - keras| %.3g\n", device_name(GetParam()).c_str(),
              worst);
  RecordProperty("max_diff", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(Devices, ForecasterParity,
                         ::testing::ValuesIn(all_devices()),
                         [](const auto& p) { return device_name(p.param); });

}  // namespace
