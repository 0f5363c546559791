// seqattn — the command-line program: translate text with an attention seq2seq
// model (by default the embedded date normaliser), run a sequence head over
// rows of numbers (predict), draw attention, time the
// double-precision reference, the fast CPU path and the GPU on one batch, and
// report what this build can do. It uses the C API only.
//
// Exit status: 0 success, 1 a failure at run time (model file, device), 2 a
// usage error. Every failure prints one message on stderr.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "attention_map.hpp"
#include "dates.hpp"
#include "default_model.h"
#include "seqattn/seqattn.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

class CliError : public std::runtime_error {
 public:
  CliError(const std::string& message, int exit_code)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// Bounds of `seqattn translate` (kUsage and README.md say them). A line of
// stdin or a TEXT longer than kMaxLineBytes is refused before anything is
// translated; it is read no further than the bound, so a huge line costs no
// memory. Lines are translated in batches of at most kBatchRows rows and
// kBatchTokens source tokens (rows x the longest row), sorted by length so
// that one long line does not pad a whole batch. --show-attention keeps each
// batch's attention maps, [rows, steps, tokens] floats, under
// kAttentionBytes; a single line whose map is larger is refused.
constexpr size_t kMaxLineBytes = 4096;
constexpr size_t kBatchRows = 256;
constexpr uint64_t kBatchTokens = 16384;
constexpr uint64_t kAttentionBytes = uint64_t(256) << 20;

[[noreturn]] void usage_error(const std::string& message) {
  throw CliError(message + " (see seqattn --help)", kExitUsage);
}

void check(seqattn_status status, const std::string& what) {
  if (status != SEQATTN_OK)
    throw CliError(what + ": " + seqattn_last_error() + " [" + seqattn_status_string(status) + "]",
                   kExitFailure);
}

const char* const kUsage =
    "usage: seqattn <command> [options]\n"
    "\n"
    "commands:\n"
    "  translate [--model FILE] [--device cpu|reference|cuda] [--max-steps N] [--show-attention]\n"
    "            [--ids] TEXT...\n"
    "            translate each TEXT (or, for TEXT '-', each line of stdin) and print one\n"
    "            translation per line, in the input's order; --show-attention draws each\n"
    "            attention map. --ids: each TEXT is source token ids separated by spaces\n"
    "            (\"5 8 3\") and each translation is printed as target token ids the same\n"
    "            way. A model file without a source (target) vocabulary reads (prints) ids\n"
    "            without --ids. A TEXT or line longer than 4096 bytes, or holding a NUL\n"
    "            byte, is refused: seqattn names it ('stdin line 7 ...'), translates\n"
    "            nothing and exits 1. So is, with --show-attention, one whose attention\n"
    "            map (steps x its tokens floats) would take more than 256 MiB.\n"
    "  predict --model FILE [--device cpu|reference|cuda] [--show-pooling] [INPUT...]\n"
    "            run a sequence-head model (format seqattn.sequence_head) over each line of\n"
    "            each INPUT file (stdin when there is none, or for INPUT '-'): a line is one\n"
    "            sequence, steps x features numbers separated by spaces, tabs or commas,\n"
    "            time-major (the features of step 0 first); empty lines and lines starting\n"
    "            with '#' are skipped. Prints one line of outputs per sequence;\n"
    "            --show-pooling adds a tab and the sequence's attention-pooling weights\n"
    "            (one per step). `seqattn info --model FILE` shows steps and features.\n"
    "  demo [--model FILE]\n"
    "            translate dates written in different ways, show an attention map, and time\n"
    "            the same batch on the reference, the fast CPU path and the GPU when there is one\n"
    "  info [--model FILE]\n"
    "            version, build features, what the fast CPU path runs on, CUDA devices and the\n"
    "            model's configuration\n"
    "  --help, --version\n"
    "\n"
    "devices:\n"
    "  cpu        the fast CPU path: SIMD kernels chosen for this processor, OpenBLAS,\n"
    "             OpenMP threads (the default)\n"
    "  reference  the double-precision CPU reference every other path is tested against:\n"
    "             plain loops, slow\n"
    "  cuda       the first CUDA GPU (gpu is accepted too)\n"
    "\n"
    "Without --model, the date normaliser built into this program is used: it turns\n"
    "'21 Nov 2026', 'November 21, 2026', '21/11/2026', 'Saturday, 21 November 2026' ...\n"
    "into 2026-11-21.\n"
    "\n"
    "A model trained in Keras (.keras, .h5) or PyTorch (the seq2seq tutorial's state dicts)\n"
    "becomes a model FILE with the Python package: pip install . at the source tree, then\n"
    "  python -m seqattn.convert SRC OUT.safetensors\n"
    "(python/README.md lists the layers it recognises).\n";

// The word --device takes for each device, also the label of its figures.
const char* device_name(seqattn_device device) {
  switch (device) {
    case SEQATTN_DEVICE_CPU:
      return "cpu";
    case SEQATTN_DEVICE_CPU_REFERENCE:
      return "reference";
    case SEQATTN_DEVICE_CUDA:
      return "cuda";
  }
  return "unknown";
}

std::string version_string(uint32_t v) {
  return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." +
         std::to_string(v % 100);
}

struct Translation {
  std::string text;
  std::vector<std::string> input_labels, output_labels;
  std::vector<float> attention;  // [output tokens, input tokens]
};

// A handle and a model on it; the model goes first when they are destroyed.
class Session {
 public:
  Session(seqattn_device device, const std::string& model_path) {
    try {
      open(device, model_path);
    } catch (...) {  // the destructor does not run for a constructor that throws
      release();
      throw;
    }
  }
  ~Session() { release(); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

 private:
  void open(seqattn_device device, const std::string& model_path) {
    seqattn_handle_options options;
    seqattn_handle_options_init(&options);
    options.device = device;
    check(seqattn_handle_create(&options, &handle_),
          std::string("cannot create a ") +
              (device == SEQATTN_DEVICE_CUDA ? "CUDA" : device_name(device)) + " handle");
    if (model_path.empty()) {
      size_t size = 0;
      const unsigned char* data = seqattn_cli_default_model(&size);
      if (!data || size == 0)
        throw CliError(
            "this seqattn was built without a default model (models/date_model.safetensors was "
            "missing when CMake ran); pass --model FILE",
            kExitFailure);
      check(seqattn_model_load_from_memory(handle_, data, size, &model_),
            "cannot load the built-in model");
    } else {
      check(seqattn_model_load(handle_, model_path.c_str(), &model_), "cannot load the model");
    }
    seqattn_model_info_init(&info_);
    check(seqattn_model_get_info(model_, &info_), "cannot read the model's configuration");
  }
  void release() noexcept {
    seqattn_model_destroy(model_);
    seqattn_handle_destroy(handle_);
    model_ = nullptr;
    handle_ = nullptr;
  }

 public:
  const seqattn_model_info& info() const { return info_; }

  // y [B, N] and, when `weights` is given, the pooling weights [B, T] of x [B, T, F].
  void predict(int32_t batch, const std::vector<float>& x, std::vector<float>& y,
               std::vector<float>* weights) {
    y.assign(size_t(batch) * size_t(info_.output_dim), 0.0f);
    if (weights) weights->assign(size_t(batch) * size_t(info_.steps), 0.0f);
    check(seqattn_model_predict(handle_, model_, batch, info_.steps, info_.input_features,
                                x.data(), y.data(), weights ? weights->data() : nullptr),
          "prediction failed");
  }

  // The number of source tokens `text` makes (what a batch of it is padded
  // to); ids_in: the ids it holds (see --ids).
  int32_t token_count(const std::string& text, bool ids_in) const {
    if (ids_in) return int32_t(parse_ids(text).size());
    int32_t n = 0;
    check(seqattn_model_encode_source(model_, text.c_str(), nullptr, 0, &n),
          "cannot tokenise \"" + text + "\"");
    return n;
  }

  // ids_in: each text is space-separated source ids; ids_out: translations
  // are target ids, space-separated (see --ids).
  std::vector<Translation> translate(const std::vector<std::string>& texts, int32_t max_steps,
                                     bool with_attention, bool ids_in = false,
                                     bool ids_out = false) {
    const auto batch = int32_t(texts.size());
    if (max_steps <= 0) max_steps = info_.max_target_len;
    std::vector<std::vector<int32_t>> ids(texts.size());
    int32_t src_steps = 1;  // an empty text still needs one (padding) step
    for (size_t b = 0; b < texts.size(); ++b) {
      if (ids_in) {
        ids[b] = parse_ids(texts[b]);
        src_steps = std::max(src_steps, int32_t(ids[b].size()));
        continue;
      }
      int32_t n = 0;
      check(seqattn_model_encode_source(model_, texts[b].c_str(), nullptr, 0, &n),
            "cannot tokenise \"" + texts[b] + "\"");
      ids[b].resize(size_t(n));
      if (n > 0)
        check(seqattn_model_encode_source(model_, texts[b].c_str(), ids[b].data(), n, &n),
              "cannot tokenise \"" + texts[b] + "\"");
      src_steps = std::max(src_steps, n);
    }
    std::vector<int32_t> tokens(size_t(batch) * size_t(src_steps), info_.source_pad), lengths;
    for (size_t b = 0; b < texts.size(); ++b) {
      std::copy(ids[b].begin(), ids[b].end(), tokens.begin() + long(b * size_t(src_steps)));
      lengths.push_back(int32_t(ids[b].size()));
    }
    std::vector<int32_t> out(size_t(batch) * size_t(max_steps));  // [B, max_steps]
    std::vector<int32_t> out_lengths(static_cast<size_t>(batch));
    std::vector<float> attention(with_attention ? out.size() * size_t(src_steps) : 0);
    check(seqattn_model_translate(handle_, model_, batch, src_steps, tokens.data(), lengths.data(),
                                  max_steps, out.data(), out_lengths.data(),
                                  with_attention ? attention.data() : nullptr),
          "translation failed");

    std::vector<Translation> results(texts.size());
    for (size_t b = 0; b < texts.size(); ++b) {
      const int32_t* row = out.data() + b * size_t(max_steps);
      const auto len = size_t(out_lengths[b]);
      results[b].text = ids_out ? join_ids(row, len) : detokenise(row, len);
      if (!with_attention) continue;
      Translation& r = results[b];
      std::vector<int32_t> out_ids(row, row + len);
      r.input_labels = ids_in ? id_labels(ids[b]) : source_pieces(texts[b], ids[b].size());
      r.output_labels = ids_out ? id_labels(out_ids) : token_labels(out_ids, false);
      for (size_t t = 0; t < len; ++t) {
        const float* w = attention.data() + (b * size_t(max_steps) + t) * size_t(src_steps);
        r.attention.insert(r.attention.end(), w, w + ids[b].size());
      }
    }
    return results;
  }

 private:
  // Target ids to text by the model's vocabulary.
  std::string detokenise(const int32_t* row, size_t len) const {
    size_t bytes = 0;
    check(seqattn_model_decode_target(model_, row, int32_t(len), nullptr, 0, &bytes),
          "cannot detokenise");
    std::string text(bytes + 1, '\0');
    check(seqattn_model_decode_target(model_, row, int32_t(len), text.data(), text.size(), &bytes),
          "cannot detokenise");
    text.resize(bytes);
    return text;
  }
  // "5 8 3" (ASCII whitespace between decimal ids) to ids; the C call checks
  // their range against the vocabulary size.
  static std::vector<int32_t> parse_ids(const std::string& text) {
    std::vector<int32_t> ids;
    size_t i = 0;
    const auto space = [](char c) {
      return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
    };
    while (i < text.size()) {
      while (i < text.size() && space(text[i])) ++i;
      size_t j = i;
      while (j < text.size() && !space(text[j])) ++j;
      if (j == i) break;
      const std::string piece = text.substr(i, j - i);
      char* end = nullptr;
      errno = 0;
      const long v = std::strtol(piece.c_str(), &end, 10);
      if (*end != '\0' || errno != 0 || v < 0 || v > INT32_MAX)
        throw CliError("\"" + text + "\": '" + piece +
                           "' is not a token id (a model read with --ids, or without a source "
                           "vocabulary, takes non-negative integers separated by spaces)",
                       kExitFailure);
      ids.push_back(int32_t(v));
      i = j;
    }
    return ids;
  }
  static std::string join_ids(const int32_t* ids, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += (i ? " " : "") + std::to_string(ids[i]);
    return s;
  }
  static std::vector<std::string> id_labels(const std::vector<int32_t>& ids) {
    std::vector<std::string> labels;
    for (int32_t id : ids) labels.push_back(std::to_string(id));
    return labels;
  }

  // The text of each source token as written (letter case kept): the labels
  // of an attention map's columns, split by the model itself.
  std::vector<std::string> source_pieces(const std::string& text, size_t tokens) const {
    std::vector<int32_t> spans(2 * tokens);  // [tokens, 2]: offset, length
    int32_t n = 0;
    check(seqattn_model_source_spans(model_, text.c_str(), spans.data(), int32_t(tokens), &n),
          "cannot split \"" + text + "\"");
    std::vector<std::string> pieces;
    for (size_t i = 0; i < size_t(n); ++i)
      pieces.push_back(text.substr(size_t(spans[2 * i]), size_t(spans[2 * i + 1])));
    return pieces;
  }
  std::vector<std::string> token_labels(const std::vector<int32_t>& ids, bool source) const {
    std::vector<std::string> labels;
    for (int32_t id : ids) {
      const char* s = nullptr;
      check(source ? seqattn_model_source_token(model_, id, &s)
                   : seqattn_model_target_token(model_, id, &s),
            "cannot read the vocabulary");
      labels.emplace_back(s);
    }
    return labels;
  }

  seqattn_handle handle_ = nullptr;
  seqattn_model model_ = nullptr;
  seqattn_model_info info_{};
};

std::string draw(const Translation& t) {
  if (t.output_labels.empty() || t.input_labels.empty())
    return "  (nothing to draw: the input or the output is empty)\n";
  return cli::attention_map(t.output_labels, t.input_labels, t.attention.data(),
                            t.input_labels.size());
}

// ------------------------------------------------------------------ options

struct Options {
  std::string model_path;  // empty: the built-in model
  seqattn_device device = SEQATTN_DEVICE_CPU;
  int32_t max_steps = 0;  // 0: the model's max_target_len
  bool show_attention = false;
  bool show_pooling = false;  // predict
  bool ids = false;  // --ids
  std::vector<std::string> texts;
};

// Options of `command` from argv[first...]; the other arguments are its TEXTs.
Options parse_options(int argc, char** argv, int first, const std::string& command,
                      bool takes_text) {
  Options o;
  bool options_done = false;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_value = false;
    if (!options_done && arg.rfind("--", 0) == 0 && arg.size() > 2) {
      const size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_value = true;
      }
    }
    const auto take_value = [&]() -> std::string {
      if (has_value) return value;
      if (i + 1 >= argc) usage_error(arg + " needs a value");
      return argv[++i];
    };
    if (options_done || arg.empty() || arg[0] != '-' || arg == "-") {
      if (!takes_text) usage_error("seqattn " + command + " takes no TEXT ('" + arg + "')");
      o.texts.push_back(arg);
    } else if (arg == "--") {
      options_done = true;
    } else if (arg == "--model") {
      o.model_path = take_value();
      if (o.model_path.empty()) usage_error("--model needs a file name");
    } else if (arg == "--device" && (command == "translate" || command == "predict")) {
      const std::string d = take_value();
      if (d == "cpu")
        o.device = SEQATTN_DEVICE_CPU;
      else if (d == "reference")
        o.device = SEQATTN_DEVICE_CPU_REFERENCE;
      else if (d == "cuda" || d == "gpu")
        o.device = SEQATTN_DEVICE_CUDA;
      else
        usage_error("--device is cpu, reference or cuda, not '" + d + "'");
    } else if (arg == "--max-steps" && command == "translate") {
      const std::string n = take_value();
      char* end = nullptr;
      const long v = std::strtol(n.c_str(), &end, 10);
      if (n.empty() || *end != '\0' || v < 1 || v > 100000)
        usage_error("--max-steps is a number in [1, 100000], not '" + n + "'");
      o.max_steps = int32_t(v);
    } else if (arg == "--show-attention" && command == "translate" && !has_value) {
      o.show_attention = true;
    } else if (arg == "--show-pooling" && command == "predict" && !has_value) {
      o.show_pooling = true;
    } else if (arg == "--ids" && command == "translate" && !has_value) {
      o.ids = true;
    } else {
      usage_error("unknown option '" + std::string(argv[i]) + "' for seqattn " + command);
    }
  }
  return o;
}

