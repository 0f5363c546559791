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
#include <stdexcept>
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

// Builds the json value from the parser's events, as nlohmann's own DOM
// builder does, and checks while building what the reader needs checked
// (nesting, duplicate keys). Each event costs O(log members): an object is a
// std::map, so a duplicate key is one lookup, and nothing is ever rescanned.
class StrictJsonBuilder final : public nlohmann::json_sax<json> {
 public:
  StrictJsonBuilder(int max_depth, const std::string& what) : max_depth_(max_depth), what_(what) {}
  json take() { return std::move(root_); }

  bool null() override { return add(json(nullptr)); }
  bool boolean(bool v) override { return add(json(v)); }
  bool number_integer(number_integer_t v) override { return add(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return add(json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return add(json(v)); }
  bool string(string_t& v) override { return add(json(std::move(v))); }
  bool binary(binary_t&) override { return false; }  // only binary formats have these
  bool start_object(std::size_t) override { return open(json::value_t::object); }
  bool start_array(std::size_t) override { return open(json::value_t::array); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    const std::string& name = k;  // (std::quoted would win overload resolution for k)
    if (open_.back()->get_ref<const json::object_t&>().count(name) != 0)
      format_error(what_ + ": duplicate key " + quoted(name));
    key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const json::exception& e) override {
    format_error(what_ + " is not valid JSON: " + e.what());
  }

 private:
  // Places a value in the innermost open array or object (under the last key).
  json* put(json&& value) {
    if (open_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    json& parent = *open_.back();
    if (parent.is_array()) {
      json::array_t& array = parent.get_ref<json::array_t&>();
      array.push_back(std::move(value));
      return &array.back();  // stays valid: nothing is added to `array` while this is open
    }
    return &parent.get_ref<json::object_t&>().emplace(std::move(key_), std::move(value)).first->second;
  }
  bool add(json&& value) {
    put(std::move(value));
    return true;
  }
  bool open(json::value_t type) {
    if (open_.size() >= size_t(max_depth_))
      format_error(what_ + ": JSON nested deeper than " + std::to_string(max_depth_) + " levels");
    open_.push_back(put(json(type)));
    return true;
  }
  bool close() {
    open_.pop_back();
    return true;
  }

  const int max_depth_;
  const std::string& what_;
  json root_;
  std::vector<json*> open_;  // the open arrays and objects, innermost last
  std::string key_;          // the key of the next value in the innermost object
};

}  // namespace

json parse_untrusted_json(const uint8_t* first, const uint8_t* last, int max_depth,
                          const std::string& what) {
  // nlohmann's lexer takes a NUL byte for the end of the input and would accept
  // "{}\0anything"; unescaped NUL is never valid JSON.
  if (const void* nul = first == last ? nullptr : std::memchr(first, 0, size_t(last - first)))
    format_error(what + ": NUL byte at offset " +
                 std::to_string(static_cast<const uint8_t*>(nul) - first));
  StrictJsonBuilder builder(max_depth, what);
  bool parsed = false;
  try {
    // The SAX parser keeps its own state in a bit vector, not on the stack;
    // it reports bad text through builder.parse_error, which throws.
    parsed = json::sax_parse(first, last, &builder, json::input_format_t::json, /*strict=*/true,
                             /*ignore_comments=*/false);
  } catch (const json::exception& e) {
    format_error(what + " is not valid JSON: " + e.what());
  }
  if (!parsed) format_error(what + " is not valid JSON");
  return builder.take();
}

namespace {

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

namespace {

// The framing of a file of `size` bytes whose first 8 (if it has them) are at
// `length_bytes`: its header length, checked against the bound and the size
// before anything is allocated or read for the header.
uint64_t header_length(const uint8_t* length_bytes, uint64_t size) {
  if (size < 8)
    format_error("file of " + std::to_string(size) +
                 " bytes is too short for the 8-byte header length");
  const uint64_t header_len = load_u64_le(length_bytes);
  if (header_len > kMaxHeaderBytes)
    format_error("header length " + std::to_string(header_len) + " exceeds the limit of " +
                 std::to_string(kMaxHeaderBytes) + " bytes");
  if (header_len > size - 8)
    format_error("header length " + std::to_string(header_len) + " runs past the end of the file (" +
                 std::to_string(size - 8) + " bytes after the length)");
  return header_len;
}

// The header is read in pieces of this size, each checked for NUL before the
// next is read: a header length of 100 MB over a file of zeros (a sparse file)
// is then refused after one piece, not after allocating and reading 100 MB.
constexpr size_t kHeaderPiece = size_t(1) << 20;

}  // namespace

File File::from_header(const uint8_t* header, size_t header_len, uint64_t data_size) {
  const json root = parse_untrusted_json(header, header + header_len, kMaxJsonDepth, "header");
  if (!root.is_object()) format_error("header is " + kind_of(root) + ", expected a JSON object");

  File file;
  // json objects iterate in key order, so tensors_ ends up sorted by name (find relies on it).
  for (const auto& [name, entry] : root.items()) {
    if (name == "__metadata__")
      parse_metadata(entry, file.metadata_);
    else
      file.tensors_.push_back(parse_tensor(name, entry, data_size));
  }
  check_no_overlap(file.tensors_);
  for (const TensorInfo& t : file.tensors_) file.data_end_ = std::max(file.data_end_, t.end);
  return file;
}

File File::from_bytes(const uint8_t* data, size_t size) {
  const uint64_t header_len = header_length(data, size);
  File file = from_header(data + 8, size_t(header_len), size - 8 - header_len);
  // Only the declared data is copied, not the header or any bytes after the data.
  const uint8_t* data_begin = data + 8 + header_len;
  file.bytes_.assign(data_begin, data_begin + file.data_end_);
  return file;
}

File File::from_bytes(std::vector<uint8_t> bytes) {
  const uint64_t header_len = header_length(bytes.data(), bytes.size());
  File file = from_header(bytes.data() + 8, size_t(header_len), bytes.size() - 8 - header_len);
  file.data_start_ = size_t(8 + header_len);
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
  // The size of the file now open (it may have been replaced since the stat).
  if (::fstat(::fileno(f.get()), &info) != 0) io_error(path, "read", errno);
  const uint64_t size = uint64_t(info.st_size);
  const auto read_exactly = [&](uint8_t* into, size_t n) {
    if (n != 0 && std::fread(into, 1, n, f.get()) != n) {
      if (std::ferror(f.get())) io_error(path, "read", errno);
      fail(SEQATTN_ERROR_IO, "cannot read " + quoted(path) + ": it shrank while being read");
    }
  };
  try {
    uint8_t length_bytes[8] = {};
    read_exactly(length_bytes, size < 8 ? 0 : 8);
    const uint64_t header_len = header_length(length_bytes, size);

    std::vector<uint8_t> header;
    while (header.size() < header_len) {
      const size_t done = header.size();
      const size_t piece = size_t(std::min<uint64_t>(kHeaderPiece, header_len - done));
      header.resize(done + piece);
      read_exactly(header.data() + done, piece);
      if (const void* nul = std::memchr(header.data() + done, 0, piece))
        format_error("header: NUL byte at offset " +
                     std::to_string(static_cast<const uint8_t*>(nul) - header.data()));
    }
    File file = from_header(header.data(), header.size(), size - 8 - header_len);
    header = {};  // give its memory back before the data's is taken

    // What the header declares may still be more than this machine holds.
    const auto too_large = [&] {
      fail(SEQATTN_ERROR_OUT_OF_MEMORY, "cannot hold the " + std::to_string(file.data_end_) +
                                            " bytes of tensor data of " + quoted(path) +
                                            " in memory");
    };
    try {
      file.bytes_.resize(size_t(file.data_end_));
    } catch (const std::bad_alloc&) {
      too_large();
    } catch (const std::length_error&) {
      too_large();
    }
    read_exactly(file.bytes_.data(), file.bytes_.size());
    return file;
  } catch (const Error& e) {
    if (e.status() != SEQATTN_ERROR_FORMAT) throw;
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
