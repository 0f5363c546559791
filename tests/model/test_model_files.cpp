// Hostile and broken model files, refused through the C API (a status, a
// message naming the file and the field or tensor, *out untouched) and through
// the `seqattn` program (a message on stderr, a non-zero exit, nothing on
// stdout, no crash or hang). The bad files are made here from a valid random
// model by removing, reshaping or truncating one thing at a time.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "file_memory_util.hpp"
#include "model_test_util.hpp"

namespace {

using namespace model_test;
using namespace file_memory;
namespace fs = std::filesystem;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

struct BadFile {
  std::string name;              // also the file's name
  std::function<Bytes()> bytes;  // the file's contents
  seqattn_status status;         // what seqattn_model_load returns
  std::string needle;            // what its message must name
};

SafetensorsFile valid_file() { return random_model(Spec{}); }

// A valid model file with one change to its config.
Bytes with_config(const std::function<void(json&)>& change) {
  SafetensorsFile f = valid_file();
  json c = json::parse(f.metadata["config"]);
  change(c);
  f.metadata["config"] = c.dump();
  return f.serialize();
}

// The large files below are spliced as text into a valid file's header and
// config (building them through nlohmann took minutes under the sanitizers).

// A valid model whose header also lists `n` empty tensors that no layer uses
// (the reader takes them as they are; the model ignores them), then `last`.
Bytes with_unused_tensors(size_t n, const std::string& last = "") {
  const Bytes valid = valid_file().serialize();
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | valid[size_t(i)];
  std::string header = "{";
  for (size_t i = 0; i < n; ++i) {
    char entry[96];
    std::snprintf(entry, sizeof entry,
                  "\"unused.%06zu\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},", i);
    header += entry;
  }
  header += last;
  header.append(valid.begin() + 9, valid.begin() + 8 + long(header_len));  // after its '{'
  Bytes out;
  for (int i = 0; i < 8; ++i) out.push_back(uint8_t(uint64_t(header.size()) >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), valid.begin() + 8 + long(header_len), valid.end());
  return out;
}

// A valid model file, changed by `change`, whose config also holds `n` empty
// objects under a key the model does not read.
Bytes with_unused_members(size_t n, const std::function<void(json&)>& change = [](json&) {}) {
  SafetensorsFile f = valid_file();
  json c = json::parse(f.metadata["config"]);
  change(c);
  std::string config = "{\"unused\":{";
  for (size_t i = 0; i < n; ++i) config += (i ? ",\"" : "\"") + std::to_string(i) + "\":{}";
  f.metadata["config"] = config + "}," + c.dump().substr(1);
  return f.serialize();
}

// Sizes at which a parser quadratic in the members takes minutes (nlohmann's
// callback parser, which the reader used: 80000 tensors took 79 s, 20000
// config members 1.8 s) and a linear one a fraction of a second.
constexpr size_t kManyTensors = 100000;
constexpr size_t kManyConfigMembers = 150000;

std::vector<BadFile> bad_files() {
  std::vector<BadFile> v;
  const auto add = [&](std::string name, std::function<Bytes()> bytes, seqattn_status status,
                       std::string needle) {
    v.push_back({std::move(name), std::move(bytes), status, std::move(needle)});
  };
  add(
      "empty", [] { return Bytes{}; }, SEQATTN_ERROR_FORMAT, "empty");
  add(
      "truncated_length",
      [] {
        return Bytes{1, 0, 0};
      },
      SEQATTN_ERROR_FORMAT, "truncated_length");
  add(
      "truncated_header",
      [] {
        Bytes b = valid_file().serialize();
        b.resize(40);
        return b;
      },
      SEQATTN_ERROR_FORMAT, "truncated_header");
  add(
      "truncated_data",
      [] {
        Bytes b = valid_file().serialize();
        b.resize(b.size() - 5);
        return b;
      },
      SEQATTN_ERROR_FORMAT, "truncated_data");
  add(
      "huge_header_length",
      [] {
        Bytes b = valid_file().serialize();
        for (int i = 0; i < 8; ++i) b[size_t(i)] = 0xFF;
        return b;
      },
      SEQATTN_ERROR_FORMAT, "huge_header_length");
  add(
      "missing_tensor",
      [] {
        SafetensorsFile f = valid_file();
        f.tensors.erase("decoder.kernel");
        return f.serialize();
      },
      SEQATTN_ERROR_FORMAT, "decoder.kernel");
  add(
      "missing_backward_tensor",
      [] {
        SafetensorsFile f = valid_file();
        f.tensors.erase("encoder.backward.recurrent_kernel");
        return f.serialize();
      },
      SEQATTN_ERROR_FORMAT, "encoder.backward.recurrent_kernel");
  add(
      "wrong_shape",
      [] {
        SafetensorsFile f = valid_file();
        Tensor& t = f.tensors["attention.W"];
        std::swap(t.shape[0], t.shape[1]);
        return f.serialize();
      },
      SEQATTN_ERROR_FORMAT, "attention.W");
  add(
      "wrong_rank",
      [] {
        SafetensorsFile f = valid_file();
        Tensor& t = f.tensors["decoder.bias"];  // [2, 3Hd] flattened to [6Hd]
        t.shape = {t.shape[0] * t.shape[1]};
        return f.serialize();
      },
      SEQATTN_ERROR_FORMAT, "decoder.bias");
  add(
      "wrong_dtype",
      [] {
        SafetensorsFile f = valid_file();
        f.tensors["output.bias"].dtype = "I32";
        return f.serialize();
      },
      SEQATTN_ERROR_FORMAT, "output.bias");
  add(
      "no_metadata",
      [] {
        SafetensorsFile f = valid_file();
        f.metadata.clear();
        return f.serialize();
      },
      SEQATTN_ERROR_FORMAT, "format");
  add(
      "wrong_format",
      [] {
        SafetensorsFile f = valid_file();
        f.metadata["format"] = "pytorch";
        return f.serialize();
      },
      SEQATTN_ERROR_FORMAT, "pytorch");
  add(
      "future_version",
      [] {
        SafetensorsFile f = valid_file();
        f.metadata["format_version"] = "2";
        return f.serialize();
      },
      SEQATTN_ERROR_FORMAT, "format_version");
  add(
      "config_not_json",
      [] {
        SafetensorsFile f = valid_file();
        f.metadata["config"] = "{\"encoder\": ";
        return f.serialize();
      },
      SEQATTN_ERROR_FORMAT, "config");
  add(
      "config_lacks_field",
      [] { return with_config([](json& c) { c["encoder"].erase("units"); }); },
      SEQATTN_ERROR_FORMAT, "encoder.units");
  add(
      "config_wrong_type",
      [] { return with_config([](json& c) { c["attention"]["units"] = "seven"; }); },
      SEQATTN_ERROR_FORMAT, "attention.units");
  add(
      "config_negative_units",
      [] { return with_config([](json& c) { c["encoder"]["units"] = -6; }); }, SEQATTN_ERROR_FORMAT,
      "encoder.units");
  add(
      "config_decoder_size", [] { return with_config([](json& c) { c["decoder"]["units"] = 7; }); },
      SEQATTN_ERROR_FORMAT, "decoder.units");
  // A file may not ask for an endless decoding: 2^24 steps, the end token
  // never winning, took 11 minutes per input (kMaxDecodeSteps bounds it).
  add(
      "config_endless_decoder",
      [] { return with_config([](json& c) { c["max_target_len"] = 16777216; }); },
      SEQATTN_ERROR_FORMAT, "max_target_len");
  add(
      "config_decoder_over_the_bound",
      [] { return with_config([](json& c) { c["max_target_len"] = 100001; }); },
      SEQATTN_ERROR_FORMAT, "max_target_len");
  // Parsed in linear time, then refused for what is wrong at the end of them.
  add(
      "quadratic_header",
      [] {
        return with_unused_tensors(kManyTensors,
                                   R"("zz.last":{"dtype":"F99","shape":[0],"data_offsets":[0,0]},)");
      },
      SEQATTN_ERROR_FORMAT, "zz.last");
  add(
      "config_quadratic",
      [] {
        return with_unused_members(kManyConfigMembers,
                                   [](json& c) { c["encoder"].erase("units"); });
      },
      SEQATTN_ERROR_FORMAT, "encoder.units");
  // The config text is held to the header's rules: a repeated key (which one
  // would a reader keep?) and deep nesting are refused.
  add(
      "config_duplicate_key",
      [] {
        SafetensorsFile f = valid_file();
        f.metadata["config"] = "{\"max_target_len\":5," + f.metadata["config"].substr(1);
        return f.serialize();
      },
      SEQATTN_ERROR_FORMAT, "duplicate key 'max_target_len'");
  add(
      "config_deep",
      [] {
        SafetensorsFile f = valid_file();
        f.metadata["config"] = std::string(100000, '[') + std::string(100000, ']');
        return f.serialize();
      },
      SEQATTN_ERROR_FORMAT, "nested deeper than 16");
  add(
      "config_special_token",
      [] { return with_config([](json& c) { c["special_tokens"]["target_end"] = 9; }); },
      SEQATTN_ERROR_FORMAT, "special_tokens.target_end");
  add(
      "config_gru_variant", [] { return with_config([](json& c) { c["gru_variant"] = "lstm"; }); },
      SEQATTN_ERROR_FORMAT, "gru_variant");
  add(
      "config_duplicate_token",
      [] { return with_config([](json& c) { c["source_vocab"][3] = " "; }); }, SEQATTN_ERROR_FORMAT,
      "source_vocab[3]");
  add(
      "config_vocab_size",  // the vocabulary no longer matches the tensors
      [] { return with_config([](json& c) { c["target_vocab"].push_back("x"); }); },
      SEQATTN_ERROR_FORMAT, "decoder.embedding");
  return v;
}

class HostileFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(handle_.status, SEQATTN_OK);
    dir_ = fs::path(::testing::TempDir()) / ("seqattn_hostile_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string write(const BadFile& f) {
    const std::string path = (dir_ / (f.name + ".safetensors")).string();
    EXPECT_TRUE(write_file(path, f.bytes()));
    return path;
  }