// ----------------------------------------------------------------- commands

// translate and demo need a seq2seq model; a sequence head is for predict.
void require_seq2seq(const Session& session, const std::string& model_path) {
  if (session.info().kind == SEQATTN_MODEL_SEQUENCE_HEAD)
    throw CliError(model_path +
                       ": model is a sequence head (format seqattn.sequence_head), not a seq2seq "
                       "model: use seqattn predict",
                   kExitFailure);
}

// One input of `seqattn translate`: its text and where it came from, for messages.
struct Input {
  std::string text;
  std::string where;  // "TEXT 2", "stdin line 7"
};

// A NUL would end the text at the C API (it takes NUL-terminated strings):
// the rest of the line would be dropped silently.
void check_input(const Input& in, bool too_long) {
  if (too_long)
    throw CliError(in.where + " is longer than " + std::to_string(kMaxLineBytes) +
                       " bytes, the limit of one input: nothing was translated",
                   kExitFailure);
  const size_t nul = in.text.find('\0');
  if (nul != std::string::npos)
    throw CliError(in.where + " holds a NUL byte (at byte " + std::to_string(nul + 1) +
                       "): nothing was translated",
                   kExitFailure);
}

// The lines of `in`, each without its "\n" (and a "\r" before it). A line is
// read only up to kMaxLineBytes + 1 bytes: a longer one is refused then, and
// so never held whole.
std::vector<Input> read_lines(std::istream& in) {
  std::vector<Input> lines;
  std::streambuf* buf = in.rdbuf();
  std::string line;
  for (size_t number = 1;; ++number) {
    line.clear();
    int c = 0;
    bool any = false;
    while ((c = buf->sbumpc()) != std::char_traits<char>::eof()) {
      any = true;
      if (c == '\n') break;
      line.push_back(char(c));
      if (line.size() > kMaxLineBytes + 1) break;  // "\r" may still follow within the bound
    }
    if (!any) break;
    if (!line.empty() && line.back() == '\r' && c == '\n') line.pop_back();
    Input input{line, "stdin line " + std::to_string(number)};
    check_input(input, line.size() > kMaxLineBytes);
    lines.push_back(std::move(input));
    if (c == std::char_traits<char>::eof()) break;
  }
  return lines;
}

