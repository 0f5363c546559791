// The sequence-head model kind (format "seqattn.sequence_head") through the C
// API, on every device:
//   - seed 003's forecaster (tests/fixtures/forecaster_head.safetensors) gives
//     Keras's forecasts and pooling weights;
//   - a GRU + GRU + Dense(relu) + Dense(softmax) head gives the float64 numpy
//     forward pass of tools/make_sequence_head.py;
//   - random heads of every cell, activation and odd size give a double
//     reference written here from docs/model-format.md;
//   - bad arguments and bad files are refused by name, writing nothing; a
//     head is refused by the seq2seq functions and a seq2seq model by predict;
//   - the CLI's predict command.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "model_test_util.hpp"

namespace {

using namespace model_test;
namespace fs = std::filesystem;

const std::string kFixtures = SEQATTN_FIXTURES_DIR;

bool contains(const std::string& s, const std::string& needle) {
  return s.find(needle) != std::string::npos;
}

// ------------------------------------------------------------ random heads

struct RnnSpec {
  std::string cell;     // "simple_rnn" or "gru"
  std::string variant;  // gru: "reset_after" / "reset_before"
  int32_t units;
};
struct DenseSpec {
  int32_t units;
  std::string activation;
};
struct HeadSpec {
  std::string name;
  int32_t features, steps;
  std::vector<RnnSpec> rnn;
  std::vector<DenseSpec> dense;
  uint64_t seed = 1;
};

void PrintTo(const HeadSpec& s, std::ostream* os) { *os << s.name; }

json head_config(const HeadSpec& s) {
  json rnn = json::array(), dense = json::array();
  for (const RnnSpec& r : s.rnn) {
    json l = {{"cell", r.cell}, {"units", r.units}};
    if (r.cell == "gru") l["gru_variant"] = r.variant;
    rnn.push_back(l);
  }
  for (const DenseSpec& d : s.dense)
    dense.push_back({{"units", d.units}, {"activation", d.activation}});
  return {{"input_features", s.features}, {"steps", s.steps}, {"rnn", rnn},
          {"pooling", json::object()},    {"dense", dense},   {"name", s.name}};
}

SafetensorsFile random_head(const HeadSpec& s) {
  Lcg rng(s.seed);
  SafetensorsFile f;
  f.metadata = {{"format", "seqattn.sequence_head"},
                {"format_version", "1"},
                {"config", head_config(s).dump()}};
  const auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    size_t n = 1;
    for (int64_t d : shape) n *= size_t(d);
    f.tensors[name] = f32_tensor(std::move(shape), rng.vec(n, 0.8));
  };
  int64_t in = s.features;
  for (size_t i = 0; i < s.rnn.size(); ++i) {
    const std::string p = "rnn." + std::to_string(i) + ".";
    const int64_t h = s.rnn[i].units, g = s.rnn[i].cell == "gru" ? 3 * h : h;
    add(p + "kernel", {in, g});
    add(p + "recurrent_kernel", {h, g});
    if (s.rnn[i].variant == "reset_after")
      add(p + "bias", {2, g});
    else
      add(p + "bias", {g});
    in = h;
  }
  add("pooling.w", {in});
  add("pooling.b", {s.steps});
  for (size_t j = 0; j < s.dense.size(); ++j) {
    const std::string p = "dense." + std::to_string(j) + ".";
    add(p + "kernel", {in, s.dense[j].units});
    add(p + "bias", {s.dense[j].units});
    in = s.dense[j].units;
  }
  return f;
}

// The head of docs/model-format.md in double precision, one row at a time.
struct HeadReference {
  const HeadSpec& s;
  std::map<std::string, std::vector<double>> w;

  HeadReference(const HeadSpec& spec, const SafetensorsFile& f) : s(spec) {
    for (const auto& [name, t] : f.tensors) {
      const std::vector<float> v = t.f32();
      w[name].assign(v.begin(), v.end());
    }
  }

  static double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

  using Sequence = std::vector<std::vector<double>>;  // [T][width]

