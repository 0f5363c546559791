// Helpers for the model tests, all through the C API and independent of the
// library's own model code:
//   - a safetensors writer and reader written here from the format (8-byte
//     little-endian header length, JSON header, data), for building model
//     files and reading the Keras fixtures;
//   - random models of every configuration the format allows;
//   - a reference implementation of the model in double precision, straight
//     from docs/model-format.md and docs/math.md (explicit one-hot vectors,
//     per-row loops), the oracle for scoring and greedy decoding;
//   - RAII owners for handles and models, and tolerant comparisons.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "seqattn/seqattn.h"

#include <sys/wait.h>

namespace model_test {

using nlohmann::json;
using Bytes = std::vector<uint8_t>;

// ------------------------------------------------------------- safetensors

struct Tensor {
  std::string dtype = "F32";  // "F32" or "I32" here
  std::vector<int64_t> shape;
  Bytes data;  // little-endian (this test runs on little-endian hosts)

  std::vector<float> f32() const {
    std::vector<float> v(data.size() / 4);
    std::memcpy(v.data(), data.data(), data.size());
    return v;
  }
  std::vector<int32_t> i32() const {
    std::vector<int32_t> v(data.size() / 4);
    std::memcpy(v.data(), data.data(), data.size());
    return v;
  }
  int64_t dim(size_t i) const { return i < shape.size() ? shape[i] : 0; }
};

inline Tensor f32_tensor(std::vector<int64_t> shape, const std::vector<float>& values) {
  Tensor t{"F32", std::move(shape), Bytes(values.size() * 4)};
  std::memcpy(t.data.data(), values.data(), t.data.size());
  return t;
}

struct SafetensorsFile {
  std::map<std::string, std::string> metadata;
  std::map<std::string, Tensor> tensors;

  Bytes serialize() const {
    json header = json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {
      header[name] = {{"dtype", t.dtype},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.data.size()}}};
      offset += t.data.size();
    }
    const std::string text = header.dump();
    Bytes out;
    for (int i = 0; i < 8; ++i) out.push_back(uint8_t(uint64_t(text.size()) >> (8 * i)));
    out.insert(out.end(), text.begin(), text.end());
    for (const auto& [name, t] : tensors) out.insert(out.end(), t.data.begin(), t.data.end());
    return out;
  }
};

inline bool write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  return bool(f);
}

// A trusted-file reader for the fixtures; nullopt (and `error`) if unreadable.
inline std::optional<SafetensorsFile> read_safetensors(const std::string& path,
                                                       std::string* error) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    *error = "cannot open " + path;
    return std::nullopt;
  }
  const Bytes bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (bytes.size() < 8) {
    *error = path + " is shorter than 8 bytes";
    return std::nullopt;
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[size_t(i)];
  if (n > bytes.size() - 8) {
    *error = path + ": header length past the end";
    return std::nullopt;
  }
  SafetensorsFile file;
  const json header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + long(n));
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      file.metadata = entry.get<std::map<std::string, std::string>>();
      continue;
    }
    Tensor t;
    t.dtype = entry.at("dtype").get<std::string>();
    t.shape = entry.at("shape").get<std::vector<int64_t>>();
    const auto offsets = entry.at("data_offsets").get<std::vector<uint64_t>>();
    const size_t begin = size_t(8 + n + offsets.at(0)), end = size_t(8 + n + offsets.at(1));
    if (end > bytes.size() || begin > end) {
      *error = path + ": tensor " + name + " past the end";
      return std::nullopt;
    }
    t.data.assign(bytes.begin() + long(begin), bytes.begin() + long(end));
    file.tensors[name] = std::move(t);
  }
  return file;
}

// ------------------------------------------------------------ random models

// Uniform in [lo, hi) from a fixed-seed LCG.
class Lcg {
 public:
  explicit Lcg(uint64_t seed) : state_(seed * 6364136223846793005ull + 1442695040888963407ull) {}
  double uniform(double lo = -1.0, double hi = 1.0) {
    state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * double(state_ >> 11) / double(1ull << 53);
  }
  int32_t below(int32_t n) { return int32_t(uniform(0.0, double(n))) % n; }
  std::vector<float> vec(size_t n, double scale) {
    std::vector<float> v(n);
    for (float& x : v) x = float(uniform(-scale, scale));
    return v;
  }