// rows x steps x tokens floats, in bytes; UINT64_MAX where it overflows.
uint64_t attention_bytes(uint64_t rows, uint64_t steps, uint64_t tokens) {
  uint64_t n = 0;
  if (__builtin_mul_overflow(rows, steps, &n) || __builtin_mul_overflow(n, tokens, &n) ||
      __builtin_mul_overflow(n, uint64_t(sizeof(float)), &n))
    return UINT64_MAX;
  return n;
}

std::string mib(uint64_t bytes) {
  if (bytes == UINT64_MAX) return "more than 2^64 bytes";
  char text[64];
  std::snprintf(text, sizeof text, "%.1f MiB", double(bytes) / 1048576.0);
  return text;
}

int cmd_translate(const Options& o) {
  if (o.texts.empty()) usage_error("seqattn translate needs at least one TEXT (or - for stdin)");
  std::vector<Input> inputs;
  for (size_t i = 0; i < o.texts.size(); ++i) {
    const std::string& t = o.texts[i];
    if (t != "-") {
      Input input{t, "TEXT " + std::to_string(i + 1)};
      check_input(input, t.size() > kMaxLineBytes);
      inputs.push_back(std::move(input));
      continue;
    }
    std::vector<Input> lines = read_lines(std::cin);
    inputs.insert(inputs.end(), std::make_move_iterator(lines.begin()),
                  std::make_move_iterator(lines.end()));
  }
  Session session(o.device, o.model_path);
  require_seq2seq(session, o.model_path);
  const bool ids_in = o.ids || !session.info().has_source_vocab;
  const bool ids_out = o.ids || !session.info().has_target_vocab;
  const int32_t steps = o.max_steps > 0 ? o.max_steps : session.info().max_target_len;

  // Every input's length in tokens, and (before anything is translated) the
  // attention maps' size: B x steps x Ts floats, checked rather than left to
  // end in bad_alloc.
  std::vector<uint64_t> tokens(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    tokens[i] = uint64_t(std::max(session.token_count(inputs[i].text, ids_in), 1));
    if (!o.show_attention) continue;
    const uint64_t bytes = attention_bytes(1, uint64_t(steps), tokens[i]);
    if (bytes > kAttentionBytes)
      throw CliError("--show-attention: the attention map of " + inputs[i].where + " (" +
                         std::to_string(tokens[i]) + " tokens) over " + std::to_string(steps) +
                         " steps (--max-steps" +
                         (o.max_steps > 0 ? "" : ", by default the model's max_target_len") +
                         ") would take " + mib(bytes) + ", more than the limit of " +
                         mib(kAttentionBytes) + ": lower --max-steps or shorten the input",
                     kExitFailure);
  }

  // Batches of inputs of similar length: shortest first, each as many rows as
  // fit the bounds; the results go back to the inputs' order.
  std::vector<size_t> order(inputs.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return tokens[a] < tokens[b]; });
  std::vector<std::string> printed(inputs.size());
  for (size_t first = 0; first < order.size();) {
    size_t last = first + 1;  // one row always fits: the checks above passed
    while (last < order.size() && last - first < kBatchRows) {
      const uint64_t rows = last - first + 1, longest = tokens[order[last]];
      if (rows * longest > kBatchTokens) break;
      if (o.show_attention && attention_bytes(rows, uint64_t(steps), longest) > kAttentionBytes)
        break;
      ++last;
    }
    std::vector<std::string> chunk;
    for (size_t k = first; k < last; ++k) chunk.push_back(inputs[order[k]].text);
    const std::vector<Translation> out =
        session.translate(chunk, steps, o.show_attention, ids_in, ids_out);
    for (size_t k = first; k < last; ++k) {
      const Translation& t = out[k - first];
      printed[order[k]] = t.text + "\n" + (o.show_attention ? draw(t) + "\n" : "");
    }
    first = last;
  }
  for (const std::string& p : printed) std::cout << p;
  return 0;
}