  // Layer `layer` over x [T][I]: its outputs [T][H], from h0 = 0.
  Sequence rnn(size_t layer, const Sequence& x) const {
    const RnnSpec& r = s.rnn[layer];
    const std::string p = "rnn." + std::to_string(layer) + ".";
    const std::vector<double>&K = w.at(p + "kernel"), &R = w.at(p + "recurrent_kernel"),
                        &b = w.at(p + "bias");
    const size_t H = size_t(r.units), I = x[0].size();
    std::vector<double> h(H, 0.0);
    Sequence out;
    for (const std::vector<double>& xt : x) {
      std::vector<double> next(H);
      if (r.cell == "simple_rnn") {
        for (size_t j = 0; j < H; ++j) {
          double a = b[j];
          for (size_t k = 0; k < I; ++k) a += xt[k] * K[k * H + j];
          for (size_t k = 0; k < H; ++k) a += h[k] * R[k * H + j];
          next[j] = std::tanh(a);
        }
      } else {
        const size_t G = 3 * H;
        const bool after = r.variant == "reset_after";
        std::vector<double> gx(G), gh(G, 0.0);
        for (size_t j = 0; j < G; ++j) {
          gx[j] = b[j];
          for (size_t k = 0; k < I; ++k) gx[j] += xt[k] * K[k * G + j];
          if (after) {
            gh[j] = b[G + j];
            for (size_t k = 0; k < H; ++k) gh[j] += h[k] * R[k * G + j];
          }
        }
        for (size_t j = 0; j < H; ++j) {
          double z, c;
          if (after) {
            z = sigmoid(gx[j] + gh[j]);
            const double rr = sigmoid(gx[H + j] + gh[H + j]);
            c = std::tanh(gx[2 * H + j] + rr * gh[2 * H + j]);
          } else {
            double az = gx[j], ac = gx[2 * H + j];
            for (size_t k = 0; k < H; ++k) az += h[k] * R[k * G + j];
            z = sigmoid(az);
            for (size_t k = 0; k < H; ++k) {
              double ar = gx[H + k];
              for (size_t m = 0; m < H; ++m) ar += h[m] * R[m * G + H + k];
              ac += sigmoid(ar) * h[k] * R[k * G + 2 * H + j];
            }
            c = std::tanh(ac);
          }
          next[j] = z * h[j] + (1 - z) * c;
        }
      }
      h = next;
      out.push_back(h);
    }
    return out;
  }

  // One row x [T * F] -> (y [N], weights [T]).
  std::pair<std::vector<double>, std::vector<double>> run(const float* x) const {
    Sequence seq(size_t(s.steps));
    for (size_t t = 0; t < seq.size(); ++t)
      seq[t].assign(x + t * size_t(s.features), x + (t + 1) * size_t(s.features));
    for (size_t i = 0; i < s.rnn.size(); ++i) seq = rnn(i, seq);
    const std::vector<double>&pw = w.at("pooling.w"), &pb = w.at("pooling.b");
    const size_t T = seq.size(), H = seq[0].size();
    std::vector<double> e(T);
    double m = -1e300;
    for (size_t t = 0; t < T; ++t) {
      double d = pb[t];
      for (size_t k = 0; k < H; ++k) d += seq[t][k] * pw[k];
      m = std::max(m, e[t] = std::tanh(d));
    }
    double z = 0.0;
    for (double& v : e) z += (v = std::exp(v - m));
    std::vector<double> y(H, 0.0);
    for (size_t t = 0; t < T; ++t) {
      e[t] /= z;
      for (size_t k = 0; k < H; ++k) y[k] += e[t] * seq[t][k];
    }
    for (size_t j = 0; j < s.dense.size(); ++j) {
      const std::string p = "dense." + std::to_string(j) + ".";
      const std::vector<double>&K = w.at(p + "kernel"), &b = w.at(p + "bias");
      const size_t N = size_t(s.dense[j].units), I = y.size();
      std::vector<double> o(b.begin(), b.end());
      for (size_t n = 0; n < N; ++n)
        for (size_t k = 0; k < I; ++k) o[n] += y[k] * K[k * N + n];
      const std::string& act = s.dense[j].activation;
      if (act == "softmax") {
        const double mx = *std::max_element(o.begin(), o.end());
        double sum = 0.0;
        for (double& v : o) sum += (v = std::exp(v - mx));
        for (double& v : o) v /= sum;
      } else {
        for (double& v : o)
          v = act == "tanh" ? std::tanh(v) : act == "relu" ? std::max(v, 0.0)
              : act == "sigmoid" ? sigmoid(v) : v;
      }
      y = o;
    }
    return {y, e};
  }
};

