// The attention seq2seq model (see model.hpp and docs/model-format.md):
// weight checks and upload, encoding, teacher-forced scoring, greedy decoding.
// The configuration is config.cpp, the buffers' cache block_cache.cpp, the
// tokenisation vocab.cpp.
#include "model/model.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include "core/error.hpp"

namespace seqattn::model {
namespace {

[[noreturn]] void format_error(const std::string& message) { fail(SEQATTN_ERROR_FORMAT, message); }

}  // namespace

// -------------------------------------------------------------------- Model

Model::Model(Backend& backend, const st::File& file)
    : backend_(&backend), cache_(backend), config_(parse_config(file)) {
  const Config& c = config_;
  const int64_t vs = c.source_vocab_size(), vt = c.target_vocab_size();
  const int64_t h = c.encoder_units, he = c.encoder_out_dim(), hd = c.decoder_units;
  const int64_t a = c.attention_units;
  const int64_t es = c.encoder_embedding_dim > 0 ? c.encoder_embedding_dim : vs;
  const int64_t et = c.decoder_embedding_dim > 0 ? c.decoder_embedding_dim : vt;

  for (size_t i = 0; i < c.source_vocab.size(); ++i) {
    const auto [it, inserted] = source_index_.emplace(c.source_vocab[i], int32_t(i));
    if (!inserted)
      format_error("model config field \"source_vocab[" + std::to_string(i) + "]\" = \"" +
                   c.source_vocab[i] + "\" repeats source_vocab[" + std::to_string(it->second) +
                   "]");
  }

  if (c.encoder_embedding_dim > 0)
    encoder_embedding_ = upload(file.read_f32("encoder.embedding", {vs, es}));
  load_gru(file, "encoder.forward.", es, h, encoder_forward_);
  set_input_path(encoder_forward_, c.encoder_embedding_dim > 0 ? &encoder_embedding_ : nullptr, vs,
                 es, h);
  if (c.bidirectional) {
    load_gru(file, "encoder.backward.", es, h, encoder_backward_);
    set_input_path(encoder_backward_, c.encoder_embedding_dim > 0 ? &encoder_embedding_ : nullptr,
                   vs, es, h);
  }
  if (c.decoder_embedding_dim > 0)
    decoder_embedding_ = upload(file.read_f32("decoder.embedding", {vt, et}));
  // bahdanau: the kernel's rows are the embedding part [Et], then the context part [He].
  const int64_t extra = c.decoder_input_extra();
  load_gru(file, "decoder.", et + extra, hd, decoder_);
  set_input_path(decoder_, c.decoder_embedding_dim > 0 ? &decoder_embedding_ : nullptr, vt, et, hd);
  if (extra > 0 && c.decoder_embedding_dim == 0 && vt > 3 * hd) {
    // The table is the kernel's first Vt rows (x·kernel already), so the step
    // input is [3Hd + He] and its kernel [I_3Hd; the context rows].
    const std::vector<float> kernel = file.read_f32("decoder.kernel", {et + extra, 3 * hd});
    const int64_t g = 3 * hd;
    std::vector<float> step(size_t((g + extra) * g), 0.0f);
    for (int64_t i = 0; i < g; ++i) step[size_t(i * g + i)] = 1.0f;
    std::copy(kernel.begin() + vt * g, kernel.end(), step.begin() + g * g);
    decoder_step_kernel_ = upload(step);
    decoder_.input.kernel = decoder_step_kernel_.f32();
  }

  attention_W_ = upload(file.read_f32("attention.W", {he, a}));
  attention_U_ = upload(file.read_f32("attention.U", {hd, a}));
  if (c.attention_bias) attention_bias_ = upload(file.read_f32("attention.bias", {a}));
  attention_v_ = upload(file.read_f32("attention.v", {a}));
  const int64_t output_in = c.decoder_kind == DecoderKind::kBahdanau ? hd : hd + he;
  output_kernel_ = upload(file.read_f32("output.kernel", {output_in, vt}));
  output_bias_ = upload(file.read_f32("output.bias", {vt}));
  // The host vectors are gone once this returns; a device backend may still be copying.
  backend_->synchronize();
}

DeviceBuffer Model::upload(const std::vector<float>& values) {
  DeviceBuffer buffer(cache_, values.size() * sizeof(float));
  backend_->copy_to_device(buffer.f32(), values.data(), values.size() * sizeof(float));
  return buffer;
}

DeviceBuffer Model::upload_ids(const int32_t* ids, size_t count) {
  DeviceBuffer buffer(cache_, count * sizeof(int32_t));
  backend_->copy_to_device(buffer.i32(), ids, count * sizeof(int32_t));
  return buffer;
}

void Model::load_gru(const st::File& file, const std::string& prefix, int64_t input_dim,
                     int64_t units, Gru& gru) {
  gru.kernel = upload(file.read_f32(prefix + "kernel", {input_dim, 3 * units}));
  gru.recurrent_kernel = upload(file.read_f32(prefix + "recurrent_kernel", {units, 3 * units}));
  const std::vector<int64_t> bias_shape = config_.gru == RnnCell::kGruResetAfter
                                              ? std::vector<int64_t>{2, 3 * units}
                                              : std::vector<int64_t>{3 * units};
  gru.bias = upload(file.read_f32(prefix + "bias", bias_shape));
}

void Model::set_input_path(Gru& gru, const DeviceBuffer* embedding, int64_t vocab,
                           int64_t embedding_dim, int64_t units) {
  if (embedding) {
    gru.input = {embedding->f32(), vocab, embedding_dim, gru.kernel.f32()};
    return;
  }
  // One-hot: see model.hpp. The identity is never larger than the kernel itself.
  const int64_t n = std::min(vocab, 3 * units);
  auto it = identities_.find(n);
  if (it == identities_.end()) {
    std::vector<float> eye(size_t(n * n), 0.0f);
    for (int64_t i = 0; i < n; ++i) eye[size_t(i * n + i)] = 1.0f;
    it = identities_.emplace(n, upload(eye)).first;
  }
  if (vocab <= 3 * units)
    gru.input = {it->second.f32(), vocab, vocab, gru.kernel.f32()};
  else
    gru.input = {gru.kernel.f32(), vocab, 3 * units, it->second.f32()};
}

void Model::run_gru(const Gru& gru, int32_t batch, int32_t steps, int64_t units,
                    const int32_t* d_ids, const int32_t* lengths, const float* h0, bool reverse,
                    float* x, float* outputs, float* h_last) {
  const int64_t rows = int64_t(batch) * steps;
  backend_->gather_rows(gru.input.table, gru.input.vocab, gru.input.dim, d_ids, rows, x);
  RnnArgs args{};
  args.dims = {batch, steps, int32_t(gru.input.dim), int32_t(units)};
  args.cell = config_.gru;
  args.reverse = reverse;
  args.x = x;
  args.lengths = lengths;
  args.h0 = h0;
  args.kernel = gru.input.kernel;
  args.recurrent_kernel = gru.recurrent_kernel.f32();
  args.bias = gru.bias.f32();
  args.outputs = outputs;
  args.h_last = h_last;
  backend_->rnn(args);
}

Model::Encoded Model::encode(int32_t batch, int32_t src_steps, const int32_t* d_src_ids,
                             const int32_t* src_lengths) {
  Backend& be = *backend_;
  const size_t rows = size_t(batch) * size_t(src_steps);
  const size_t h = size_t(config_.encoder_units), f = sizeof(float);
  Encoded enc;
  if (!config_.bidirectional) {
    DeviceBuffer x(cache_, rows * size_t(encoder_forward_.input.dim) * f);
    enc.outputs = DeviceBuffer(cache_, rows * h * f);
    enc.state = DeviceBuffer(cache_, size_t(batch) * h * f);
    run_gru(encoder_forward_, batch, src_steps, config_.encoder_units, d_src_ids, src_lengths,
            nullptr, false, x.f32(), enc.outputs.f32(), enc.state.f32());
    return enc;
  }
  const size_t dim = size_t(std::max(encoder_forward_.input.dim, encoder_backward_.input.dim));
  DeviceBuffer x(cache_, rows * dim * f);
  DeviceBuffer out_f(cache_, rows * h * f), out_b(cache_, rows * h * f);                      // [B, Ts, H]
  DeviceBuffer last_f(cache_, size_t(batch) * h * f), last_b(cache_, size_t(batch) * h * f);  // [B, H]
  run_gru(encoder_forward_, batch, src_steps, config_.encoder_units, d_src_ids, src_lengths,
          nullptr, false, x.f32(), out_f.f32(), last_f.f32());
  run_gru(encoder_backward_, batch, src_steps, config_.encoder_units, d_src_ids, src_lengths,
          nullptr, true, x.f32(), out_b.f32(), last_b.f32());
  enc.outputs = DeviceBuffer(cache_, rows * 2 * h * f);
  enc.state = DeviceBuffer(cache_, size_t(batch) * 2 * h * f);
  be.concat_rows(out_f.f32(), int64_t(h), out_b.f32(), int64_t(h), int64_t(rows),
                 enc.outputs.f32());
  be.concat_rows(last_f.f32(), int64_t(h), last_b.f32(), int64_t(h), batch, enc.state.f32());
  return enc;
}

Model::Source Model::prepare_source(int32_t batch, int32_t src_steps, const int32_t* src_tokens,
                                    const int32_t* src_lengths) {
  const size_t B = size_t(batch);
  Source src;
  src.offset.assign(B, 0);
  src.length.resize(B);
  for (size_t b = 0; b < B; ++b) src.length[b] = src_lengths ? src_lengths[b] : src_steps;
  if (config_.source_mask) {
    src.ids = upload_ids(src_tokens, B * size_t(src_steps));
    src.steps = src_steps;
    src.lengths = src_lengths;
    return src;
  }
  // Unmasked: rows of max_source_len, as pad_sequences(maxlen=...) built them
  // (capi/model.cpp refused longer rows).
  const size_t L = size_t(config_.max_source_len);
  std::vector<int32_t> rows(B * L, config_.source_pad);
  for (size_t b = 0; b < B; ++b) {
    const size_t n = size_t(src.length[b]);
    const size_t off = config_.source_padding == SourcePadding::kPre ? L - n : 0;
    src.offset[b] = int32_t(off);
    std::copy_n(src_tokens + b * size_t(src_steps), n, rows.begin() + long(b * L + off));
  }
  src.ids = upload_ids(rows.data(), rows.size());
  src.steps = config_.max_source_len;
  return src;
}

void Model::weights_to_caller(const Source& src, size_t b, const float* in, int32_t caller_steps,
                              float* out) {
  const auto n = size_t(src.length[b]), off = size_t(src.offset[b]);
  std::copy_n(in + off, n, out);
  std::fill(out + n, out + caller_steps, 0.0f);
}

Model::StepBuffers Model::step_buffers(int32_t batch, const Source& src, const Encoded& enc) {
  const size_t B = size_t(batch), he = size_t(config_.encoder_out_dim()), f = sizeof(float);
  const size_t dim = size_t(decoder_.input.dim), a = size_t(config_.attention_units);
  StepBuffers buf;
  buf.keys = DeviceBuffer(cache_, B * size_t(src.steps) * a * f);
  const seqattn_attention_dims dims{batch,       src.steps,   1,
                                    int32_t(he), config_.decoder_units, config_.attention_units};
  backend_->project_keys(ProjectKeysArgs{dims, enc.outputs.f32(), attention_W_.f32(),
                                         config_.attention_bias ? attention_bias_.f32() : nullptr,
                                         buf.keys.f32()});
  buf.x = DeviceBuffer(cache_, B * dim * f);
  buf.context = DeviceBuffer(cache_, B * he * f);
  buf.cat = DeviceBuffer(cache_, B * (dim + he) * f);
  return buf;
}

void Model::bahdanau_step(int32_t batch, const Source& src, const Encoded& enc, StepBuffers& buf,
                          const int32_t* d_ids, const float* s_prev, float* s_cur,
                          float* weights) {
  Backend& be = *backend_;
  const int64_t he = config_.encoder_out_dim(), dim = decoder_.input.dim;
  ProjectedAttentionArgs att{};
  att.dims = {batch, src.steps, 1, int32_t(he), config_.decoder_units, config_.attention_units};
  att.encoder_out = enc.outputs.f32();
  att.keys = buf.keys.f32();
  att.decoder_out = s_prev;  // the query is the previous state
  att.enc_lengths = src.lengths;
  att.dec_lengths = nullptr;
  att.U = attention_U_.f32();
  att.v = attention_v_.f32();
  att.context_out = buf.context.f32();
  att.weights_out = weights;
  be.additive_attention_projected(att);
  be.gather_rows(decoder_.input.table, decoder_.input.vocab, dim, d_ids, batch, buf.x.f32());
  be.concat_rows(buf.x.f32(), dim, buf.context.f32(), he, batch, buf.cat.f32());
  RnnArgs args{};
  args.dims = {batch, 1, int32_t(dim + he), config_.decoder_units};
  args.cell = config_.gru;
  args.reverse = false;
  args.x = buf.cat.f32();
  args.lengths = nullptr;
  args.h0 = s_prev;
  args.kernel = decoder_.input.kernel;
  args.recurrent_kernel = decoder_.recurrent_kernel.f32();
  args.bias = decoder_.bias.f32();
  args.outputs = s_cur;  // one step: the output is the new state
  args.h_last = nullptr;
  be.rnn(args);
}

void Model::score_bahdanau(int32_t batch, const Source& src, const Encoded& enc, int32_t tgt_steps,
                           const int32_t* tgt_tokens, float* d_probs, float* d_weights) {
  Backend& be = *backend_;
  const size_t B = size_t(batch), Td = size_t(tgt_steps), hd = size_t(config_.decoder_units);
  const size_t vt = size_t(config_.target_vocab_size()), f = sizeof(float);
  // Time-major ids [Td, B], so step t reads a contiguous [B].
  std::vector<int32_t> by_step(Td * B);
  for (size_t b = 0; b < B; ++b)
    for (size_t t = 0; t < Td; ++t) by_step[t * B + b] = tgt_tokens[b * Td + t];
  DeviceBuffer d_tgt = upload_ids(by_step.data(), by_step.size());
  StepBuffers buf = step_buffers(batch, src, enc);
  DeviceBuffer states(cache_, Td * B * hd * f);  // [Td, B, Hd]: s_0 .. s_{Td-1}
  for (size_t t = 0; t < Td; ++t) {
    const float* s_prev = t == 0 ? enc.state.f32() : states.f32() + (t - 1) * B * hd;
    bahdanau_step(batch, src, enc, buf, d_tgt.i32() + t * B, s_prev, states.f32() + t * B * hd,
                  d_weights ? d_weights + t * B * size_t(src.steps) : nullptr);
  }
  // The output layer reads only s_t: one dense over every step.
  be.dense(DenseArgs{int64_t(Td * B), int32_t(hd), int32_t(vt), states.f32(), output_kernel_.f32(),
                     output_bias_.f32(), SEQATTN_ACTIVATION_SOFTMAX, d_probs});
}

void Model::score(int32_t batch, int32_t src_steps, const int32_t* src_tokens,
                  const int32_t* src_lengths, int32_t tgt_steps, const int32_t* tgt_tokens,
                  const int32_t* tgt_lengths, float* probs, float* attention) {
  Backend& be = *backend_;
  const size_t B = size_t(batch), Ts = size_t(src_steps), Td = size_t(tgt_steps);
  const size_t he = size_t(config_.encoder_out_dim()), hd = size_t(config_.decoder_units);
  const size_t vt = size_t(config_.target_vocab_size()), f = sizeof(float);

  const Source src = prepare_source(batch, src_steps, src_tokens, src_lengths);
  const size_t Ls = size_t(src.steps);
  const Encoded enc = encode(batch, src.steps, src.ids.i32(), src.lengths);
  const bool bahdanau = config_.decoder_kind == DecoderKind::kBahdanau;

  DeviceBuffer d_probs(cache_, B * Td * vt * f);  // [B, Td, Vt] ([Td, B, Vt] for bahdanau)
  DeviceBuffer weights;                           // [B, Td, Ls] ([Td, B, Ls] for bahdanau)
  if (attention) weights = DeviceBuffer(cache_, B * Td * Ls * f);
  if (bahdanau) {
    score_bahdanau(batch, src, enc, tgt_steps, tgt_tokens, d_probs.f32(),
                   attention ? weights.f32() : nullptr);
  } else {
    DeviceBuffer d_tgt = upload_ids(tgt_tokens, B * Td);
    DeviceBuffer x(cache_, B * Td * size_t(decoder_.input.dim) * f);
    DeviceBuffer dec_out(cache_, B * Td * hd * f);  // [B, Td, Hd]
    run_gru(decoder_, batch, tgt_steps, config_.decoder_units, d_tgt.i32(), tgt_lengths,
            enc.state.f32(), false, x.f32(), dec_out.f32(), nullptr);

    DeviceBuffer context(cache_, B * Td * he * f);  // [B, Td, He]
    AttentionArgs att{};
    att.dims = {batch, src.steps, tgt_steps, int32_t(he), int32_t(hd), config_.attention_units};
    att.encoder_out = enc.outputs.f32();
    att.decoder_out = dec_out.f32();
    att.enc_lengths = src.lengths;
    att.dec_lengths = tgt_lengths;
    att.W = attention_W_.f32();
    att.U = attention_U_.f32();
    att.bias = config_.attention_bias ? attention_bias_.f32() : nullptr;
    att.v = attention_v_.f32();
    att.context_out = context.f32();
    att.weights_out = attention ? weights.f32() : nullptr;
    be.additive_attention(att);

    DeviceBuffer cat(cache_, B * Td * (hd + he) * f);  // [B, Td, Hd + He]
    be.concat_rows(dec_out.f32(), int64_t(hd), context.f32(), int64_t(he), int64_t(B * Td),
                   cat.f32());
    be.dense(DenseArgs{int64_t(B * Td), int32_t(hd + he), int32_t(vt), cat.f32(),
                       output_kernel_.f32(), output_bias_.f32(), SEQATTN_ACTIVATION_SOFTMAX,
                       d_probs.f32()});
  }

  // Through host vectors, so a failure above leaves the caller's buffers untouched.
  std::vector<float> h_probs(B * Td * vt), h_weights(attention ? B * Td * Ls : 0);
  be.copy_to_host(h_probs.data(), d_probs.f32(), h_probs.size() * f);
  if (attention) be.copy_to_host(h_weights.data(), weights.f32(), h_weights.size() * f);
  be.synchronize();
  // Row (b, t) of the device results: time-major for the step-by-step decoder.
  const auto at = [&](size_t b, size_t t) { return bahdanau ? t * B + b : b * Td + t; };
  for (size_t b = 0; b < B; ++b)
    for (size_t t = 0; t < Td; ++t) {
      // Past a row's length the decoder output is 0 and probs would be softmax(bias):
      // meaningless, so they are cleared like the attention rows are.
      const bool valid = !tgt_lengths || t < size_t(tgt_lengths[b]);
      float* p = probs + (b * Td + t) * vt;
      if (valid)
        std::copy_n(h_probs.data() + at(b, t) * vt, vt, p);
      else
        std::fill_n(p, vt, 0.0f);
      if (!attention) continue;
      float* row = attention + (b * Td + t) * Ts;
      if (valid)
        weights_to_caller(src, b, h_weights.data() + at(b, t) * Ls, src_steps, row);
      else
        std::fill_n(row, Ts, 0.0f);
    }
}

void Model::translate(int32_t batch, int32_t src_steps, const int32_t* src_tokens,
                      const int32_t* src_lengths, int32_t max_steps, int32_t* out_tokens,
                      int32_t* out_lengths, float* attention) {
  Backend& be = *backend_;
  const size_t B = size_t(batch), Ts = size_t(src_steps), T = size_t(max_steps);
  const size_t he = size_t(config_.encoder_out_dim()), hd = size_t(config_.decoder_units);
  const size_t vt = size_t(config_.target_vocab_size());
  const size_t f = sizeof(float);
  const bool bahdanau = config_.decoder_kind == DecoderKind::kBahdanau;

  const Source src = prepare_source(batch, src_steps, src_tokens, src_lengths);
  const size_t Ls = size_t(src.steps);
  const Encoded enc = encode(batch, src.steps, src.ids.i32(), src.lengths);

  // ids row t is the input of step t (row 0 = start), row t + 1 its argmax, so
  // the tokens never leave the device inside the loop.
  DeviceBuffer ids(cache_, (T + 1) * B * sizeof(int32_t));  // [T + 1, B]
  const std::vector<int32_t> start(B, config_.target_start);
  be.copy_to_device(ids.i32(), start.data(), B * sizeof(int32_t));

  // Everything the loop touches is allocated before it: a device allocator may
  // synchronise, and a step should cost only its kernels. keys: [B, Ls, A],
  // projected once per source.
  StepBuffers buf = step_buffers(batch, src, enc);
  DeviceBuffer s[2] = {DeviceBuffer(cache_, B * hd * f), DeviceBuffer(cache_, B * hd * f)};  // [B, Hd]
  DeviceBuffer cat;  // [B, Hd + He]: attention_keras's output layer input
  if (!bahdanau) cat = DeviceBuffer(cache_, B * (hd + he) * f);
  DeviceBuffer logits(cache_, B * vt * f);                                               // [B, Vt]
  DeviceBuffer weights;                                                              // [T, B, Ls]
  if (attention) weights = DeviceBuffer(cache_, T * B * Ls * f);

  // Stopping early needs the tokens on the host. On the CPU that is free; on a
  // device it is a synchronisation, so it happens every few steps only (the
  // extra steps of finished rows are ignored below).
  const size_t check_every = be.device() == SEQATTN_DEVICE_CUDA ? 8 : 1;
  std::vector<uint8_t> finished(B, 0);
  std::vector<int32_t> h_ids((T + 1) * B);
  size_t steps_run = 0, checked = 0;

  ProjectedAttentionArgs att{};
  att.dims = {batch, src.steps, 1, int32_t(he), int32_t(hd), config_.attention_units};
  att.encoder_out = enc.outputs.f32();
  att.keys = buf.keys.f32();
  att.enc_lengths = src.lengths;
  att.dec_lengths = nullptr;
  att.U = attention_U_.f32();
  att.v = attention_v_.f32();
  att.context_out = buf.context.f32();

  for (size_t t = 0; t < T; ++t) {
    const float* h_prev = t == 0 ? enc.state.f32() : s[(t - 1) % 2].f32();
    float* h_cur = s[t % 2].f32();
    float* step_weights = attention ? weights.f32() + t * B * Ls : nullptr;
    const float* out_in = h_cur;  // the output layer's input
    int32_t out_dim = int32_t(hd);
    if (bahdanau) {
      bahdanau_step(batch, src, enc, buf, ids.i32() + t * B, h_prev, h_cur, step_weights);
    } else {
      // one step: outputs == the new state
      run_gru(decoder_, batch, 1, config_.decoder_units, ids.i32() + t * B, nullptr, h_prev,
              false, buf.x.f32(), h_cur, nullptr);
      att.decoder_out = h_cur;
      att.weights_out = step_weights;
      be.additive_attention_projected(att);
      be.concat_rows(h_cur, int64_t(hd), buf.context.f32(), int64_t(he), batch, cat.f32());
      out_in = cat.f32();
      out_dim = int32_t(hd + he);
    }
    // Softmax is monotonic: the argmax of the logits is the argmax of the probabilities.
    be.dense(DenseArgs{batch, out_dim, int32_t(vt), out_in, output_kernel_.f32(),
                       output_bias_.f32(), SEQATTN_ACTIVATION_NONE, logits.f32()});
    be.argmax_rows(logits.f32(), batch, int64_t(vt), ids.i32() + (t + 1) * B);
    steps_run = t + 1;

    if (steps_run % check_every == 0 && steps_run < T) {
      be.copy_to_host(h_ids.data() + (checked + 1) * B, ids.i32() + (checked + 1) * B,
                      (steps_run - checked) * B * sizeof(int32_t));
      for (size_t r = checked + 1; r <= steps_run; ++r)
        for (size_t b = 0; b < B; ++b)
          if (h_ids[r * B + b] == config_.target_end) finished[b] = 1;
      checked = steps_run;
      if (std::all_of(finished.begin(), finished.end(), [](uint8_t v) { return v != 0; })) break;
    }
  }

  be.copy_to_host(h_ids.data(), ids.i32(), (steps_run + 1) * B * sizeof(int32_t));
  std::vector<float> h_weights(attention ? steps_run * B * Ls : 0);  // [steps_run, B, Ls]
  if (attention) be.copy_to_host(h_weights.data(), weights.f32(), h_weights.size() * f);
  be.synchronize();

  for (size_t b = 0; b < B; ++b) {
    size_t len = 0;
    while (len < steps_run && h_ids[(len + 1) * B + b] != config_.target_end) ++len;
    out_lengths[b] = int32_t(len);
    for (size_t t = 0; t < T; ++t)
      out_tokens[b * T + t] = t < len ? h_ids[(t + 1) * B + b] : config_.target_pad;
    if (attention)
      for (size_t t = 0; t < T; ++t) {
        float* row = attention + (b * T + t) * Ts;
        if (t < len)
          weights_to_caller(src, b, h_weights.data() + (t * B + b) * Ls, src_steps, row);
        else
          std::fill_n(row, Ts, 0.0f);
      }
  }
}

}  // namespace seqattn::model