constexpr const char* kSeparators = " \t\r,";
bool is_separator(char c) { return std::string(kSeparators).find(c) != std::string::npos; }

// Rows of x from the lines of `in` (see kUsage): each `count` finite numbers.
// `where` names the input in messages ("stdin", a path).
void read_rows(std::istream& in, const std::string& where, int32_t steps, int32_t features,
               std::vector<float>& x, size_t& rows) {
  const size_t count = size_t(steps) * size_t(features);
  size_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    const size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    const std::string at = where + " line " + std::to_string(line_no) + ": ";
    size_t n = 0;
    for (size_t i = first; i < line.size();) {
      if (is_separator(line[i])) {
        ++i;
        continue;
      }
      size_t end = line.find_first_of(kSeparators, i);
      if (end == std::string::npos) end = line.size();
      const std::string field = line.substr(i, end - i);
      i = end;
      char* stop = nullptr;
      errno = 0;
      const float v = std::strtof(field.c_str(), &stop);
      if (*stop != '\0' || stop == field.c_str())
        throw CliError(at + "'" + field + "' is not a number", kExitFailure);
      if (!std::isfinite(v) || errno == ERANGE)
        throw CliError(at + "'" + field + "' is not a finite number", kExitFailure);
      if (++n <= count) x.push_back(v);
    }
    if (n != count)
      throw CliError(at + "expected " + std::to_string(count) + " numbers (steps " +
                         std::to_string(steps) + " \u00d7 features " + std::to_string(features) +
                         "), got " + std::to_string(n),
                     kExitFailure);
    ++rows;
  }
  if (in.bad()) throw CliError("cannot read " + where, kExitFailure);
}