// ------------------------------------------------------------ fixtures

struct Loaded {
  std::unique_ptr<HandleOwner> handle;
  ModelOwner model;
  seqattn_model_info info{};
};

// Loads `bytes` on `device`; false (with a message) if it cannot.
::testing::AssertionResult load(seqattn_device device, const Bytes& bytes, Loaded& out) {
  out.handle = std::make_unique<HandleOwner>(device);
  if (out.handle->status != SEQATTN_OK)
    return ::testing::AssertionFailure() << "handle: " << last_error();
  if (seqattn_model_load_from_memory(out.handle->h, bytes.data(), bytes.size(), &out.model.m) !=
      SEQATTN_OK)
    return ::testing::AssertionFailure() << "load: " << last_error();
  seqattn_model_info_init(&out.info);
  if (seqattn_model_get_info(out.model.m, &out.info) != SEQATTN_OK)
    return ::testing::AssertionFailure() << "info: " << last_error();
  return ::testing::AssertionSuccess();
}

Bytes file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

class Devices : public ::testing::TestWithParam<seqattn_device> {
 protected:
  void SetUp() override {
    if (!device_available(GetParam())) GTEST_SKIP() << "no CUDA device";
  }
};

std::string device_param_name(const ::testing::TestParamInfo<seqattn_device>& p) {
  return device_name(p.param);
}

// A fixture file's model and its expected outputs: predict matches them within 1e-5.
void check_fixture(seqattn_device device, const std::string& file, const char* source) {
  const std::string path = kFixtures + "/" + file;
  std::string error;
  const auto f = read_safetensors(path, &error);
  ASSERT_TRUE(f) << error;
  Loaded m;
  ASSERT_TRUE(load(device, file_bytes(path), m));
  EXPECT_EQ(m.info.kind, SEQATTN_MODEL_SEQUENCE_HEAD);
  const Tensor& x = f->tensors.at("fixture.x");
  const auto B = int32_t(x.dim(0)), T = int32_t(x.dim(1)), F = int32_t(x.dim(2));
  EXPECT_EQ(m.info.steps, T);
  EXPECT_EQ(m.info.input_features, F);
  const std::vector<float> want_y = f->tensors.at("fixture.y").f32();
  const std::vector<float> want_w = f->tensors.at("fixture.weights").f32();
  ASSERT_EQ(want_y.size(), size_t(B) * size_t(m.info.output_dim));
  std::vector<float> y(want_y.size(), NAN), w(want_w.size(), NAN);
  ASSERT_EQ(seqattn_model_predict(m.handle->h, m.model.m, B, T, F, x.f32().data(), y.data(),
                                  w.data()),
            SEQATTN_OK)
      << last_error();
  double dy = 0, dw = 0;
  EXPECT_TRUE(all_close(y, want_y, 1e-5, 0.0, std::string(source) + " y", &dy));
  EXPECT_TRUE(all_close(w, want_w, 1e-5, 0.0, std::string(source) + " pooling weights", &dw));
  std::printf("%s on %s: max |y - %s| %.2e, pooling weights %.2e\n", file.c_str(),
              device_name(device).c_str(), source, dy, dw);
  // Without the weights: the same forecast.
  std::vector<float> y2(y.size(), NAN);
  ASSERT_EQ(seqattn_model_predict(m.handle->h, m.model.m, B, T, F, x.f32().data(), y2.data(),
                                  nullptr),
            SEQATTN_OK)
      << last_error();
  EXPECT_EQ(y2, y);
}

TEST_P(Devices, ForecasterGivesKerasOutputs) {
  check_fixture(GetParam(), "forecaster_head.safetensors", "Keras");
}

TEST_P(Devices, GruHeadGivesTheNumpyForward) {
  check_fixture(GetParam(), "sequence_head_gru.safetensors", "numpy");
}

