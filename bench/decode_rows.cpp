// Decoding rows: greedy translation with the default model
// (models/date_model.safetensors) through seqattn_model_translate, on the CPU
// reference and on a CUDA handle. They measure what a user of the model API
// waits for: per-step latency at batch 1 and tokens per second at batch 64.
//
// Row names: decode/<impl>/B:<batch>. One iteration is one translate call:
// encoder, key projection, and the decoder loop (GRU step, attention, Dense,
// argmax per step) up to the step after the last row's end token.
//
// Counters (besides Time):
//   tokens   output tokens per second (the rows' out_lengths summed, per call)
//   step_us  call time / decoder steps the call needed, in microseconds; the
//            steps are max(out_lengths) + 1 (the end token's step), at most
//            max_steps. On a device the library checks for the end token
//            every 8 steps, so the steps it runs past that are in the time.
//   steps    those decoder steps per call
//   extra_MiB (GPU rows) as for the other rows
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "common.hpp"

#ifndef SEQATTN_BENCH_MODEL
#define SEQATTN_BENCH_MODEL "models/date_model.safetensors"
#endif

namespace bench {
namespace {

const char* const kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                               "July",    "August",   "September", "October", "November", "December"};

// Dates in four of the model's input formats, deterministic in b; `expected`
// is the model's output convention, YYYY-MM-DD.
void date_text(int b, std::string* source, std::string* expected) {
  const int day = 1 + (7 * b) % 28, month = 1 + (5 * b) % 12, year = 1950 + (13 * b) % 100;
  char text[64];
  switch (b % 4) {
    case 0: std::snprintf(text, sizeof text, "%d %s %d", day, kMonths[month - 1], year); break;
    case 1: std::snprintf(text, sizeof text, "%.3s %d, %d", kMonths[month - 1], day, year); break;
    case 2: std::snprintf(text, sizeof text, "%d/%d/%d", day, month, year); break;
    default: std::snprintf(text, sizeof text, "%04d-%02d-%02d", year, month, day); break;
  }
  *source = text;
  char iso[16];
  std::snprintf(iso, sizeof iso, "%04d-%02d-%02d", year, month, day);
  *expected = iso;
}

// The model loaded on one handle, a batch of tokenised dates and the outputs.
struct Decoder {
  seqattn_model model = nullptr;
  seqattn_model_info info{};
  int32_t batch = 0, src_steps = 0;
  std::vector<int32_t> src, src_lengths;  // [B, Ts] [B]
  std::vector<int32_t> out, out_lengths;  // [B, max_steps] [B]
  std::vector<std::string> expected;

  Decoder(seqattn_handle handle, int32_t B) : batch(B) {
    check(seqattn_model_load(handle, SEQATTN_BENCH_MODEL, &model),
          "seqattn_model_load(" SEQATTN_BENCH_MODEL ")");
    seqattn_model_info_init(&info);
    check(seqattn_model_get_info(model, &info), "seqattn_model_get_info");
    std::vector<std::vector<int32_t>> rows(static_cast<size_t>(B));
    for (int32_t b = 0; b < B; ++b) {
      std::string text, want;
      date_text(b, &text, &want);
      expected.push_back(want);
      int32_t len = 0;
      check(seqattn_model_encode_source(model, text.c_str(), nullptr, 0, &len),
            "seqattn_model_encode_source");
      rows[size_t(b)].resize(size_t(len));
      check(seqattn_model_encode_source(model, text.c_str(), rows[size_t(b)].data(), len, &len),
            "seqattn_model_encode_source");
      src_steps = std::max(src_steps, len);
      src_lengths.push_back(len);
    }
    src.assign(size_t(B) * size_t(src_steps), info.source_pad);
    for (int32_t b = 0; b < B; ++b)
      std::copy(rows[size_t(b)].begin(), rows[size_t(b)].end(),
                src.begin() + ptrdiff_t(b) * src_steps);
    out.resize(size_t(B) * size_t(info.max_target_len));
    out_lengths.resize(size_t(B));
  }
  ~Decoder() { seqattn_model_destroy(model); }
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  void translate(seqattn_handle handle) {
    check(seqattn_model_translate(handle, model, batch, src_steps, src.data(), src_lengths.data(),
                                  info.max_target_len, out.data(), out_lengths.data(), nullptr),
          "seqattn_model_translate");
  }
  double tokens() const {
    double n = 0;
    for (int32_t len : out_lengths) n += len;
    return n;
  }
  int32_t steps() const {
    const int32_t longest = *std::max_element(out_lengths.begin(), out_lengths.end());
    return std::min(longest + 1, info.max_target_len);
  }
  // The fraction of rows whose translation is not the expected date.
  double wrong_fraction() const {
    int wrong = 0;
    for (int32_t b = 0; b < batch; ++b) {
      char text[64];
      size_t len = 0;
      check(seqattn_model_decode_target(model, out.data() + size_t(b) * size_t(info.max_target_len),
                                        out_lengths[size_t(b)], text, sizeof text, &len),
            "seqattn_model_decode_target");
      wrong += expected[size_t(b)] != text;
    }
    return double(wrong) / double(batch);
  }
};

void decode_row(benchmark::State& state, Device device) {
  const Space space = space_of(device);
  Stopwatch watch(space);
  Handle handle(device, SEQATTN_MATH_PRECISE, watch.stream());
  MemoryProbe probe(space);
  Decoder dec(handle, int32_t(state.range(0)));
  auto body = [&] { dec.translate(handle); };
  double extra = warm_up_extra_bytes(space, handle, probe, body);
  if (space != Space::kCuda) body();  // the CPU rows warm up too: the block cache grows once
  const double total = timed_loop(state, watch, body);
  using benchmark::Counter;
  state.counters["tokens"] = Counter(dec.tokens(), Counter::kIsIterationInvariantRate);
  state.counters["steps"] = double(dec.steps());
  if (state.iterations() > 0)
    state.counters["step_us"] = total / double(state.iterations()) / dec.steps() * 1e6;
  if (space == Space::kCuda) state.counters["extra_MiB"] = extra / double(1 << 20);
}

}  // namespace

void register_decode_rows(bool with_gpu) {
  std::vector<Device> devices = {Device::kReference, Device::kCpu};
  if (with_gpu) devices.push_back(Device::kCuda);
  for (Device dev : devices)
    for (int64_t B : {1, 64})
      add_row(std::string("decode/seqattn_") + device_name(dev),
              [dev](benchmark::State& st) { decode_row(st, dev); })
          ->ArgNames({"B"})
          ->Arg(B);
}

// The rows translate dates whose answer is known: a wrong decoder (or a wrong
// model file) fails here rather than being timed. Near-ties in the argmax may
// differ between devices, so one row in 50 may be wrong.
void check_decode(bool with_gpu) {
  auto run = [](const char* name, Device device) {
    try {
      Stopwatch watch(space_of(device));
      Handle handle(device, SEQATTN_MATH_PRECISE, watch.stream());
      Decoder dec(handle, 64);
      dec.translate(handle);
      report_check(name, dec.wrong_fraction(), 0.02);
    } catch (const std::exception& e) {
      report_check_skipped(name, e.what());
    }
  };
  run("decode/seqattn_reference (fraction of dates wrong)", Device::kReference);
  run("decode/seqattn_cpu (fraction of dates wrong)", Device::kCpu);
  if (with_gpu) run("decode/seqattn_cuda (fraction of dates wrong)", Device::kCuda);
}

}  // namespace bench