// %.9g: a float printed so that it reads back as the same float.
std::string number(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", double(v));
  return buf;
}

int cmd_predict(const Options& o) {
  if (o.model_path.empty())
    usage_error("seqattn predict needs --model FILE (a sequence-head model)");
  Session session(o.device, o.model_path);
  const seqattn_model_info& info = session.info();
  if (info.kind != SEQATTN_MODEL_SEQUENCE_HEAD)
    throw CliError(o.model_path +
                       ": model is a seq2seq model (format seqattn.seq2seq), not a sequence "
                       "head: use seqattn translate",
                   kExitFailure);
  // Every input is read (and checked) before anything is printed.
  std::vector<float> x;
  size_t rows = 0;
  const std::vector<std::string> inputs = o.texts.empty() ? std::vector<std::string>{"-"} : o.texts;
  for (const std::string& path : inputs) {
    if (path == "-") {
      read_rows(std::cin, "stdin", info.steps, info.input_features, x, rows);
      continue;
    }
    std::ifstream file(path);
    if (!file) throw CliError("cannot open " + path + ": " + std::strerror(errno), kExitFailure);
    read_rows(file, path, info.steps, info.input_features, x, rows);
  }
  const size_t per_row = size_t(info.steps) * size_t(info.input_features);
  const size_t N = size_t(info.output_dim), T = size_t(info.steps);
  constexpr size_t kBatch = 256;  // as translate: bounded memory, a busy GPU
  std::vector<float> chunk, y, weights;
  for (size_t first = 0; first < rows; first += kBatch) {
    const size_t B = std::min(kBatch, rows - first);
    chunk.assign(x.begin() + long(first * per_row), x.begin() + long((first + B) * per_row));
    session.predict(int32_t(B), chunk, y, o.show_pooling ? &weights : nullptr);
    for (size_t b = 0; b < B; ++b) {
      std::string line;
      for (size_t n = 0; n < N; ++n) line += (n ? " " : "") + number(y[b * N + n]);
      if (o.show_pooling) {
        line += "\t";
        for (size_t t = 0; t < T; ++t) line += (t ? " " : "") + number(weights[b * T + t]);
      }
      std::cout << line << "\n";
    }
  }
  return 0;
}