  HandleOwner handle_;
  fs::path dir_;
};

TEST_F(HostileFiles, RefusedByTheCApi) {
  for (const BadFile& f : bad_files()) {
    SCOPED_TRACE(f.name);
    const std::string path = write(f);
    seqattn_model sentinel = reinterpret_cast<seqattn_model>(uintptr_t(0x5eed));
    seqattn_model m = sentinel;
    EXPECT_EQ(seqattn_model_load(handle_.h, path.c_str(), &m), f.status) << last_error();
    EXPECT_EQ(m, sentinel) << "*out written by a failing load";
    EXPECT_TRUE(contains(last_error(), f.needle)) << "message: " << last_error();
    EXPECT_TRUE(contains(last_error(), f.name)) << "the file is not named: " << last_error();
    // The same bytes from memory: the same refusal.
    const Bytes bytes = f.bytes();
    const uint8_t none = 0;
    EXPECT_EQ(seqattn_model_load_from_memory(handle_.h, bytes.empty() ? &none : bytes.data(),
                                             bytes.size(), &m),
              f.status)
        << last_error();
    EXPECT_EQ(m, sentinel);
  }
}

// The CPU time this thread has used, in seconds: what a parse costs, unlike the
// wall time unaffected by how loaded the machine is.
double cpu_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// Valid files with many header entries or config members load in time linear
// in their size: well under a second here (a few under the sanitizers), against
// minutes for the quadratic parser.
TEST_F(HostileFiles, ManyMembersLoadInLinearTime) {
  const std::vector<std::pair<std::string, std::function<Bytes()>>> files = {
      {std::to_string(kManyTensors) + " unused tensors",
       [] { return with_unused_tensors(kManyTensors); }},
      {std::to_string(kManyConfigMembers) + " unused config members",
       [] { return with_unused_members(kManyConfigMembers); }},
  };
  for (const auto& [what, bytes_of] : files) {
    SCOPED_TRACE(what);
    const Bytes bytes = bytes_of();
    const double start = cpu_seconds();
    seqattn_model m = nullptr;
    ASSERT_EQ(seqattn_model_load_from_memory(handle_.h, bytes.data(), bytes.size(), &m), SEQATTN_OK)
        << last_error();
    const double took = cpu_seconds() - start;
    seqattn_model_destroy(m);
    EXPECT_LT(took, 20.0) << bytes.size() << "-byte file";
    std::printf("[ timing   ] %s (%zu bytes): loaded in %.3f s\n", what.c_str(), bytes.size(), took);
  }
}