 private:
  uint64_t state_;
};

struct Spec {
  int32_t units = 6;  // encoder units per direction
  bool bidirectional = true;
  int32_t src_embedding = 5;  // 0: one-hot
  int32_t tgt_embedding = 4;  // 0: one-hot
  int32_t attention_units = 7;
  bool attention_bias = false;
  bool reset_after = true;
  int32_t src_vocab = 11;
  int32_t tgt_vocab = 9;
  std::string tokenization = "chars";
  bool lowercase = true;
  int32_t max_target_len = 8;
  double scale = 0.8;  // weights uniform in [-scale, scale]
  uint64_t seed = 1;
  // Config options of issue 10 (docs/model-format.md).
  bool bahdanau = false;     // decoder.kind "bahdanau"
  bool mask = true;          // source_mask
  bool pad_pre = false;      // source_padding "pre"
  int32_t max_source_len = 20;
  bool vocabularies = true;  // false: only source_vocab_size / target_vocab_size

  int32_t he() const { return bidirectional ? 2 * units : units; }
};

// Vocabularies for a Spec: source "<pad>", "<unk>", then single characters;
// target "<pad>", "<start>", "<end>", then single characters.
inline std::vector<std::string> source_vocab(const Spec& s) {
  std::vector<std::string> v = {"<pad>", "<unk>"};
  const std::string chars = " abcdefghijklmnopqrstuvwxyz0123456789-,./";
  for (int32_t i = 0; int32_t(v.size()) < s.src_vocab; ++i)
    v.push_back(i < int32_t(chars.size()) ? std::string(1, chars[size_t(i)])
                                          : "w" + std::to_string(i));
  return v;
}
inline std::vector<std::string> target_vocab(const Spec& s) {
  std::vector<std::string> v = {"<pad>", "<start>", "<end>"};
  const std::string chars = "0123456789-abcdefghijklmnopqrstuvwxyz";
  for (int32_t i = 0; int32_t(v.size()) < s.tgt_vocab; ++i)
    v.push_back(i < int32_t(chars.size()) ? std::string(1, chars[size_t(i)])
                                          : "t" + std::to_string(i));
  return v;
}

inline json config_json(const Spec& s) {
  json c = {{"encoder",
           {{"units", s.units},
            {"bidirectional", s.bidirectional},
            {"embedding_dim", s.src_embedding}}},
          {"decoder", {{"units", s.he()}, {"embedding_dim", s.tgt_embedding}}},
          {"attention", {{"units", s.attention_units}, {"bias", s.attention_bias}}},
          {"gru_variant", s.reset_after ? "reset_after" : "reset_before"},
          {"tokenization", s.tokenization},
          {"lowercase_source", s.lowercase},
          {"source_vocab", source_vocab(s)},
          {"target_vocab", target_vocab(s)},
          {"special_tokens",
           {{"source_pad", 0},
            {"source_unk", 1},
            {"target_pad", 0},
            {"target_start", 1},
            {"target_end", 2}}},
          {"max_source_len", s.max_source_len},
          {"max_target_len", s.max_target_len},
          {"name", "test-model"},
          {"description", "random weights"}};
  if (s.bahdanau) c["decoder"]["kind"] = "bahdanau";
  if (!s.mask) c["source_mask"] = false;
  if (s.pad_pre) c["source_padding"] = "pre";
  if (!s.vocabularies) {
    for (const char* k : {"source_vocab", "target_vocab", "tokenization", "lowercase_source"})
      c.erase(k);
    c["special_tokens"].erase("source_unk");
    c["source_vocab_size"] = s.src_vocab;
    c["target_vocab_size"] = s.tgt_vocab;
  }
  return c;
}

