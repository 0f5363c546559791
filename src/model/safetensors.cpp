// safetensors reader and writer.
//
//   file = u64 N (little-endian) | N bytes of JSON header | data
//   header = { "__metadata__": {string: string}?,
//              name: {"dtype": "F32", "shape": [d0, ...], "data_offsets": [begin, end]}, ... }
//
// Offsets are relative to the start of the data. A file is untrusted input
// (it may come from anywhere, and the fuzzer feeds it garbage), so from_bytes
// validates every field before a File exists, and nothing afterwards needs to
// check a bound again. Integers are assembled byte by byte, so the reader is
// independent of the host's byte order and never reads a misaligned float.
#include "model/safetensors.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "core/error.hpp"

namespace seqattn::st {
namespace {

using nlohmann::json;

// A valid header nests three levels (top → tensor → shape); anything past this
// is hostile. The bound keeps the parser's state and every later recursive walk
// over the json value (destruction, dump, comparison) shallow.
constexpr int kMaxJsonDepth = 64;

struct DTypeEntry {
  const char* name;
  DType dtype;
  size_t size;
};
constexpr DTypeEntry kDTypes[] = {
    {"BOOL", DType::kBool, 1}, {"U8", DType::kU8, 1},    {"I8", DType::kI8, 1},
    {"I16", DType::kI16, 2},   {"U16", DType::kU16, 2},  {"F16", DType::kF16, 2},
    {"BF16", DType::kBF16, 2}, {"I32", DType::kI32, 4},  {"U32", DType::kU32, 4},
    {"F32", DType::kF32, 4},   {"F64", DType::kF64, 8},  {"I64", DType::kI64, 8},
    {"U64", DType::kU64, 8},
};

const DTypeEntry& entry_of(DType dtype) {
  for (const DTypeEntry& e : kDTypes)
    if (e.dtype == dtype) return e;
  fail(SEQATTN_ERROR_INTERNAL, "safetensors: unknown DType value");
}

[[noreturn]] void format_error(const std::string& message) {
  fail(SEQATTN_ERROR_FORMAT, message);
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

uint64_t load_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void store_u32_le(uint32_t v, uint8_t* p) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}

// The JSON type in words, for messages ("shape[1] is a string").
std::string kind_of(const json& j) {
  if (j.is_number_float()) return "a non-integer number";
  if (j.is_number()) return "an integer";
  if (j.is_object()) return "an object";
  if (j.is_array()) return "an array";
  return std::string("a ") + j.type_name();
}

constexpr uint64_t kI64Max = uint64_t(std::numeric_limits<int64_t>::max());

// The element count of a shape of non-negative entries; false when it exceeds
// 2^63-1. A zero entry makes the count 0 whatever the others are, so the
// overflow check only applies to shapes without one.
bool count_elements(const std::vector<int64_t>& shape, uint64_t& count) {
  count = 1;
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) {
    count = 0;
    return true;
  }
  for (int64_t d : shape) {
    if (count > kI64Max / uint64_t(d)) return false;
    count *= uint64_t(d);
  }
  return true;
}

// Parses the header, refusing deep nesting and duplicate keys while parsing:
// nlohmann keeps the last of duplicate keys silently, and another reader
// (the Python exporter's) might keep the first, so one file could mean two models.
json parse_header(const uint8_t* first, const uint8_t* last) {
  // nlohmann's lexer takes a NUL byte for the end of the input and would accept
  // "{}\0anything"; unescaped NUL is never valid JSON.
  if (const void* nul = std::memchr(first, 0, size_t(last - first)))
    format_error("header: NUL byte at offset " +
                 std::to_string(static_cast<const uint8_t*>(nul) - first));
  std::vector<std::set<std::string>> keys;  // one set per open object
  const json::parser_callback_t check = [&keys](int depth, json::parse_event_t event,
                                                json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth >= kMaxJsonDepth)
          format_error("header: JSON nested deeper than " + std::to_string(kMaxJsonDepth) +
                       " levels");
        if (event == json::parse_event_t::object_start) keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        keys.pop_back();
        break;
      case json::parse_event_t::key: {
        const std::string& key = parsed.get_ref<const std::string&>();
        if (!keys.back().insert(key).second)
          format_error("header: duplicate key " + quoted(key));
        break;
      }
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(first, last, check, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::exception& e) {
    format_error(std::string("header is not valid JSON: ") + e.what());
  }
}

// A JSON integer in [0, max]; `what` names the field for the message.
uint64_t non_negative_integer(const json& j, const std::string& what, uint64_t max) {
  if (j.is_number_unsigned()) {
    const uint64_t v = j.get<uint64_t>();
    if (v > max) format_error(what + " = " + std::to_string(v) + " is too large");
    return v;
  }
  if (j.is_number_integer()) {
    const int64_t v = j.get<int64_t>();
    if (v < 0) format_error(what + " = " + std::to_string(v) + " is negative");
    return uint64_t(v);  // "-0"
  }
  format_error(what + " is " + kind_of(j) + ", expected a non-negative integer");
}

const json& field(const json& entry, const char* key, const std::string& tensor) {
  const auto it = entry.find(key);
  if (it == entry.end()) format_error("tensor " + quoted(tensor) + ": '" + key + "' is missing");
  return *it;
}

TensorInfo parse_tensor(const std::string& name, const json& entry, uint64_t data_size) {
  const std::string where = "tensor " + quoted(name);
  if (!entry.is_object()) format_error(where + " is " + kind_of(entry) + ", expected an object");

  TensorInfo t;
  t.name = name;

  const json& dtype = field(entry, "dtype", name);
  if (!dtype.is_string()) format_error(where + ": dtype is " + kind_of(dtype) + ", expected a string");
  const std::string& dtype_str = dtype.get_ref<const std::string&>();
  const auto known = std::find_if(std::begin(kDTypes), std::end(kDTypes),
                                  [&](const DTypeEntry& e) { return dtype_str == e.name; });
  if (known == std::end(kDTypes)) format_error(where + ": unknown dtype " + quoted(dtype_str));
  t.dtype = known->dtype;

  const json& shape = field(entry, "shape", name);
  if (!shape.is_array()) format_error(where + ": shape is " + kind_of(shape) + ", expected an array");
  for (size_t i = 0; i < shape.size(); ++i)
    t.shape.push_back(int64_t(
        non_negative_integer(shape[i], where + ": shape[" + std::to_string(i) + "]", kI64Max)));
  uint64_t elements = 0;
  if (!count_elements(t.shape, elements))
    format_error(where + ": shape " + shape_string(t.shape) + " has more than 2^63-1 elements");
  const uint64_t size = known->size;
  if (elements > std::numeric_limits<uint64_t>::max() / size)
    format_error(where + ": shape " + shape_string(t.shape) + " overflows the byte length");
  const uint64_t bytes = elements * size;

  const json& offsets = field(entry, "data_offsets", name);
  if (!offsets.is_array() || offsets.size() != 2)
    format_error(where + ": data_offsets must be an array [begin, end]");
  t.begin = non_negative_integer(offsets[0], where + ": data_offsets[0]",
                                 std::numeric_limits<uint64_t>::max());
  t.end = non_negative_integer(offsets[1], where + ": data_offsets[1]",
                               std::numeric_limits<uint64_t>::max());
  const std::string range = "[" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]";
  if (t.begin > t.end) format_error(where + ": data_offsets " + range + " are reversed");
  if (t.end > data_size)
    format_error(where + ": data_offsets " + range + " end past the data (" +
                 std::to_string(data_size) + " bytes)");
  if (t.end - t.begin != bytes)
    format_error(where + ": data_offsets " + range + " hold " + std::to_string(t.end - t.begin) +
                 " bytes, but shape " + shape_string(t.shape) + " of " + known->name + " needs " +
                 std::to_string(bytes));
  return t;
}