std::string describe_head(const seqattn_model_info& m) {
  std::string s;
  s += "  name:        " + std::string(*m.name ? m.name : "(none)") + "\n";
  if (*m.description) s += "  description: " + std::string(m.description) + "\n";
  s += "  kind:        sequence head: " + std::to_string(m.rnn_layers) + " RNN layer" +
       (m.rnn_layers == 1 ? "" : "s") + " -> attention pooling over " +
       std::to_string(m.pooled_dim) + " units -> " + std::to_string(m.dense_layers) +
       " Dense layer" + (m.dense_layers == 1 ? "" : "s") + "\n";
  s += "  shapes:      x [B, " + std::to_string(m.steps) + ", " +
       std::to_string(m.input_features) + "] -> y [B, " + std::to_string(m.output_dim) +
       "] (steps, features; seqattn predict reads " +
       std::to_string(int64_t(m.steps) * m.input_features) + " numbers a line)\n";
  return s;
}

std::string describe(const seqattn_model_info& m) {
  if (m.kind == SEQATTN_MODEL_SEQUENCE_HEAD) return describe_head(m);
  const auto inputs = [](int32_t dim, int32_t vocab) {
    return dim > 0 ? "embedding " + std::to_string(dim) : "one-hot " + std::to_string(vocab);
  };
  std::string s;
  s += "  name:        " + std::string(*m.name ? m.name : "(none)") + "\n";
  if (*m.description) s += "  description: " + std::string(m.description) + "\n";
  s += "  encoder:     " + std::string(m.bidirectional ? "bidirectional GRU, " : "GRU, ") +
       std::to_string(m.encoder_units) + " units" + (m.bidirectional ? " per direction" : "") +
       ", " + inputs(m.encoder_embedding_dim, m.source_vocab_size) + "\n";
  s += "  decoder:     GRU, " + std::to_string(m.decoder_units) + " units, " +
       inputs(m.decoder_embedding_dim, m.target_vocab_size) + " (" +
       (m.gru_variant == SEQATTN_GRU_RESET_AFTER ? "reset_after" : "reset_before") + "); " +
       (m.decoder_kind == SEQATTN_DECODER_BAHDANAU
            ? "bahdanau: attends from the previous state, context into the GRU input"
            : "attention_keras: attends from its outputs") +
       "\n";
  s += "  attention:   additive, " + std::to_string(m.attention_units) + " units" +
       (m.attention_bias ? ", with bias" : "") + "\n";
  s += "  vocabulary:  " + std::to_string(m.source_vocab_size) + " source, " +
       std::to_string(m.target_vocab_size) + " target tokens; " +
       (m.has_source_vocab || m.has_target_vocab
            ? std::string(m.tokenization == SEQATTN_TOKENIZATION_CHARS ? "characters" : "words") +
                  (m.lowercase_source ? ", source lower-cased" : "")
            : std::string("no vocabularies: token ids in and out")) +
       "\n";
  s += std::string("  sources:     ") +
       (m.source_mask ? "padding masked"
                      : std::string("unmasked, padded ") + (m.source_padding_pre ? "before" : "after") +
                            " to " + std::to_string(m.max_source_len) + " tokens") +
       "\n";
  s += "  trained on:  sources up to " + std::to_string(m.max_source_len) + ", targets up to " +
       std::to_string(m.max_target_len) + " tokens\n";
  return s;
}