inline SafetensorsFile random_model(const Spec& s) {
  Lcg rng(s.seed);
  SafetensorsFile f;
  f.metadata = {
      {"format", "seqattn.seq2seq"}, {"format_version", "1"}, {"config", config_json(s).dump()}};
  const int64_t vs = s.src_vocab, vt = s.tgt_vocab, h = s.units, he = s.he(), hd = he;
  const int64_t es = s.src_embedding > 0 ? s.src_embedding : vs;
  const int64_t et = s.tgt_embedding > 0 ? s.tgt_embedding : vt;
  const auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    size_t n = 1;
    for (int64_t d : shape) n *= size_t(d);
    f.tensors[name] = f32_tensor(std::move(shape), rng.vec(n, s.scale));
  };
  const auto gru = [&](const std::string& prefix, int64_t in, int64_t units) {
    add(prefix + "kernel", {in, 3 * units});
    add(prefix + "recurrent_kernel", {units, 3 * units});
    if (s.reset_after)
      add(prefix + "bias", {2, 3 * units});
    else
      add(prefix + "bias", {3 * units});
  };
  if (s.src_embedding > 0) add("encoder.embedding", {vs, es});
  gru("encoder.forward.", es, h);
  if (s.bidirectional) gru("encoder.backward.", es, h);
  if (s.tgt_embedding > 0) add("decoder.embedding", {vt, et});
  gru("decoder.", s.bahdanau ? et + he : et, hd);
  add("attention.W", {he, s.attention_units});
  add("attention.U", {hd, s.attention_units});
  if (s.attention_bias) add("attention.bias", {s.attention_units});
  add("attention.v", {s.attention_units});
  add("output.kernel", {s.bahdanau ? hd : hd + he, vt});
  add("output.bias", {vt});
  return f;
}

// --------------------------------------------------- the reference model

// The model of docs/model-format.md in double precision, one row at a time.
class Reference {
 public:
  Reference(const Spec& spec, const SafetensorsFile& file) : s_(spec) {
    for (const auto& [name, t] : file.tensors) {
      const std::vector<float> v = t.f32();
      w_[name].assign(v.begin(), v.end());
    }
  }

  struct Scored {
    std::vector<double> probs;      // [Td, Vt]
    std::vector<double> attention;  // [Td, Ts]
  };
  struct Greedy {
    std::vector<int32_t> tokens;    // without the end token
    std::vector<double> attention;  // [tokens, Ts]
  };

  // Attention weights are in the caller's positions (0 .. src_len - 1 of
  // `src`); unmasked models read the row padded as the Spec says.
  Scored score(const std::vector<int32_t>& src, int32_t src_len, const std::vector<int32_t>& tgt,
               int32_t tgt_len) const {
    const size_t ts = src.size(), td = tgt.size(), vt = size_t(s_.tgt_vocab);
    Source in = source(src, src_len);
    Encoded enc = encode(in.tokens, in.len);
    Scored out{std::vector<double>(td * vt, 0.0), std::vector<double>(td * ts, 0.0)};
    std::vector<double> h = enc.state;
    for (int32_t t = 0; t < tgt_len; ++t) {
      std::vector<double> weights;
      const std::vector<double> p = step(tgt[size_t(t)], h, enc, in.len, &weights);
      std::copy(p.begin(), p.end(), out.probs.begin() + long(size_t(t) * vt));
      for (int32_t i = 0; i < src_len; ++i)
        out.attention[size_t(t) * ts + size_t(i)] = weights[size_t(in.offset + i)];
    }
    return out;
  }

  Greedy translate(const std::vector<int32_t>& src, int32_t src_len, int32_t max_steps) const {
    Source in = source(src, src_len);
    Encoded enc = encode(in.tokens, in.len);
    Greedy out;
    std::vector<double> h = enc.state;
    int32_t prev = 1;  // <start>
    for (int32_t t = 0; t < max_steps; ++t) {
      std::vector<double> weights;
      const std::vector<double> p = step(prev, h, enc, in.len, &weights);
      prev = int32_t(std::max_element(p.begin(), p.end()) - p.begin());
      if (prev == 2) break;  // <end>
      out.tokens.push_back(prev);
      for (size_t i = 0; i < src.size(); ++i)
        out.attention.push_back(int32_t(i) < src_len ? weights[size_t(in.offset) + i] : 0.0);
    }
    return out;
  }

 private:
  struct Encoded {
    std::vector<std::vector<double>> outputs;  // [Ts][He]
    std::vector<double> state;                 // [He]
  };

  const std::vector<double>& w(const std::string& name) const { return w_.at(name); }