constexpr uint64_t kSparseSize = uint64_t(4) << 30;

// A 4 GB file is not read whole: one of zeros is refused after its first 8
// bytes (they used to cost 4 GB of memory and seconds first), and a valid
// model followed by zeros loads for the cost of the model.
TEST_F(HostileFiles, ASparseFileIsNotReadWhole) {
  struct Case {
    std::string name;
    Bytes head;
    seqattn_status status;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {"sparse_zeros", {}, SEQATTN_ERROR_FORMAT, "header is not valid JSON"},
      {"sparse_after_a_model", valid_file().serialize(), SEQATTN_OK, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = (dir_ / (c.name + ".safetensors")).string();
    if (!sparse_file(path, c.head, kSparseSize)) GTEST_SKIP() << "no sparse files in " << dir_;
    seqattn_model m = nullptr;
    seqattn_status status = SEQATTN_ERROR_INTERNAL;
    int64_t growth = 0;
    const double start = cpu_seconds();
    const bool measured =
        peak_memory_growth([&] { status = seqattn_model_load(handle_.h, path.c_str(), &m); }, &growth);
    const double took = cpu_seconds() - start;
    EXPECT_EQ(status, c.status) << last_error();
    if (!c.needle.empty()) {
      EXPECT_TRUE(contains(last_error(), c.needle)) << last_error();
      EXPECT_TRUE(contains(last_error(), path)) << last_error();
    }
    seqattn_model_destroy(m);
    EXPECT_LT(took, 5.0);
    if (measured) {
      EXPECT_LT(growth, int64_t(32) << 20) << "peak memory grew by " << growth << " bytes";
    }
  }
}

TEST_F(HostileFiles, DirectoryAndMissingFile) {
  seqattn_model m = nullptr;
  EXPECT_EQ(seqattn_model_load(handle_.h, dir_.string().c_str(), &m), SEQATTN_ERROR_IO);
  EXPECT_TRUE(contains(last_error(), dir_.string())) << last_error();
  const std::string missing = (dir_ / "no_such_model.safetensors").string();
  EXPECT_EQ(seqattn_model_load(handle_.h, missing.c_str(), &m), SEQATTN_ERROR_IO);
  EXPECT_TRUE(contains(last_error(), "no_such_model.safetensors")) << last_error();
  EXPECT_EQ(m, nullptr);
}

// ------------------------------------------------------------------ the CLI

#ifdef SEQATTN_CLI

// Runs the program with stdin empty; stdout to a file, or to `stdout_to`.
CliRun run_cli(const std::vector<std::string>& args, const fs::path& dir,
               const std::string& stdout_to = "") {
  return run_program(SEQATTN_CLI, args, dir, "", stdout_to);
}

TEST_F(HostileFiles, RefusedByTheProgram) {
  std::vector<std::pair<std::string, std::string>> files;  // path, what the message names
  // The two large files go through the C API above (timed in CPU time): a
  // parse of seconds under the sanitizers can pass the CLI's wall-clock limit
  // on a loaded machine.
  for (const BadFile& f : bad_files())
    if (f.name != "quadratic_header" && f.name != "config_quadratic")
      files.emplace_back(write(f), f.needle);
  files.emplace_back(dir_.string(), "directory");
  const std::string sparse = (dir_ / "sparse_zeros.safetensors").string();
  if (sparse_file(sparse, {}, kSparseSize)) files.emplace_back(sparse, "header is not valid JSON");
  files.emplace_back((dir_ / "no_such_model.safetensors").string(), "no_such_model");
  for (const auto& [path, needle] : files) {
    SCOPED_TRACE(path);
    for (const char* command : {"translate", "info"}) {
      std::vector<std::string> args = {command, "--model", path};
      if (std::string(command) == "translate") args.push_back("21 Nov 2026");
      const CliRun r = run_cli(args, dir_);
      EXPECT_EQ(r.exit_code, 1) << command << " stderr: " << r.err;
      EXPECT_TRUE(contains(r.err, needle)) << command << " stderr: " << r.err;
      if (std::string(command) == "translate") {
        EXPECT_EQ(r.out, "") << "stdout: " << r.out;
      }
    }
  }
}

TEST_F(HostileFiles, BadArgumentsToTheProgram) {
  const std::string model =
      write({"valid", [] { return valid_file().serialize(); }, SEQATTN_OK, ""});
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {{}, 2, "usage"},
      {{"frobnicate"}, 2, "unknown command 'frobnicate'"},
      {{"translate", "--model", model}, 2, "needs at least one TEXT"},
      {{"translate", "--model"}, 2, "--model needs a value"},
      {{"translate", "--model", model, "--device", "tpu", "x"}, 2, "--device is cpu, reference or cuda"},
      {{"translate", "--model", model, "--max-steps", "0", "x"}, 2, "--max-steps"},
      {{"translate", "--model", model, "--max-steps", "7x", "x"}, 2, "--max-steps"},
      {{"translate", "--model", model, "--bogus", "x"}, 2, "unknown option '--bogus'"},
      {{"demo", "extra"}, 2, "takes no TEXT"},
      {{"info", "--show-attention"}, 2, "unknown option"},
  };
  for (const Case& c : cases) {
    std::string joined;
    for (const auto& a : c.args) joined += a + " ";
    SCOPED_TRACE(joined);
    const CliRun r = run_cli(c.args, dir_);
    EXPECT_EQ(r.exit_code, c.exit_code) << "stderr: " << r.err;
    EXPECT_TRUE(contains(r.err, c.needle)) << "stderr: " << r.err;
  }
  // A CUDA device where there is none: a message, not a crash.
  if (seqattn_cuda_device_count() == 0) {
    const CliRun r = run_cli({"translate", "--model", model, "--device", "cuda", "x"}, dir_);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_TRUE(contains(r.err, "CUDA")) << r.err;
  }
  // The valid model works, --help and info succeed.
  CliRun r = run_cli({"translate", "--model", model, "--show-attention", "abc", "Ab c"}, dir_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "\u2190 input")) << r.out;
  r = run_cli({"--help"}, dir_);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(contains(r.out, "seqattn translate") || contains(r.out, "translate [--model FILE]"));
  r = run_cli({"info", "--model", model}, dir_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "test-model")) << r.out;
}