void parse_metadata(const json& meta, std::map<std::string, std::string>& out) {
  if (!meta.is_object()) format_error("__metadata__ is " + kind_of(meta) + ", expected an object");
  for (const auto& [key, value] : meta.items()) {
    if (!value.is_string())
      format_error("__metadata__[" + quoted(key) + "] is " + kind_of(value) + ", expected a string");
    out.emplace(key, value.get<std::string>());
  }
}

// Sorted by begin, a tensor overlaps an earlier one iff it starts before the
// furthest end seen so far. Empty tensors occupy no bytes and overlap nothing.
void check_no_overlap(const std::vector<TensorInfo>& tensors) {
  std::vector<const TensorInfo*> by_begin;
  for (const TensorInfo& t : tensors)
    if (t.end > t.begin) by_begin.push_back(&t);
  std::sort(by_begin.begin(), by_begin.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  const TensorInfo* furthest = nullptr;
  for (const TensorInfo* t : by_begin) {
    if (furthest && t->begin < furthest->end)
      format_error("tensors " + quoted(furthest->name) + " [" + std::to_string(furthest->begin) +
                   ", " + std::to_string(furthest->end) + "] and " + quoted(t->name) + " [" +
                   std::to_string(t->begin) + ", " + std::to_string(t->end) + "] overlap");
    if (!furthest || t->end > furthest->end) furthest = t;
  }
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

[[noreturn]] void io_error(const std::string& path, const char* action, int err) {
  fail(SEQATTN_ERROR_IO, "cannot " + std::string(action) + " " + quoted(path) + ": " +
                             std::strerror(err));
}

}  // namespace

size_t dtype_size(DType dtype) { return entry_of(dtype).size; }
const char* dtype_name(DType dtype) { return entry_of(dtype).name; }

int64_t TensorInfo::elements() const {
  // A validated shape with a zero entry may have others whose product alone
  // would overflow ([2^40, 2^40, 0]).
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

File File::from_bytes(const uint8_t* data, size_t size) {
  return from_bytes(size ? std::vector<uint8_t>(data, data + size) : std::vector<uint8_t>());
}

File File::from_bytes(std::vector<uint8_t> bytes) {
  if (bytes.size() < 8)
    format_error("file of " + std::to_string(bytes.size()) +
                 " bytes is too short for the 8-byte header length");
  const uint64_t header_len = load_u64_le(bytes.data());
  const uint64_t after_len = bytes.size() - 8;
  if (header_len > kMaxHeaderBytes)
    format_error("header length " + std::to_string(header_len) + " exceeds the limit of " +
                 std::to_string(kMaxHeaderBytes) + " bytes");
  if (header_len > after_len)
    format_error("header length " + std::to_string(header_len) + " runs past the end of the file (" +
                 std::to_string(after_len) + " bytes after the length)");

  const uint8_t* header_begin = bytes.data() + 8;
  const json header = parse_header(header_begin, header_begin + header_len);
  if (!header.is_object()) format_error("header is " + kind_of(header) + ", expected a JSON object");

  File file;
  file.data_start_ = size_t(8 + header_len);
  const uint64_t data_size = bytes.size() - file.data_start_;
  // json objects iterate in key order, so tensors_ ends up sorted by name (find relies on it).
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__")
      parse_metadata(entry, file.metadata_);
    else
      file.tensors_.push_back(parse_tensor(name, entry, data_size));
  }
  check_no_overlap(file.tensors_);
  file.bytes_ = std::move(bytes);
  return file;
}

File File::open(const std::string& path) {
  // stat first: fopen succeeds on a directory on Linux, and a FIFO or device
  // could block or never end.
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) io_error(path, "open", errno);
  if (S_ISDIR(info.st_mode)) fail(SEQATTN_ERROR_IO, "cannot read " + quoted(path) + ": it is a directory");
  if (!S_ISREG(info.st_mode))
    fail(SEQATTN_ERROR_IO, "cannot read " + quoted(path) + ": not a regular file");

  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) io_error(path, "open", errno);
  std::vector<uint8_t> bytes;
  try {
    bytes.resize(size_t(info.st_size));
  } catch (const std::bad_alloc&) {
    fail(SEQATTN_ERROR_OUT_OF_MEMORY,
         "cannot hold " + quoted(path) + " (" + std::to_string(info.st_size) + " bytes) in memory");
  }
  if (!bytes.empty() && std::fread(bytes.data(), 1, bytes.size(), f.get()) != bytes.size()) {
    const int err = std::ferror(f.get()) ? errno : 0;
    if (err) io_error(path, "read", err);
    fail(SEQATTN_ERROR_IO, "cannot read " + quoted(path) + ": it shrank while being read");
  }
  try {
    return from_bytes(std::move(bytes));
  } catch (const Error& e) {
    throw Error(e.status(), path + ": " + e.what());
  }
}