int cmd_info(const Options& o) {
  const uint32_t features = seqattn_build_features();
  std::cout << "seqattn " << version_string(seqattn_version()) << " (program built against "
            << version_string(SEQATTN_VERSION) << ")\n";
  std::cout << "build features: CUDA " << ((features & SEQATTN_FEATURE_CUDA) ? "yes" : "no")
            << ", OpenMP " << ((features & SEQATTN_FEATURE_OPENMP) ? "yes" : "no") << "\n";
  std::cout << "fast CPU path (--device cpu): " << seqattn_cpu_info() << "\n";
  std::cout << "CUDA devices: " << seqattn_cuda_device_count() << "\n";
  size_t embedded = 0;
  seqattn_cli_default_model(&embedded);
  std::cout << "built-in model: "
            << (embedded ? "models/date_model.safetensors, " +
                               std::to_string((embedded + 512) / 1024) + " KiB"
                         : "none in this build")
            << "\n";
  if (!o.model_path.empty() || embedded) {
    Session session(SEQATTN_DEVICE_CPU, o.model_path);
    std::cout << "\n"
              << (o.model_path.empty() ? "the built-in model" : o.model_path) << ":\n"
              << describe(session.info());
  }
  return 0;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Best of `repeats` runs, so a cold cache or a page fault does not decide the figure.
double time_translation(Session& s, const std::vector<std::string>& texts, int repeats) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    s.translate(texts, 0, false);
    best = std::min(best, seconds_since(t0));
  }
  return best;
}

std::string pad(const std::string& s, size_t w) {
  return s + std::string(w - std::min(w, s.size()), ' ');
}