TEST_P(Devices, ForecasterInfo) {
  Loaded m;
  ASSERT_TRUE(load(GetParam(), file_bytes(kFixtures + "/forecaster_head.safetensors"), m));
  EXPECT_EQ(m.info.kind, SEQATTN_MODEL_SEQUENCE_HEAD);
  EXPECT_EQ(m.info.input_features, 1);
  EXPECT_EQ(m.info.steps, 20);
  EXPECT_EQ(m.info.output_dim, 1);
  EXPECT_EQ(m.info.pooled_dim, 2);
  EXPECT_EQ(m.info.rnn_layers, 1);
  EXPECT_EQ(m.info.dense_layers, 1);
  EXPECT_STREQ(m.info.name, "seed-003-forecaster");
  EXPECT_EQ(m.info.source_vocab_size, 0);
  EXPECT_EQ(m.info.decoder_units, 0);
}

INSTANTIATE_TEST_SUITE_P(AllDevices, Devices, ::testing::ValuesIn(all_devices()),
                         device_param_name);

// ------------------------------------------------------------ random heads

class RandomHeads
    : public ::testing::TestWithParam<std::tuple<seqattn_device, HeadSpec>> {};

TEST_P(RandomHeads, MatchTheDoubleReference) {
  const auto& [device, spec] = GetParam();
  if (!device_available(device)) GTEST_SKIP() << "no CUDA device";
  const SafetensorsFile f = random_head(spec);
  Loaded m;
  ASSERT_TRUE(load(device, f.serialize(), m));
  const HeadReference ref(spec, f);
  const int32_t T = spec.steps, F = spec.features, N = m.info.output_dim;
  EXPECT_EQ(m.info.rnn_layers, int32_t(spec.rnn.size()));
  EXPECT_EQ(m.info.dense_layers, int32_t(spec.dense.size()));
  EXPECT_EQ(m.info.pooled_dim, spec.rnn.back().units);
  // Batches that grow and shrink: the buffers kept between calls must not
  // leak one call's rows into the next.
  for (const int32_t B : {3, 1, 7, 2}) {
    SCOPED_TRACE("batch " + std::to_string(B));
    Lcg rng(uint64_t(B) + 100);
    const std::vector<float> x = rng.vec(size_t(B) * size_t(T) * size_t(F), 1.0);
    std::vector<float> y(size_t(B) * size_t(N), NAN), w(size_t(B) * size_t(T), NAN);
    ASSERT_EQ(seqattn_model_predict(m.handle->h, m.model.m, B, T, F, x.data(), y.data(), w.data()),
              SEQATTN_OK)
        << last_error();
    std::vector<double> want_y, want_w;
    for (int32_t b = 0; b < B; ++b) {
      const auto [yb, wb] = ref.run(x.data() + size_t(b) * size_t(T) * size_t(F));
      want_y.insert(want_y.end(), yb.begin(), yb.end());
      want_w.insert(want_w.end(), wb.begin(), wb.end());
    }
    EXPECT_TRUE(all_close(y, want_y, 2e-5, 1e-4, "y"));
    EXPECT_TRUE(all_close(w, want_w, 2e-5, 1e-4, "pooling weights"));
    for (int32_t b = 0; b < B; ++b) {
      double sum = 0;
      for (int32_t t = 0; t < T; ++t) sum += w[size_t(b * T + t)];
      EXPECT_NEAR(sum, 1.0, 1e-5) << "row " << b;
    }
  }
}

std::vector<HeadSpec> random_specs() {
  return {
      {"seed003", 1, 20, {{"simple_rnn", "", 2}}, {{1, "tanh"}}, 1},
      {"gru_after_softmax", 3, 9, {{"gru", "reset_after", 6}}, {{4, "softmax"}}, 2},
      {"gru_before_sigmoid", 2, 5, {{"gru", "reset_before", 7}}, {{3, "sigmoid"}}, 3},
      {"three_layers_relu_linear", 4, 11,
       {{"simple_rnn", "", 5}, {"gru", "reset_before", 3}, {"gru", "reset_after", 9}},
       {{13, "relu"}, {2, "linear"}}, 4},
      {"no_dense", 2, 6, {{"gru", "reset_after", 5}}, {}, 5},
      {"one_step", 1, 1, {{"simple_rnn", "", 1}}, {{1, "linear"}}, 6},
      // More steps than the fast pooling's stack scratch (256).
      {"long_wide", 17, 300, {{"gru", "reset_after", 33}}, {{31, "softmax"}}, 7},
  };
}