const TensorInfo* File::find(const std::string& name) const {
  const auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                                   [](const TensorInfo& t, const std::string& n) { return t.name < n; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

const uint8_t* File::data(const TensorInfo& tensor) const {
  return bytes_.data() + data_start_ + tensor.begin;
}

std::vector<float> File::read_f32(const std::string& name,
                                  const std::vector<int64_t>& expected_shape) const {
  const TensorInfo* t = find(name);
  if (!t) format_error("tensor " + quoted(name) + " is missing");
  if (t->dtype != DType::kF32)
    format_error("tensor " + quoted(name) + " has dtype " + dtype_name(t->dtype) +
                 ", expected F32");
  if (t->shape != expected_shape)
    format_error("tensor " + quoted(name) + " has shape " + shape_string(t->shape) +
                 ", expected " + shape_string(expected_shape));
  std::vector<float> values(size_t(t->elements()));
  const uint8_t* p = data(*t);
  for (size_t i = 0; i < values.size(); ++i, p += 4) {
    const uint32_t bits = uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 |
                          uint32_t(p[3]) << 24;
    std::memcpy(&values[i], &bits, 4);
  }
  return values;
}

std::vector<uint8_t> serialize_f32(const std::map<std::string, std::string>& metadata,
                                   const std::vector<F32Tensor>& tensors) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const F32Tensor& t : tensors) {
    if (t.name == "__metadata__") invalid("tensor name '__metadata__' is reserved");
    if (header.contains(t.name)) invalid("tensor " + quoted(t.name) + " appears twice");
    const std::string where = "tensor " + quoted(t.name) + ": shape " + shape_string(t.shape);
    if (std::any_of(t.shape.begin(), t.shape.end(), [](int64_t d) { return d < 0; }))
      invalid(where + " has a negative entry");
    uint64_t elements = 0;
    if (!count_elements(t.shape, elements) || elements != t.values.size())
      invalid(where + " does not hold the " + std::to_string(t.values.size()) + " values given");
    const uint64_t end = offset + 4 * uint64_t(t.values.size());
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    invalid(std::string("safetensors header cannot be written: ") + e.what());
  }
  // Pad with spaces (valid JSON whitespace) so the data starts 8-byte aligned,
  // as the reference writer does; mmap-ing readers can then use it in place.
  text.append((8 - text.size() % 8) % 8, ' ');

  std::vector<uint8_t> out(8 + text.size() + offset);
  const uint64_t header_len = text.size();
  for (int i = 0; i < 8; ++i) out[size_t(i)] = uint8_t(header_len >> (8 * i));
  std::memcpy(out.data() + 8, text.data(), text.size());
  uint8_t* p = out.data() + 8 + text.size();
  for (const F32Tensor& t : tensors)
    for (float v : t.values) {
      uint32_t bits;
      std::memcpy(&bits, &v, 4);
      store_u32_le(bits, p);
      p += 4;
    }
  return out;
}

void write_f32(const std::string& path, const std::map<std::string, std::string>& metadata,
               const std::vector<F32Tensor>& tensors) {
  const std::vector<uint8_t> bytes = serialize_f32(metadata, tensors);
  FilePtr f(std::fopen(path.c_str(), "wb"));
  if (!f) io_error(path, "create", errno);
  if (std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size())
    io_error(path, "write", errno);
  if (std::fclose(f.release()) != 0) io_error(path, "write", errno);
}

}  // namespace seqattn::st