std::string pad_left(const std::string& s, size_t w) {
  return std::string(w - std::min(w, s.size()), ' ') + s;
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// "cpu (AVX3, OpenBLAS)" from seqattn_cpu_info()'s "simd AVX3; OpenBLAS 0.3.21 ...; threads 2":
// what the fast path's figure was measured on. Plain "cpu" if the line reads otherwise.
std::string fast_cpu_label() {
  const std::string info = seqattn_cpu_info();
  const size_t semi = info.find("; ");
  if (info.rfind("simd ", 0) != 0 || semi == std::string::npos) return "cpu";
  const std::string simd = info.substr(5, semi - 5);
  const std::string blas = info.substr(semi + 2, info.find_first_of(" ;", semi + 2) - (semi + 2));
  return "cpu (" + simd + (blas.empty() ? "" : ", " + blas) + ")";
}

// One path's run over the throughput batch.
struct Throughput {
  std::string label;
  std::vector<Translation> out;
  size_t correct = 0;
  double seconds = 0.0;  // the best run
};

// The first run checks the translations (and fills the model's buffer cache);
// the figure is the best of it and `repeats` more.
Throughput measure(Session& s, std::string label, const std::vector<cli::DateExample>& dates,
                   int repeats) {
  std::vector<std::string> inputs;
  for (const auto& d : dates) inputs.push_back(d.input);
  Throughput r;
  r.label = std::move(label);
  const auto t0 = std::chrono::steady_clock::now();
  r.out = s.translate(inputs, 0, false);
  const double first = seconds_since(t0);
  r.seconds = std::min(first, time_translation(s, inputs, repeats));
  for (size_t i = 0; i < dates.size(); ++i) r.correct += r.out[i].text == dates[i].expected;
  return r;
}

size_t agreeing(const Throughput& a, const Throughput& b) {
  size_t n = 0;
  for (size_t i = 0; i < a.out.size() && i < b.out.size(); ++i) n += a.out[i].text == b.out[i].text;
  return n;
}

// Each path's line of the throughput table; speed-ups are over the first (the reference).
void print_throughput(const std::vector<Throughput>& paths, size_t n) {
  size_t width = 0;
  for (const Throughput& p : paths) width = std::max(width, p.label.size());
  for (const Throughput& p : paths) {
    std::cout << "  " << pad(p.label, width + 2) << p.correct << " of " << n << " correct  "
              << pad_left(fixed(p.seconds * 1e3, 1) + " ms", 10) << "  "
              << pad_left(fixed(double(n) / p.seconds, 0), 8) << " dates/s";
    if (&p != &paths.front())
      std::cout << ", " << fixed(paths.front().seconds / p.seconds, 1) << "\u00d7 the reference";
    std::cout << "\n";
  }
  for (size_t i = 1; i < paths.size(); ++i)
    std::cout << "  " << paths[i].label << " and the reference agree on "
              << agreeing(paths[i], paths.front()) << " of " << n << " dates\n";
}

int cmd_demo(const Options& o) {
  const std::vector<cli::DateExample> examples = {{"21 November 2026", "2026-11-21"},
                                                  {"3 Mar 1999", "1999-03-03"},
                                                  {"July 4, 1976", "1976-07-04"},
                                                  {"feb 29, 2000", "2000-02-29"},
                                                  {"JUL 20 1969", "1969-07-20"},
                                                  {"31/12/2099", "2099-12-31"},
                                                  {"1900-01-01", "1900-01-01"},
                                                  {"Saturday, 5 October 2024", "2024-10-05"},
                                                  {"Wednesday, March 3, 1999", "1999-03-03"},
                                                  {"14.02.2010", "2010-02-14"}};
  std::vector<std::string> inputs;
  for (const auto& e : examples) inputs.push_back(e.input);

  Session cpu(SEQATTN_DEVICE_CPU, o.model_path);
  require_seq2seq(cpu, o.model_path);
  const seqattn_model_info& info = cpu.info();
  std::cout << "seqattn " << version_string(seqattn_version())
            << " demo: " << (*info.name ? info.name : "model") << ", an attention GRU seq2seq ("
            << (info.bidirectional ? "bidirectional " : "") << "encoder " << info.encoder_output_dim
            << ", decoder " << info.decoder_units << ", attention " << info.attention_units
            << " units)\n\n";

  const std::vector<Translation> out = cpu.translate(inputs, 0, true);
  size_t correct = 0;
  std::cout << "  " << pad("input", 28) << "   output (CPU)\n";
  for (size_t i = 0; i < out.size(); ++i) {
    const bool ok = out[i].text == examples[i].expected;
    correct += ok;
    std::cout << "  " << pad(inputs[i], 28) << " \u2192 " << pad(out[i].text, 12)
              << (ok ? "\u2713" : "\u2717 expected " + examples[i].expected) << "\n";
  }
  std::cout << "  " << correct << " of " << out.size() << " as expected\n\n";

  const size_t shown = 8;  // the one with a weekday: it shows what the model ignores
  std::cout << "Where the decoder looked while writing \"" << out[shown].text << "\" from \""
            << inputs[shown] << "\":\n\n"
            << draw(out[shown]) << "\n";

  // Throughput on more dates than fit on a screen, every format and letter
  // case: the same batch on every path, so the figures compare. The reference
  // takes about half a second for it, so it runs twice, the others six times.
  const size_t n = 256;
  const std::vector<cli::DateExample> many = cli::random_dates(n, 2026);
  std::vector<Throughput> paths;
  {
    Session reference(SEQATTN_DEVICE_CPU_REFERENCE, o.model_path);
    paths.push_back(measure(reference, device_name(SEQATTN_DEVICE_CPU_REFERENCE), many, 1));
  }
  paths.push_back(measure(cpu, fast_cpu_label(), many, 5));

  std::string no_gpu;  // why the GPU is not in the table, if it is not
  if (seqattn_cuda_device_count() == 0) {
    no_gpu = std::string("No CUDA GPU ") +
             ((seqattn_build_features() & SEQATTN_FEATURE_CUDA)
                  ? "found on this machine"
                  : "support in this build (configured without CUDA)");
  } else {
    std::unique_ptr<Session> gpu_session;
    try {
      gpu_session = std::make_unique<Session>(SEQATTN_DEVICE_CUDA, o.model_path);
    } catch (const CliError& e) {
      no_gpu = std::string("A CUDA device is present but unusable (") + e.what() + ")";
    }
    if (gpu_session) {
      Session& gpu = *gpu_session;
      const std::vector<Translation> gpu_out = gpu.translate(inputs, 0, false);
      std::cout << "CPU and GPU side by side:\n";
      std::cout << "  " << pad("input", 28) << "   " << pad("CPU", 12) << " GPU\n";
      for (size_t i = 0; i < out.size(); ++i)
        std::cout << "  " << pad(inputs[i], 28) << " \u2192 " << pad(out[i].text, 12) << " "
                  << gpu_out[i].text << (gpu_out[i].text == out[i].text ? "" : "  (differs)")
                  << "\n";
      std::cout << "\n";
      paths.push_back(measure(gpu, device_name(SEQATTN_DEVICE_CUDA), many, 5));
    }
  }

  std::cout << n << " random dates in one batch, the same on each path (best of several runs):\n";
  print_throughput(paths, n);
  if (!no_gpu.empty()) std::cout << no_gpu << ": the demo ran on the CPU only.\n";
  return 0;
}

int run(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  const std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "--version") {
    std::cout << "seqattn " << version_string(seqattn_version()) << "\n";
    return 0;
  }
  for (int i = 2; i < argc; ++i)
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::cout << kUsage;
      return 0;
    }
  if (command == "translate") return cmd_translate(parse_options(argc, argv, 2, command, true));
  if (command == "predict") return cmd_predict(parse_options(argc, argv, 2, command, true));
  if (command == "demo") return cmd_demo(parse_options(argc, argv, 2, command, false));
  if (command == "info") return cmd_info(parse_options(argc, argv, 2, command, false));
  usage_error("unknown command '" + command + "'");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const int code = run(argc, argv);
    // One check for every command's output (info, demo, --help, translate):
    // output that could not be written is a failure, not a silent exit 0.
    std::cout.flush();
    if (!std::cout) throw CliError("cannot write to stdout", kExitFailure);
    return code;
  } catch (const CliError& e) {
    std::cerr << "seqattn: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "seqattn: " << e.what() << "\n";
    return kExitFailure;
  }
}