  struct Source {
    std::vector<int32_t> tokens;  // the row the encoder reads
    int32_t len = 0;              // its valid steps
    int32_t offset = 0;           // where the caller's token 0 is
  };
  // Masked: the caller's row. Unmasked: max_source_len tokens, pads (id 0) on
  // the configured side, every step read.
  Source source(const std::vector<int32_t>& src, int32_t src_len) const {
    if (s_.mask) return {src, src_len, 0};
    const int32_t L = s_.max_source_len, off = s_.pad_pre ? L - src_len : 0;
    Source r{std::vector<int32_t>(size_t(L), 0), L, off};
    std::copy(src.begin(), src.begin() + src_len, r.tokens.begin() + off);
    return r;
  }

  // One decoder step from state h (updated) on input token `prev`: the next
  // token's probabilities, and the attention weights over the encoder rows.
  std::vector<double> step(int32_t prev, std::vector<double>& h, const Encoded& enc,
                           int32_t src_len, std::vector<double>* weights) const {
    const size_t hd = size_t(s_.he());
    if (!s_.bahdanau) {
      h = gru_step(decoder_input(prev), h, "decoder.", hd);
      return output(h, enc, src_len, weights);
    }
    // The tutorial's AttnDecoderRNN: attend from the previous state, feed
    // [embedding, context] to the GRU, the output layer reads the new state.
    const std::vector<double> ctx = attend(h, enc, src_len, weights);
    std::vector<double> x = decoder_input(prev);
    x.insert(x.end(), ctx.begin(), ctx.end());
    h = gru_step(x, h, "decoder.", hd);
    return softmax_output(h, {});
  }

  // The GRU input of a token: its embedding row, or the one-hot vector itself.
  std::vector<double> input(int32_t id, int32_t vocab, int32_t dim, const char* table) const {
    if (dim == 0) {
      std::vector<double> x(size_t(vocab), 0.0);
      x[size_t(id)] = 1.0;
      return x;
    }
    const std::vector<double>& e = w(table);
    return {e.begin() + long(size_t(id) * size_t(dim)),
            e.begin() + long(size_t(id + 1) * size_t(dim))};
  }
  std::vector<double> encoder_input(int32_t id) const {
    return input(id, s_.src_vocab, s_.src_embedding, "encoder.embedding");
  }
  std::vector<double> decoder_input(int32_t id) const {
    return input(id, s_.tgt_vocab, s_.tgt_embedding, "decoder.embedding");
  }

  static double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

  // docs/math.md#gru-keras-layout, both variants; kernel [I, 3H], recurrent [H, 3H], blocks z, r, h.
  std::vector<double> gru_step(const std::vector<double>& x, const std::vector<double>& h,
                               const std::string& prefix, size_t H) const {
    const std::vector<double>& K = w(prefix + "kernel");
    const std::vector<double>& R = w(prefix + "recurrent_kernel");
    const std::vector<double>& b = w(prefix + "bias");
    const size_t I = x.size(), G = 3 * H;
    std::vector<double> gx(G, 0.0), gh(G, 0.0);
    for (size_t j = 0; j < G; ++j) {
      gx[j] = b[j];
      for (size_t k = 0; k < I; ++k) gx[j] += x[k] * K[k * G + j];
    }
    std::vector<double> out(H);
    if (s_.reset_after) {
      for (size_t j = 0; j < G; ++j) {
        gh[j] = b[G + j];
        for (size_t k = 0; k < H; ++k) gh[j] += h[k] * R[k * G + j];
      }
      for (size_t j = 0; j < H; ++j) {
        const double z = sigmoid(gx[j] + gh[j]), r = sigmoid(gx[H + j] + gh[H + j]);
        const double c = std::tanh(gx[2 * H + j] + r * gh[2 * H + j]);
        out[j] = z * h[j] + (1 - z) * c;
      }
    } else {
      std::vector<double> z(H), rh(H);
      for (size_t j = 0; j < H; ++j) {
        double az = gx[j], ar = gx[H + j];
        for (size_t k = 0; k < H; ++k) {
          az += h[k] * R[k * G + j];
          ar += h[k] * R[k * G + H + j];
        }
        z[j] = sigmoid(az);
        rh[j] = sigmoid(ar) * h[j];
      }
      for (size_t j = 0; j < H; ++j) {
        double ac = gx[2 * H + j];
        for (size_t k = 0; k < H; ++k) ac += rh[k] * R[k * G + 2 * H + j];
        out[j] = z[j] * h[j] + (1 - z[j]) * std::tanh(ac);
      }
    }
    return out;
  }