INSTANTIATE_TEST_SUITE_P(
    AllDevices, RandomHeads,
    ::testing::Combine(::testing::ValuesIn(all_devices()), ::testing::ValuesIn(random_specs())),
    [](const auto& p) {
      return device_name(std::get<0>(p.param)) + "_" + std::get<1>(p.param).name;
    });

// ------------------------------------------------------------ refusals

class Refusals : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(load(SEQATTN_DEVICE_CPU, file_bytes(kFixtures + "/forecaster_head.safetensors"),
                     head_));
  }
  // `status` is refused with a message containing `needle`.
  static void expect_refused(seqattn_status status, const std::string& needle) {
    EXPECT_EQ(status, SEQATTN_ERROR_INVALID_ARGUMENT) << last_error();
    EXPECT_TRUE(contains(last_error(), needle)) << "message: " << last_error();
  }
  Loaded head_;
};

TEST_F(Refusals, BadPredictArgumentsNameTheArgumentAndWriteNothing) {
  const int32_t B = 2, T = 20, F = 1;
  const std::vector<float> x(size_t(B * T * F), 0.5f);
  std::vector<float> y(size_t(B), -7.0f), w(size_t(B * T), -7.0f);
  seqattn_handle h = head_.handle->h;
  seqattn_model m = head_.model.m;
  HandleOwner other;
  ASSERT_EQ(other.status, SEQATTN_OK);
  expect_refused(seqattn_model_predict(nullptr, m, B, T, F, x.data(), y.data(), w.data()),
                 "handle is NULL");
  expect_refused(seqattn_model_predict(h, nullptr, B, T, F, x.data(), y.data(), w.data()),
                 "model is NULL");
  expect_refused(seqattn_model_predict(other.h, m, B, T, F, x.data(), y.data(), w.data()),
                 "different handle");
  expect_refused(seqattn_model_predict(h, m, 0, T, F, x.data(), y.data(), w.data()), "batch = 0");
  expect_refused(seqattn_model_predict(h, m, B, 19, F, x.data(), y.data(), w.data()),
                 "steps = 19 but the model takes steps = 20");
  expect_refused(seqattn_model_predict(h, m, B, T, 2, x.data(), y.data(), w.data()),
                 "features = 2 but the model takes features = 1");
  expect_refused(seqattn_model_predict(h, m, B, T, F, nullptr, y.data(), w.data()), "x is NULL");
  expect_refused(seqattn_model_predict(h, m, B, T, F, x.data(), nullptr, w.data()),
                 "y_out is NULL");
  expect_refused(seqattn_model_predict(h, m, -3, T, F, x.data(), y.data(), w.data()),
                 "batch = -3");
  EXPECT_EQ(y, std::vector<float>(size_t(B), -7.0f)) << "a refused call wrote y_out";
  EXPECT_EQ(w, std::vector<float>(size_t(B * T), -7.0f)) << "a refused call wrote the weights";
}

TEST_F(Refusals, AHeadIsRefusedByTheSeq2SeqFunctions) {
  seqattn_handle h = head_.handle->h;
  seqattn_model m = head_.model.m;
  const int32_t src[2] = {2, 3};
  int32_t out[4] = {-1, -1, -1, -1}, lengths[1] = {-1}, n = -1;
  float probs[8];
  const char* token = nullptr;
  const std::string needle = "model is a sequence head";
  expect_refused(seqattn_model_translate(h, m, 1, 2, src, nullptr, 4, out, lengths, nullptr),
                 needle);
  expect_refused(
      seqattn_model_score(h, m, 1, 2, src, nullptr, 2, src, nullptr, probs, nullptr), needle);
  expect_refused(seqattn_model_encode_source(m, "text", nullptr, 0, &n), needle);
  expect_refused(seqattn_model_source_vocab_size(m, &n), needle);
  expect_refused(seqattn_model_target_token(m, 0, &token), needle);
  expect_refused(seqattn_model_source_spans(m, "text", nullptr, 0, &n), needle);
  EXPECT_TRUE(contains(last_error(), "seqattn_model_predict")) << last_error();
  EXPECT_EQ(out[0], -1);
  EXPECT_EQ(lengths[0], -1);
  EXPECT_EQ(n, -1);
  EXPECT_EQ(token, nullptr);
}