// A command whose output cannot be written says so and exits 1 — every
// command, not translate alone (`seqattn info >/dev/full` used to exit 0).
TEST_F(HostileFiles, EveryCommandFailsWhenStdoutCannotBeWritten) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full on this system";
  const std::string model =
      write({"valid", [] { return valid_file().serialize(); }, SEQATTN_OK, ""});
  const std::vector<std::vector<std::string>> commands = {
      {"--help"}, {"--version"}, {"info", "--model", model}, {"translate", "--model", model, "abc"},
      {"translate", "--help"}};
  for (const auto& args : commands) {
    SCOPED_TRACE(args[0] + (args.size() > 1 ? " " + args[1] : ""));
    const CliRun r = run_cli(args, dir_, "/dev/full");
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_TRUE(contains(r.err, "cannot write to stdout")) << r.err;
  }
}

// --device picks the path; the fast CPU path (the default) and the reference
// translate alike, and the attention map's columns are the text as written.
TEST_F(HostileFiles, TheProgramOnEachCpuPath) {
  const std::string model =
      write({"valid", [] { return valid_file().serialize(); }, SEQATTN_OK, ""});
  const std::vector<std::string> texts = {"abc", "Ab c", "a\xC3\xA9" "b"};
  std::vector<std::string> args = {"translate", "--model", model, "--show-attention"};
  args.insert(args.end(), texts.begin(), texts.end());
  const CliRun fallback = run_cli(args, dir_);
  ASSERT_EQ(fallback.exit_code, 0) << fallback.err;
  for (const char* device : {"cpu", "reference"}) {
    SCOPED_TRACE(device);
    std::vector<std::string> with_device = args;
    with_device.insert(with_device.begin() + 1, {"--device", device});
    const CliRun r = run_cli(with_device, dir_);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, fallback.out) << "differs from the default (cpu) path";
  }
  // Columns: one per code point, the capital kept, "\u00e9" whole.
  EXPECT_TRUE(contains(fallback.out, "A b \u2423 c  \u2190 input")) << fallback.out;
  EXPECT_TRUE(contains(fallback.out, "a \u00e9 b  \u2190 input")) << fallback.out;

  CliRun r = run_cli({"--help"}, dir_);
  EXPECT_EQ(r.exit_code, 0);
  for (const char* word : {"cpu|reference|cuda", "the fast CPU path", "double-precision"})
    EXPECT_TRUE(contains(r.out, word)) << word << " not in --help:\n" << r.out;
  // info names what the fast path runs on: seqattn_cpu_info(), verbatim.
  r = run_cli({"info", "--model", model}, dir_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, std::string("fast CPU path (--device cpu): ") + seqattn_cpu_info() +
                                  "\n"))
      << r.out;
}