  Encoded encode(const std::vector<int32_t>& src, int32_t len) const {
    const size_t H = size_t(s_.units), ts = src.size();
    Encoded enc{std::vector<std::vector<double>>(ts, std::vector<double>(size_t(s_.he()), 0.0)),
                {}};
    std::vector<double> h(H, 0.0);
    for (int32_t t = 0; t < len; ++t) {
      h = gru_step(encoder_input(src[size_t(t)]), h, "encoder.forward.", H);
      std::copy(h.begin(), h.end(), enc.outputs[size_t(t)].begin());
    }
    enc.state = h;
    if (s_.bidirectional) {
      std::vector<double> hb(H, 0.0);
      for (int32_t t = len - 1; t >= 0; --t) {  // the valid steps backwards
        hb = gru_step(encoder_input(src[size_t(t)]), hb, "encoder.backward.", H);
        std::copy(hb.begin(), hb.end(), enc.outputs[size_t(t)].begin() + long(H));
      }
      enc.state.insert(enc.state.end(), hb.begin(), hb.end());
    }
    return enc;
  }

  // Attention over the valid source steps, then the softmax output layer.
  std::vector<double> output(const std::vector<double>& s, const Encoded& enc, int32_t src_len,
                             std::vector<double>* weights) const {
    return softmax_output(s, attend(s, enc, src_len, weights));
  }

  // The context of query s over the valid source steps; weights [Ts].
  std::vector<double> attend(const std::vector<double>& s, const Encoded& enc, int32_t src_len,
                             std::vector<double>* weights) const {
    const size_t he = size_t(s_.he()), hd = he, A = size_t(s_.attention_units);
    const size_t ts = enc.outputs.size();
    const std::vector<double>&W = w("attention.W"), &U = w("attention.U"), &v = w("attention.v");
    std::vector<double> q(A, 0.0);
    for (size_t a = 0; a < A; ++a)
      for (size_t k = 0; k < hd; ++k) q[a] += s[k] * U[k * A + a];
    std::vector<double> e(ts, 0.0);
    double emax = -1e300;
    for (size_t i = 0; i < size_t(src_len); ++i) {
      for (size_t a = 0; a < A; ++a) {
        double key = s_.attention_bias ? w("attention.bias")[a] : 0.0;
        for (size_t k = 0; k < he; ++k) key += enc.outputs[i][k] * W[k * A + a];
        e[i] += v[a] * std::tanh(key + q[a]);
      }
      emax = std::max(emax, e[i]);
    }
    weights->assign(ts, 0.0);
    double sum = 0.0;
    for (size_t i = 0; i < size_t(src_len); ++i) sum += ((*weights)[i] = std::exp(e[i] - emax));
    std::vector<double> ctx(he, 0.0);
    for (size_t i = 0; i < size_t(src_len); ++i) {
      (*weights)[i] /= sum;
      for (size_t k = 0; k < he; ++k) ctx[k] += (*weights)[i] * enc.outputs[i][k];
    }
    return ctx;
  }

  // softmax(concat[s, ctx] · output.kernel + output.bias); ctx empty: s alone.
  std::vector<double> softmax_output(const std::vector<double>& s,
                                     const std::vector<double>& ctx) const {
    const size_t hd = s.size(), he = ctx.size(), vt = size_t(s_.tgt_vocab);
    const std::vector<double>&K = w("output.kernel"), &b = w("output.bias");
    std::vector<double> logits(b.begin(), b.end());
    for (size_t j = 0; j < vt; ++j) {
      for (size_t k = 0; k < hd; ++k) logits[j] += s[k] * K[k * vt + j];
      for (size_t k = 0; k < he; ++k) logits[j] += ctx[k] * K[(hd + k) * vt + j];
    }
    const double m = *std::max_element(logits.begin(), logits.end());
    double z = 0.0;
    for (double& l : logits) z += (l = std::exp(l - m));
    for (double& l : logits) l /= z;
    return logits;
  }

  Spec s_;
  std::map<std::string, std::vector<double>> w_;
};

// ------------------------------------------------------------ devices