// A program built against seqattn 0.1.0's header (the struct up to
// `description`) passes that struct_size: it gets the fields it knows, and
// nothing past them is written.
TEST_F(Refusals, InfoOfTheOlderSizeFillsOnlyThatMuch) {
  constexpr size_t kOld = offsetof(seqattn_model_info, decoder_kind);
  Loaded seq2seq;
  ASSERT_TRUE(load(SEQATTN_DEVICE_CPU, random_model(Spec{}).serialize(), seq2seq));
  for (const auto& [m, name] : {std::pair{head_.model.m, "seed-003-forecaster"},
                                std::pair{seq2seq.model.m, "test-model"}}) {
    SCOPED_TRACE(name);
    seqattn_model_info info;
    std::memset(&info, 0x5a, sizeof info);
    info.struct_size = uint32_t(kOld);
    ASSERT_EQ(seqattn_model_get_info(m, &info), SEQATTN_OK) << last_error();
    EXPECT_EQ(info.struct_size, kOld);
    EXPECT_STREQ(info.name, name);
    const auto* tail = reinterpret_cast<const unsigned char*>(&info) + kOld;
    for (size_t i = 0; i < sizeof info - kOld; ++i)
      ASSERT_EQ(tail[i], 0x5a) << "byte " << kOld + i << " past the older struct was written";
  }
  seqattn_model_info info;
  seqattn_model_info_init(&info);
  info.struct_size = uint32_t(offsetof(seqattn_model_info, kind));  // never a released size
  EXPECT_EQ(seqattn_model_get_info(head_.model.m, &info), SEQATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(last_error(), "info->struct_size")) << last_error();
}

TEST_F(Refusals, ASeq2SeqModelIsRefusedByPredict) {
  Spec spec;
  const Bytes bytes = random_model(spec).serialize();
  Loaded s;
  ASSERT_TRUE(load(SEQATTN_DEVICE_CPU, bytes, s));
  EXPECT_EQ(s.info.kind, SEQATTN_MODEL_SEQ2SEQ);
  EXPECT_EQ(s.info.steps, 0);
  EXPECT_EQ(s.info.rnn_layers, 0);
  const std::vector<float> x(8, 0.0f);
  std::vector<float> y(8, -7.0f);
  expect_refused(
      seqattn_model_predict(s.handle->h, s.model.m, 1, 1, 1, x.data(), y.data(), nullptr),
      "model is a seq2seq model");
  EXPECT_TRUE(contains(last_error(), "seqattn_model_translate")) << last_error();
  EXPECT_EQ(y, std::vector<float>(8, -7.0f));
}

// ------------------------------------------------------------ bad files

struct BadHead {
  std::string name;
  std::function<void(json& config, SafetensorsFile& f)> edit;
  std::string needle;
};

