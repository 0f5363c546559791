// The sequence head (see sequence_head.hpp and docs/model-format.md): its
// config, weight checks and upload, and predict.
#include "model/sequence_head.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/error.hpp"
#include "model/config.hpp"
#include "model/config_fields.hpp"

namespace seqattn::model {
namespace {

using nlohmann::json;
using namespace fields;

const json& get_array(const json& object, const char* key, size_t min_size) {
  const json& v = field(object, key, key);
  if (!v.is_array())
    format_error(std::string("model config field \"") + key + "\" is not a JSON array");
  if (v.size() < min_size)
    format_error(std::string("model config field \"") + key + "\" is empty: a sequence head " +
                 "needs at least one RNN layer");
  if (v.size() > kMaxHeadLayers)
    format_error(std::string("model config field \"") + key + "\" has " +
                 std::to_string(v.size()) + " layers, more than " + std::to_string(kMaxHeadLayers));
  return v;
}

HeadConfig::Rnn parse_rnn(const json& layer, const std::string& path) {
  if (!layer.is_object()) format_error("model config field \"" + path + "\" is not a JSON object");
  HeadConfig::Rnn r;
  r.units = get_int(layer, "units", path + ".units", 1, kMaxDim);
  const std::string cell = get_string(layer, "cell", path + ".cell");
  if (cell == "simple_rnn") {
    r.cell = RnnCell::kSimple;
    // Keras' default and the only activation the library's SimpleRNN has.
    if (layer.contains("activation")) {
      const std::string act = get_string(layer, "activation", path + ".activation");
      if (act != "tanh")
        format_error("model config field \"" + path + ".activation\" = \"" + act +
                     "\": a simple_rnn layer runs with tanh only");
    }
  } else if (cell == "gru") {
    const std::string variant = get_string(layer, "gru_variant", path + ".gru_variant");
    if (variant == "reset_after")
      r.cell = RnnCell::kGruResetAfter;
    else if (variant == "reset_before")
      r.cell = RnnCell::kGruResetBefore;
    else
      format_error("model config field \"" + path + ".gru_variant\" = \"" + variant +
                   "\" is neither \"reset_after\" nor \"reset_before\"");
  } else {
    format_error("model config field \"" + path + ".cell\" = \"" + cell +
                 "\" is neither \"simple_rnn\" nor \"gru\"");
  }
  return r;
}

HeadConfig::Dense parse_dense(const json& layer, const std::string& path) {
  if (!layer.is_object()) format_error("model config field \"" + path + "\" is not a JSON object");
  HeadConfig::Dense d;
  d.units = get_int(layer, "units", path + ".units", 1, kMaxDim);
  const std::string act = get_string(layer, "activation", path + ".activation");
  if (act == "linear")
    d.activation = SEQATTN_ACTIVATION_NONE;
  else if (act == "tanh")
    d.activation = SEQATTN_ACTIVATION_TANH;
  else if (act == "relu")
    d.activation = SEQATTN_ACTIVATION_RELU;
  else if (act == "sigmoid")
    d.activation = SEQATTN_ACTIVATION_SIGMOID;
  else if (act == "softmax")
    d.activation = SEQATTN_ACTIVATION_SOFTMAX;
  else
    format_error("model config field \"" + path + ".activation\" = \"" + act +
                 "\" is not one of \"linear\", \"tanh\", \"relu\", \"sigmoid\", \"softmax\"");
  return d;
}

}  // namespace

HeadConfig parse_head_config(const st::File& file) {
  if (const std::string f = metadata_value(file, "format"); f != kSequenceHeadFormat)
    format_error("model file __metadata__ \"format\" = \"" + f + "\", expected \"" +
                 kSequenceHeadFormat + "\"");
  if (const std::string v = metadata_value(file, "format_version"); v != "1")
    format_error("model file __metadata__ \"format_version\" = \"" + v +
                 "\" is not a version this library reads (1)");
  const json j = parse_config_text(file);

  HeadConfig c;
  c.input_features = get_int(j, "input_features", "input_features", 1, kMaxDim);
  c.steps = get_int(j, "steps", "steps", 1, kMaxDim);
  const json& rnn = get_array(j, "rnn", 1);
  for (size_t i = 0; i < rnn.size(); ++i)
    c.rnn.push_back(parse_rnn(rnn[i], "rnn[" + std::to_string(i) + "]"));
  // No options yet; the object is there so that a later version can add some.
  if (!field(j, "pooling", "pooling").is_object())
    format_error("model config field \"pooling\" is not a JSON object");
  const json& dense = get_array(j, "dense", 0);
  for (size_t i = 0; i < dense.size(); ++i)
    c.dense.push_back(parse_dense(dense[i], "dense[" + std::to_string(i) + "]"));
  if (j.contains("name")) c.name = get_string(j, "name", "name");
  if (j.contains("description")) c.description = get_string(j, "description", "description");
  return c;
}

// ------------------------------------------------------------- SequenceHead

SequenceHead::SequenceHead(Backend& backend, const st::File& file)
    : backend_(&backend), cache_(backend), config_(parse_head_config(file)) {
  const HeadConfig& c = config_;
  int64_t in = c.input_features;
  for (size_t i = 0; i < c.rnn.size(); ++i) {
    const std::string p = "rnn." + std::to_string(i) + ".";
    const int64_t h = c.rnn[i].units, gh = int64_t(rnn_gates(c.rnn[i].cell)) * h;
    const std::vector<int64_t> bias_shape = c.rnn[i].cell == RnnCell::kGruResetAfter
                                                ? std::vector<int64_t>{2, gh}
                                                : std::vector<int64_t>{gh};
    Layer l;
    l.kernel = upload(file.read_f32(p + "kernel", {in, gh}));
    l.recurrent_kernel = upload(file.read_f32(p + "recurrent_kernel", {h, gh}));
    l.bias = upload(file.read_f32(p + "bias", bias_shape));
    rnn_.push_back(std::move(l));
    in = h;
  }
  pooling_w_ = upload(file.read_f32("pooling.w", {in}));
  pooling_b_ = upload(file.read_f32("pooling.b", {c.steps}));
  for (size_t j = 0; j < c.dense.size(); ++j) {
    const std::string p = "dense." + std::to_string(j) + ".";
    const int64_t n = c.dense[j].units;
    Layer l;
    l.kernel = upload(file.read_f32(p + "kernel", {in, n}));
    l.bias = upload(file.read_f32(p + "bias", {n}));
    dense_.push_back(std::move(l));
    in = n;
  }
  // The host vectors are gone once this returns; a device backend may still be copying.
  backend_->synchronize();
}

DeviceBuffer SequenceHead::upload(const std::vector<float>& values) {
  DeviceBuffer buffer(cache_, values.size() * sizeof(float));
  backend_->copy_to_device(buffer.f32(), values.data(), values.size() * sizeof(float));
  return buffer;
}

void SequenceHead::reserve(int32_t batch) {
  if (batch <= capacity_) return;
  const HeadConfig& c = config_;
  const size_t B = size_t(batch), T = size_t(c.steps), f = sizeof(float);
  size_t h_max = 0, n_max = 1;
  for (const HeadConfig::Rnn& r : c.rnn) h_max = std::max(h_max, size_t(r.units));
  for (const HeadConfig::Dense& d : c.dense) n_max = std::max(n_max, size_t(d.units));
  capacity_ = 0;  // stays 0 if an allocation below throws: the next call retries
  for (DeviceBuffer* b : {&x_, &sequence_[0], &sequence_[1], &weights_, &pooled_, &dense_out_[0],
                          &dense_out_[1]})
    b->reset();  // back to the cache before the larger blocks are taken
  x_ = DeviceBuffer(cache_, B * T * size_t(c.input_features) * f);
  sequence_[0] = DeviceBuffer(cache_, B * T * h_max * f);
  if (c.rnn.size() > 1) sequence_[1] = DeviceBuffer(cache_, B * T * h_max * f);
  weights_ = DeviceBuffer(cache_, B * T * f);
  pooled_ = DeviceBuffer(cache_, B * size_t(c.pooled_dim()) * f);
  if (!c.dense.empty()) dense_out_[0] = DeviceBuffer(cache_, B * n_max * f);
  if (c.dense.size() > 1) dense_out_[1] = DeviceBuffer(cache_, B * n_max * f);
  host_y_.resize(B * size_t(c.output_dim()));
  host_weights_.resize(B * T);
  capacity_ = batch;
}

void SequenceHead::predict(int32_t batch, const float* x, float* y, float* pooling_weights) {
  Backend& be = *backend_;
  const HeadConfig& c = config_;
  reserve(batch);
  const size_t B = size_t(batch), T = size_t(c.steps), f = sizeof(float);
  be.copy_to_device(x_.f32(), x, B * T * size_t(c.input_features) * f);

  const float* in = x_.f32();
  int32_t in_dim = c.input_features;
  for (size_t i = 0; i < c.rnn.size(); ++i) {
    float* out = sequence_[i % 2].f32();
    RnnArgs args{};
    args.dims = {batch, c.steps, in_dim, c.rnn[i].units};
    args.cell = c.rnn[i].cell;
    args.reverse = false;
    args.x = in;
    args.lengths = nullptr;
    args.h0 = nullptr;
    args.kernel = rnn_[i].kernel.f32();
    args.recurrent_kernel = rnn_[i].recurrent_kernel.f32();
    args.bias = rnn_[i].bias.f32();
    args.outputs = out;
    args.h_last = nullptr;
    be.rnn(args);
    in = out;
    in_dim = c.rnn[i].units;
  }

  // The weights buffer is always passed: the backends use it as the energies'
  // scratch, so that pooling allocates nothing whatever T is.
  PoolingArgs pool{};
  pool.dims = {batch, c.steps, in_dim};
  pool.x = in;
  pool.lengths = nullptr;
  pool.w = pooling_w_.f32();
  pool.b = pooling_b_.f32();
  pool.context_out = pooled_.f32();
  pool.weights_out = weights_.f32();
  be.attention_pooling(pool);

  in = pooled_.f32();
  for (size_t j = 0; j < c.dense.size(); ++j) {
    float* out = dense_out_[j % 2].f32();
    be.dense(DenseArgs{int64_t(batch), in_dim, c.dense[j].units, in, dense_[j].kernel.f32(),
                       dense_[j].bias.f32(), c.dense[j].activation, out});
    in = out;
    in_dim = c.dense[j].units;
  }

  const size_t n_y = B * size_t(c.output_dim());
  be.copy_to_host(host_y_.data(), in, n_y * f);
  if (pooling_weights) be.copy_to_host(host_weights_.data(), weights_.f32(), B * T * f);
  be.synchronize();
  std::copy_n(host_y_.data(), n_y, y);
  if (pooling_weights) std::copy_n(host_weights_.data(), B * T, pooling_weights);
}

}  // namespace seqattn::model