// Every device a model test runs on: the fast CPU path, the double-precision
// reference, and CUDA, which skips without a GPU.
inline const std::vector<seqattn_device>& all_devices() {
  static const std::vector<seqattn_device> devices = {
      SEQATTN_DEVICE_CPU, SEQATTN_DEVICE_CPU_REFERENCE, SEQATTN_DEVICE_CUDA};
  return devices;
}

// The device's part of a test name, as `seqattn --device` spells it.
inline std::string device_name(seqattn_device d) {
  return d == SEQATTN_DEVICE_CPU ? "cpu" : d == SEQATTN_DEVICE_CPU_REFERENCE ? "reference" : "cuda";
}

// False (the test should skip) for CUDA without a device.
inline bool device_available(seqattn_device d) {
  return d != SEQATTN_DEVICE_CUDA || seqattn_cuda_device_count() > 0;
}

// ------------------------------------------------------------ the CLI

struct CliRun {
  int exit_code = -1;
  std::string out, err;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// `s` as one word of sh.
inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs `program` with a time limit (`timeout` from coreutils), in files under
// `dir`: stdin holds `stdin_text` (empty: /dev/null), stdout goes to a file or
// to `stdout_to` (say /dev/full).
inline CliRun run_program(const std::string& program, const std::vector<std::string>& args,
                          const std::filesystem::path& dir, const std::string& stdin_text = "",
                          const std::string& stdout_to = "") {
  const std::filesystem::path in = dir / "stdin.txt", out = dir / "stdout.txt",
                              err = dir / "stderr.txt";
  std::string cmd = "timeout 60 " + quote(program);
  for (const std::string& a : args) cmd += " " + quote(a);
  if (stdin_text.empty()) {
    cmd += " </dev/null";
  } else {
    std::ofstream(in, std::ios::binary) << stdin_text;
    cmd += " <" + quote(in.string());
  }
  cmd += " >" + quote(stdout_to.empty() ? out.string() : stdout_to) + " 2>" + quote(err.string());
  const int status = std::system(cmd.c_str());
  CliRun r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// ------------------------------------------------------------ ownership

struct HandleOwner {
  seqattn_handle h = nullptr;
  explicit HandleOwner(seqattn_device device = SEQATTN_DEVICE_CPU) {
    seqattn_handle_options o;
    seqattn_handle_options_init(&o);
    o.device = device;
    status = seqattn_handle_create(&o, &h);
  }
  ~HandleOwner() { seqattn_handle_destroy(h); }
  HandleOwner(const HandleOwner&) = delete;
  HandleOwner& operator=(const HandleOwner&) = delete;
  seqattn_status status = SEQATTN_OK;
};

// Declared after the HandleOwner it uses, so it is destroyed first.
struct ModelOwner {
  seqattn_model m = nullptr;
  ModelOwner() = default;
  ~ModelOwner() { seqattn_model_destroy(m); }
  ModelOwner(const ModelOwner&) = delete;
  ModelOwner& operator=(const ModelOwner&) = delete;
};

inline std::string last_error() { return seqattn_last_error(); }

// |got - ref| <= atol + rtol·|ref| on the elements where `use` is true (all when
// empty); names the first mismatch and reports the largest difference.
template <class G, class R>
::testing::AssertionResult all_close(const std::vector<G>& got, const std::vector<R>& ref,
                                     double atol, double rtol, const std::string& what,
                                     double* max_diff = nullptr,
                                     const std::vector<bool>& use = {}) {
  if (got.size() != ref.size())
    return ::testing::AssertionFailure()
           << what << ": size " << got.size() << " vs reference " << ref.size();
  size_t bad = 0, first = 0;
  double worst = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!use.empty() && !use[i]) continue;
    const double g = double(got[i]), r = double(ref[i]);
    const double d = std::fabs(g - r);
    if (!(d <= atol + rtol * std::fabs(r))) {
      if (bad++ == 0) first = i;
    }
    if (!(d <= worst)) worst = d;  // NaN makes worst NaN
  }
  if (max_diff) *max_diff = std::max(*max_diff, worst);
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << ": " << bad << " of " << got.size() << " elements differ; first at [" << first
         << "]: got " << double(got[first]) << ", expected " << double(ref[first]) << " (atol "
         << atol << ", rtol " << rtol << "), max |diff| " << worst;
}

}  // namespace model_test