TEST(SequenceHeadFiles, BadFilesAreRefusedByName) {
  const HeadSpec spec{"base", 2, 5, {{"gru", "reset_after", 4}, {"simple_rnn", "", 3}},
                      {{2, "softmax"}}, 9};
  const std::vector<BadHead> cases = {
      {"no steps", [](json& c, SafetensorsFile&) { c.erase("steps"); }, "\"steps\""},
      {"zero features", [](json& c, SafetensorsFile&) { c["input_features"] = 0; },
       "\"input_features\" = 0 is outside"},
      {"empty rnn", [](json& c, SafetensorsFile&) { c["rnn"] = json::array(); },
       "\"rnn\" is empty"},
      {"rnn not an array", [](json& c, SafetensorsFile&) { c["rnn"] = 3; },
       "\"rnn\" is not a JSON array"},
      {"unknown cell", [](json& c, SafetensorsFile&) { c["rnn"][1]["cell"] = "lstm"; },
       "\"rnn[1].cell\" = \"lstm\" is neither"},
      {"gru without variant", [](json& c, SafetensorsFile&) { c["rnn"][0].erase("gru_variant"); },
       "\"rnn[0].gru_variant\""},
      {"relu simple rnn", [](json& c, SafetensorsFile&) { c["rnn"][1]["activation"] = "relu"; },
       "\"rnn[1].activation\" = \"relu\""},
      {"units missing", [](json& c, SafetensorsFile&) { c["rnn"][1].erase("units"); },
       "\"rnn[1].units\""},
      {"no pooling", [](json& c, SafetensorsFile&) { c.erase("pooling"); }, "\"pooling\""},
      {"bad dense activation",
       [](json& c, SafetensorsFile&) { c["dense"][0]["activation"] = "gelu"; },
       "\"dense[0].activation\" = \"gelu\""},
      {"too many layers",
       [](json& c, SafetensorsFile&) {
         json many = json::array();
         for (int i = 0; i < 65; ++i) many.push_back({{"units", 1}, {"activation", "linear"}});
         c["dense"] = many;
       },
       "more than 64"},
      {"variant disagrees with the bias",
       [](json& c, SafetensorsFile&) { c["rnn"][0]["gru_variant"] = "reset_before"; },
       "rnn.0.bias"},
      {"kernel of the wrong shape",
       [](json&, SafetensorsFile& f) {
         f.tensors["rnn.1.kernel"] = f32_tensor({3, 3}, std::vector<float>(9, 0.0f));
       },
       "rnn.1.kernel"},
      {"pooling bias missing", [](json&, SafetensorsFile& f) { f.tensors.erase("pooling.b"); },
       "pooling.b"},
      {"steps disagree with the pooling bias", [](json& c, SafetensorsFile&) { c["steps"] = 6; },
       "pooling.b"},
      {"dense bias missing", [](json&, SafetensorsFile& f) { f.tensors.erase("dense.0.bias"); },
       "dense.0.bias"},
      {"format version 2",
       [](json&, SafetensorsFile& f) { f.metadata["format_version"] = "2"; },
       "\"format_version\" = \"2\""},
  };
  for (const BadHead& c : cases) {
    SCOPED_TRACE(c.name);
    SafetensorsFile f = random_head(spec);
    json config = json::parse(f.metadata.at("config"));
    c.edit(config, f);
    f.metadata["config"] = config.dump();
    const Bytes bytes = f.serialize();
    HandleOwner h;
    seqattn_model m = nullptr;
    EXPECT_EQ(seqattn_model_load_from_memory(h.h, bytes.data(), bytes.size(), &m),
              SEQATTN_ERROR_FORMAT);
    EXPECT_TRUE(contains(last_error(), c.needle)) << "message: " << last_error();
    EXPECT_TRUE(contains(last_error(), "model in memory")) << "message: " << last_error();
    EXPECT_EQ(m, nullptr);
    seqattn_model_destroy(m);
  }
}

TEST(SequenceHeadFiles, AnUnknownFormatNamesBoth) {
  SafetensorsFile f = random_head({"base", 1, 2, {{"simple_rnn", "", 2}}, {}, 1});
  f.metadata["format"] = "seqattn.lstm";
  const Bytes bytes = f.serialize();
  HandleOwner h;
  seqattn_model m = nullptr;
  EXPECT_EQ(seqattn_model_load_from_memory(h.h, bytes.data(), bytes.size(), &m),
            SEQATTN_ERROR_FORMAT);
  EXPECT_TRUE(contains(last_error(), "\"seqattn.lstm\"")) << last_error();
  EXPECT_TRUE(contains(last_error(), "seqattn.sequence_head")) << last_error();
  EXPECT_EQ(m, nullptr);
}

// ------------------------------------------------------------ the CLI

#ifdef SEQATTN_CLI

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("seqattn_head_cli_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The program with `stdin_text` on its stdin.
  CliRun run(const std::vector<std::string>& args, const std::string& stdin_text = "") {
    return run_program(SEQATTN_CLI, args, dir_, stdin_text);
  }
  fs::path dir_;
};

// Numbers of each line (whitespace separated; a tab splits y from the weights).
std::vector<std::vector<double>> numbers(const std::string& text) {
  std::vector<std::vector<double>> rows;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    rows.emplace_back();
    for (double v; fields >> v;) rows.back().push_back(v);
  }
  return rows;
}