// A model file without vocabularies reads and prints token ids; --ids does
// the same for a model with them.
TEST_F(HostileFiles, TheProgramOnTokenIds) {
  const std::string fixture = SEQATTN_FIXTURES_DIR "/bahdanau_tutorial.safetensors";
  if (!fs::exists(fixture)) GTEST_SKIP() << fixture << " is missing";
  std::string error;
  const std::optional<SafetensorsFile> f = read_safetensors(fixture, &error);
  ASSERT_TRUE(f) << error;
  const std::vector<int32_t> src = f->tensors.at("fixture.src_tokens").i32(),
                             src_len = f->tensors.at("fixture.src_lengths").i32(),
                             greedy = f->tensors.at("fixture.greedy_tokens").i32(),
                             greedy_len = f->tensors.at("fixture.greedy_lengths").i32();
  const size_t B = src_len.size(), Ts = src.size() / B, T = greedy.size() / B;
  std::vector<std::string> args = {"translate", "--model", fixture};
  std::string want;
  for (size_t b = 0; b < B; ++b) {
    std::string in, out;
    for (size_t i = 0; i < size_t(src_len[b]); ++i)
      in += (i ? " " : "") + std::to_string(src[b * Ts + i]);
    for (size_t t = 0; t < size_t(greedy_len[b]); ++t)
      out += (t ? " " : "") + std::to_string(greedy[b * T + t]);
    args.push_back(in);
    want += out + "\n";
  }
  CliRun r = run_cli(args, dir_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, want);  // the numpy implementation's greedy tokens
  args.insert(args.begin() + 1, "--ids");  // the same when asked for
  r = run_cli(args, dir_);
  EXPECT_EQ(r.out, want) << r.err;
  r = run_cli({"translate", "--model", fixture, "--show-attention", "5 8 3"}, dir_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "5 8 3  \u2190 input")) << r.out;

  // Not ids: refused, naming the piece and why, nothing printed.
  r = run_cli({"translate", "--model", fixture, "5 8", "five"}, dir_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "'five' is not a token id")) << r.err;
  EXPECT_EQ(r.out, "");
  r = run_cli({"translate", "--model", fixture, "5 13"}, dir_);  // Vs = 13
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "outside the source vocabulary [0, 13)")) << r.err;

  // --ids on a model with vocabularies: ids in, ids out.
  const std::string model =
      write({"valid", [] { return valid_file().serialize(); }, SEQATTN_OK, ""});
  r = run_cli({"translate", "--model", model, "--ids", "3 4 5"}, dir_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.find_first_not_of("0123456789 \n"), std::string::npos) << r.out;
  r = run_cli({"--help"}, dir_);
  EXPECT_TRUE(contains(r.out, "--ids")) << r.out;
}

#endif  // SEQATTN_CLI

}  // namespace