TEST_F(Cli, PredictGivesTheKerasForecast) {
  const std::string model = kFixtures + "/forecaster_head.safetensors";
  std::string error;
  const auto f = read_safetensors(model, &error);
  ASSERT_TRUE(f) << error;
  const std::vector<float> x = f->tensors.at("fixture.x").f32();
  const std::vector<float> y = f->tensors.at("fixture.y").f32();
  const std::vector<float> w = f->tensors.at("fixture.weights").f32();
  const size_t B = 4, T = 20;
  ASSERT_EQ(x.size(), B * T);
  // One sequence per line: spaces on the first rows, commas on the last, a
  // comment and a blank line between them.
  std::string input = "# x of fixture.x\n";
  for (size_t b = 0; b < B; ++b) {
    for (size_t t = 0; t < T; ++t) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.9g", double(x[b * T + t]));
      input += (t == 0 ? "" : b == B - 1 ? ", " : " ") + std::string(buf);
    }
    input += b == 1 ? "\n\n" : "\n";
  }
  for (const std::string device : {"cpu", "reference"}) {
    SCOPED_TRACE(device);
    const CliRun r = run({"predict", "--model", model, "--device", device}, input);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto rows = numbers(r.out);
    ASSERT_EQ(rows.size(), B) << r.out;
    for (size_t b = 0; b < B; ++b) {
      ASSERT_EQ(rows[b].size(), 1u) << r.out;
      EXPECT_NEAR(rows[b][0], y[b], 1e-5) << "row " << b;
    }
  }
  // From a file, with the pooling weights after a tab.
  const fs::path in = dir_ / "x.txt";
  std::ofstream(in) << input;
  const CliRun r = run({"predict", "--model", model, "--show-pooling", in.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto rows = numbers(r.out);
  ASSERT_EQ(rows.size(), B) << r.out;
  for (size_t b = 0; b < B; ++b) {
    ASSERT_EQ(rows[b].size(), 1 + T) << r.out;
    EXPECT_NEAR(rows[b][0], y[b], 1e-5);
    for (size_t t = 0; t < T; ++t) EXPECT_NEAR(rows[b][1 + t], w[b * T + t], 1e-5);
  }
  EXPECT_NE(r.out.find('\t'), std::string::npos) << "no tab between y and the weights";
}

TEST_F(Cli, PredictRefusesBadInputByLine) {
  const std::string model = kFixtures + "/forecaster_head.safetensors";
  std::string twenty;
  for (int t = 0; t < 20; ++t) twenty += (t ? " " : "") + std::to_string(t * 0.05);
  struct Case {
    std::vector<std::string> args;
    std::string stdin_text;
    int exit_code;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {{"predict", "--model", model}, twenty + "\n0.5 0.5\n", 1,
       "line 2: expected 20 numbers (steps 20 \u00d7 features 1), got 2"},
      {{"predict", "--model", model}, twenty + " abc\n", 1, "line 1: 'abc' is not a number"},
      {{"predict", "--model", model}, "nan" + twenty.substr(twenty.find(' ')) + "\n", 1,
       "not a finite number"},
      {{"predict"}, "", 2, "seqattn predict needs --model"},
      {{"predict", "--model", model, "--max-steps", "3"}, "", 2, "unknown option '--max-steps'"},
      {{"predict", "--model", model, (dir_ / "missing.txt").string()}, "", 1, "missing.txt"},
      {{"predict", "--model", kFixtures + "/seed_onehot.safetensors"}, twenty + "\n", 1,
       "model is a seq2seq model"},
      {{"translate", "--model", model, "x"}, "", 1, "model is a sequence head"},
      {{"demo", "--model", model}, "", 1, "use seqattn predict"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.needle);
    const CliRun r = run(c.args, c.stdin_text);
    EXPECT_EQ(r.exit_code, c.exit_code) << r.err;
    EXPECT_TRUE(contains(r.err, c.needle)) << "stderr: " << r.err;
    EXPECT_EQ(r.out, "") << "stdout: " << r.out;
  }
}

TEST_F(Cli, HelpAndInfoDescribeTheHead) {
  const CliRun help = run({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(contains(help.out, "predict --model FILE")) << help.out;
  const CliRun info = run({"info", "--model", kFixtures + "/sequence_head_gru.safetensors"});
  EXPECT_EQ(info.exit_code, 0) << info.err;
  EXPECT_TRUE(contains(info.out, "sequence head")) << info.out;
  EXPECT_TRUE(contains(info.out, "x [B, 9, 3] -> y [B, 4]")) << info.out;
}

#endif  // SEQATTN_CLI

}  // namespace
