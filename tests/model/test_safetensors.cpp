// The safetensors reader and writer (src/model/safetensors.cpp).
//
// Malformed files are written here byte by byte (length prefix + header text +
// data), never through the writer under test, so each case is exactly the
// hostile input it names. Every refusal is checked for its status (FORMAT for
// a bad file, IO for one that cannot be read) and for a message naming the
// tensor or field at fault.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <ctime>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "model/safetensors.hpp"
#include "file_memory_util.hpp"

namespace st = seqattn::st;
namespace fs = std::filesystem;

namespace {

using namespace file_memory;

using Bytes = std::vector<uint8_t>;

void append_u64_le(Bytes& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

// A file with the given header text and data; header length = header.size().
Bytes file_bytes(const std::string& header, const Bytes& data = {}) {
  Bytes out;
  append_u64_le(out, header.size());
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// Little-endian bytes of float bit patterns given in hex.
Bytes f32_bytes(std::initializer_list<uint32_t> bits) {
  Bytes out;
  for (uint32_t b : bits)
    for (int i = 0; i < 4; ++i) out.push_back(uint8_t(b >> (8 * i)));
  return out;
}

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

float float_of(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// Runs `fn`, expecting a seqattn::Error with `status` whose message contains
// every one of `needles`.
void expect_error(const std::function<void()>& fn, seqattn_status status,
                  std::initializer_list<const char*> needles) {
  try {
    fn();
  } catch (const seqattn::Error& e) {
    EXPECT_EQ(e.status(), status) << "message: " << e.what();
    for (const char* needle : needles)
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
          << "message \"" << e.what() << "\" does not mention \"" << needle << "\"";
    return;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected seqattn::Error, got std::exception: " << e.what();
    return;
  }
  ADD_FAILURE() << "expected seqattn::Error with status " << status << ", nothing was thrown";
}

void expect_format_error(const Bytes& bytes, std::initializer_list<const char*> needles) {
  expect_error([&] { st::File::from_bytes(bytes); }, SEQATTN_ERROR_FORMAT, needles);
}

void expect_same_bits(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    if (bits_of(got[i]) != bits_of(want[i])) {
      ADD_FAILURE() << "first mismatch at index " << i << ": got " << got[i] << " (0x" << std::hex
                    << bits_of(got[i]) << "), want " << want[i] << " (0x" << bits_of(want[i])
                    << ")";
      return;
    }
}

class SafetensorsFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("seqattn_st_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string write_raw(const std::string& name, const Bytes& bytes) const {
    std::ofstream out(path(name), std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    return path(name);
  }

  fs::path dir_;
};

// ---------------------------------------------------------------- round trips

TEST_F(SafetensorsFiles, RoundTripKeepsMetadataShapesAndBits) {
  const float nan_payload = float_of(0x7fc00123u);
  const std::vector<st::F32Tensor> tensors = {
      {"b.weights", {2, 3}, {1.0f, -2.5f, 0.0f, -0.0f, 3.25e-3f, 1e30f}},
      {"a.special", {5},
       {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
        nan_payload, std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::max()}},
      {"c.cube", {2, 1, 2}, {0.1f, 0.2f, 0.3f, 0.4f}},
  };
  const std::map<std::string, std::string> meta = {
      {"format", "seqattn.seq2seq"}, {"format_version", "1"}, {"config", R"({"x": [1, 2]})"}};
  st::write_f32(path("m.safetensors"), meta, tensors);

  const st::File f = st::File::open(path("m.safetensors"));
  EXPECT_EQ(f.metadata(), meta);
  ASSERT_EQ(f.tensors().size(), 3u);
  // Sorted by name.
  EXPECT_EQ(f.tensors()[0].name, "a.special");
  EXPECT_EQ(f.tensors()[1].name, "b.weights");
  EXPECT_EQ(f.tensors()[2].name, "c.cube");
  for (const st::F32Tensor& t : tensors) {
    SCOPED_TRACE(t.name);
    const st::TensorInfo* info = f.find(t.name);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->dtype, st::DType::kF32);
    EXPECT_EQ(info->shape, t.shape);
    EXPECT_EQ(info->elements(), int64_t(t.values.size()));
    EXPECT_EQ(info->end - info->begin, 4 * t.values.size());
    expect_same_bits(f.read_f32(t.name, t.shape), t.values);
  }
  EXPECT_EQ(f.find("d"), nullptr);
  EXPECT_EQ(f.find(""), nullptr);
}

TEST(Safetensors, ZeroSizeAndScalarTensors) {
  const Bytes bytes = st::serialize_f32(
      {}, {{"empty", {0, 3}, {}}, {"scalar", {}, {42.5f}}, {"after", {1}, {-1.0f}}});
  const st::File f = st::File::from_bytes(bytes);
  EXPECT_TRUE(f.metadata().empty());

  const st::TensorInfo* empty = f.find("empty");
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->shape, (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(empty->elements(), 0);
  EXPECT_EQ(empty->begin, empty->end);
  EXPECT_TRUE(f.read_f32("empty", {0, 3}).empty());

  const st::TensorInfo* scalar = f.find("scalar");
  ASSERT_NE(scalar, nullptr);
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_EQ(scalar->elements(), 1);
  expect_same_bits(f.read_f32("scalar", {}), {42.5f});
  expect_same_bits(f.read_f32("after", {1}), {-1.0f});
}

// The writer's bytes, spelled out from the format: u64 LE header length,
// the JSON header padded with spaces to a multiple of 8, then LE floats.
TEST(Safetensors, WriterProducesTheDocumentedLayout) {
  const Bytes got = st::serialize_f32({{"k", "v"}}, {{"t", {2}, {1.0f, -2.0f}}});
  std::string header =
      R"({"__metadata__":{"k":"v"},"t":{"data_offsets":[0,8],"dtype":"F32","shape":[2]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  const Bytes want = file_bytes(header, f32_bytes({0x3f800000u, 0xc0000000u}));
  ASSERT_EQ(std::string(got.begin(), got.end()), std::string(want.begin(), want.end()));
  EXPECT_EQ((got.size() - 8 - 8) % 8, 0u) << "data should start 8-byte aligned";
}

// A header written by hand, as another writer might: other dtypes, unknown
// keys, trailing spaces, a hole in the data, tensors out of offset order.
TEST(Safetensors, ReadsAHandWrittenFile) {
  const std::string header =
      R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12],"note":{"x":[1,{}]}},)"
      R"("h":{"shape":[1,2],"dtype":"F16","data_offsets":[12,16]},)"
      R"("i":{"dtype":"I64","shape":[1],"data_offsets":[16,24]},)"
      R"("__metadata__":{"format":"x"}}   )";
  Bytes data = {0xee, 0xee, 0xee, 0xee};                 // unused bytes before "w"
  const Bytes w = f32_bytes({0x3f800000u, 0xc0490fdbu});  // 1.0, -3.14159274
  data.insert(data.end(), w.begin(), w.end());
  for (uint8_t b : {uint8_t(0x00), uint8_t(0x3c), uint8_t(0x00), uint8_t(0xc0)})
    data.push_back(b);  // F16 1.0, -2.0
  for (int i = 0; i < 8; ++i) data.push_back(uint8_t(i == 0 ? 7 : 0));
  const st::File f = st::File::from_bytes(file_bytes(header, data));

  EXPECT_EQ(f.metadata(), (std::map<std::string, std::string>{{"format", "x"}}));
  ASSERT_EQ(f.tensors().size(), 3u);
  const st::TensorInfo* h = f.find("h");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->dtype, st::DType::kF16);
  EXPECT_EQ(h->shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(h->begin, 12u);
  EXPECT_EQ(h->end, 16u);
  EXPECT_EQ(f.data(*h)[1], 0x3c);
  const st::TensorInfo* i = f.find("i");
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->dtype, st::DType::kI64);
  EXPECT_EQ(f.data(*i)[0], 7);
  expect_same_bits(f.read_f32("w", {2}), {1.0f, float_of(0xc0490fdbu)});

  // The pointer overload reads the same bytes.
  const Bytes all = file_bytes(header, data);
  EXPECT_EQ(st::File::from_bytes(all.data(), all.size()).tensors().size(), 3u);
}

TEST(Safetensors, DTypeTable) {
  struct Row {
    st::DType dtype;
    const char* name;
    size_t size;
  };
  const Row rows[] = {{st::DType::kBool, "BOOL", 1}, {st::DType::kU8, "U8", 1},
                      {st::DType::kI8, "I8", 1},     {st::DType::kI16, "I16", 2},
                      {st::DType::kU16, "U16", 2},   {st::DType::kF16, "F16", 2},
                      {st::DType::kBF16, "BF16", 2}, {st::DType::kI32, "I32", 4},
                      {st::DType::kU32, "U32", 4},   {st::DType::kF32, "F32", 4},
                      {st::DType::kF64, "F64", 8},   {st::DType::kI64, "I64", 8},
                      {st::DType::kU64, "U64", 8}};
  for (const Row& r : rows) {
    EXPECT_STREQ(st::dtype_name(r.dtype), r.name);
    EXPECT_EQ(st::dtype_size(r.dtype), r.size) << r.name;
    // And the reader maps the name back, checking the length with that size.
    const std::string header = std::string(R"({"t":{"dtype":")") + r.name +
                               R"(","shape":[3],"data_offsets":[0,)" +
                               std::to_string(3 * r.size) + "]}}";
    const st::File f = st::File::from_bytes(file_bytes(header, Bytes(3 * r.size)));
    EXPECT_EQ(f.find("t")->dtype, r.dtype) << r.name;
  }
}

// ------------------------------------------------------- the file's framing

TEST(SafetensorsMalformed, TooShort) {
  expect_format_error({}, {"0 bytes", "too short"});
  expect_format_error(Bytes(7, 0), {"7 bytes", "too short"});
}

TEST(SafetensorsMalformed, HeaderLengthHuge) {
  for (uint64_t len : {uint64_t(1) << 63, uint64_t(1) << 40, st::kMaxHeaderBytes + 1,
                       std::numeric_limits<uint64_t>::max()}) {
    SCOPED_TRACE(len);
    Bytes bytes;
    append_u64_le(bytes, len);
    bytes.resize(64, '{');
    expect_format_error(bytes, {"header length", std::to_string(len).c_str(), "limit"});
  }
}

TEST(SafetensorsMalformed, TruncatedHeader) {
  const std::string header = R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  Bytes bytes = file_bytes(header);
  bytes.resize(8 + header.size() / 2);  // the length still claims the whole header
  expect_format_error(bytes, {"header length", std::to_string(header.size()).c_str(),
                              "past the end"});
  // Exactly one byte short, and the length alone with no header at all.
  const Bytes whole = file_bytes(header);
  expect_format_error(Bytes(whole.begin(), whole.end() - 1), {"past the end"});
  Bytes only_length;
  append_u64_le(only_length, 2);
  expect_format_error(only_length, {"past the end"});
}

TEST(SafetensorsMalformed, HeaderNotJson) {
  expect_format_error(file_bytes("{not json}"), {"header is not valid JSON"});
  expect_format_error(file_bytes(""), {"header is not valid JSON"});
  expect_format_error(file_bytes("{}garbage"), {"header is not valid JSON"});
  expect_format_error(file_bytes("{\"a\":\"\xff\"}"), {"header is not valid JSON"});  // bad UTF-8
  // nlohmann stops at a NUL as if the input ended there; raw NUL is never valid JSON.
  expect_format_error(file_bytes(std::string("{}\0\"x\"", 6)), {"NUL byte at offset 2"});
}

TEST(SafetensorsMalformed, HeaderNotAnObject) {
  expect_format_error(file_bytes("[1, 2]"), {"header is an array", "expected a JSON object"});
  expect_format_error(file_bytes("\"text\""), {"header is a string"});
  expect_format_error(file_bytes("3"), {"header is an integer"});
  expect_format_error(file_bytes("null"), {"header is a null"});
}

TEST(SafetensorsMalformed, DeepNestingIsRefusedNotAStackOverflow) {
  const size_t depth = 200000;
  expect_format_error(file_bytes(std::string(depth, '[') + std::string(depth, ']')),
                      {"nested deeper"});
  // Inside an otherwise valid tensor entry, under a key the reader would ignore.
  std::string header = R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":)";
  for (size_t i = 0; i < depth; ++i) header += "{\"a\":";
  header += "1" + std::string(depth, '}') + "}}";
  expect_format_error(file_bytes(header, Bytes(4)), {"nested deeper"});
  // Unterminated: the parser must not build the nesting before failing.
  expect_format_error(file_bytes(std::string(depth, '[')), {"nested deeper"});
}

TEST(SafetensorsMalformed, DuplicateKeys) {
  expect_format_error(
      file_bytes(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                 R"("t":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})",
                 Bytes(4)),
      {"duplicate key", "'t'"});
  expect_format_error(
      file_bytes(R"({"t":{"dtype":"F32","shape":[1],"shape":[2],"data_offsets":[0,4]}})", Bytes(4)),
      {"duplicate key", "'shape'"});
}

// ------------------------------------------------------- hostile headers

// The CPU time this thread has used, in seconds: what a parse costs, unlike the
// wall time unaffected by how loaded the machine is.
double cpu_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// A header that parses in time linear in its size. nlohmann's callback parser,
// which the reader used, rescanned an object's members at the end of each
// member object: 100000 tensor entries (5.9 MB) did not parse in 5 minutes.
// Parsed in linear time they take well under a second of CPU (a few seconds
// under the sanitizers). The bound is on this thread's CPU time, so a loaded
// machine does not matter, and is still far below the quadratic time.
constexpr double kLinearBoundSeconds = 20.0;

TEST(SafetensorsHostile, ManyTensorEntriesParseInLinearTime) {
  const size_t n = 100000;
  std::string header = "{";
  for (size_t i = 0; i < n; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "t%06zu", i);
    header += std::string(i ? "," : "") + "\"" + name +
              R"(":{"dtype":"F32","shape":[0],"data_offsets":[0,0]})";
  }
  header += "}";
  const Bytes bytes = file_bytes(header);
  const double start = cpu_seconds();
  const st::File f = st::File::from_bytes(bytes);
  const double took = cpu_seconds() - start;
  EXPECT_EQ(f.tensors().size(), n);
  EXPECT_NE(f.find("t099999"), nullptr);
  EXPECT_LT(took, kLinearBoundSeconds) << n << " tensor entries (" << header.size() << " bytes)";
  std::printf("[ timing   ] %zu tensor entries, %zu header bytes: parsed in %.3f s\n", n,
              header.size(), took);
}

// Sibling objects under a key the reader ignores, and duplicate keys found
// among them (each a lookup, not a scan).
TEST(SafetensorsHostile, ManySiblingObjectsParseInLinearTime) {
  const size_t n = 200000;
  std::string siblings = "{";
  for (size_t i = 0; i < n; ++i) siblings += (i ? ",\"" : "\"") + std::to_string(i) + "\":{}";
  const std::string entry = R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":)";
  double start = cpu_seconds();
  const st::File f = st::File::from_bytes(file_bytes(entry + siblings + "}}}", Bytes(4)));
  double took = cpu_seconds() - start;
  EXPECT_NE(f.find("t"), nullptr);
  EXPECT_LT(took, kLinearBoundSeconds) << n << " sibling objects";
  std::printf("[ timing   ] %zu sibling objects: parsed in %.3f s\n", n, took);

  start = cpu_seconds();
  expect_format_error(file_bytes(entry + siblings + ",\"" + std::to_string(n / 2) + "\":{}}}}", Bytes(4)),
                      {"duplicate key", ("'" + std::to_string(n / 2) + "'").c_str()});
  took = cpu_seconds() - start;
  EXPECT_LT(took, kLinearBoundSeconds) << n << " sibling objects and a duplicate";
}

// ------------------------------------------------------------ tensor entries

// A one-tensor header {"t": {<entry>}} over `data_size` zero bytes.
Bytes one_tensor(const std::string& entry, size_t data_size) {
  return file_bytes("{\"t\":{" + entry + "}}", Bytes(data_size));
}

TEST(SafetensorsMalformed, TruncatedData) {
  expect_format_error(one_tensor(R"("dtype":"F32","shape":[4],"data_offsets":[0,16])", 8),
                      {"tensor 't'", "data_offsets [0, 16]", "past the data", "8 bytes"});
}

TEST(SafetensorsMalformed, OffsetsPastTheEnd) {
  expect_format_error(one_tensor(R"("dtype":"F32","shape":[1],"data_offsets":[16,20])", 16),
                      {"tensor 't'", "[16, 20]", "past the data"});
  // Near 2^64: end - begin must not wrap around to a plausible length.
  expect_format_error(
      one_tensor(R"("dtype":"U8","shape":[4],"data_offsets":[18446744073709551612,18446744073709551615])",
                 16),
      {"tensor 't'", "past the data"});
  expect_format_error(
      one_tensor(R"("dtype":"U8","shape":[1],"data_offsets":[0,18446744073709551616])", 16),
      {"tensor 't'", "data_offsets[1]", "non-integer"});
}

TEST(SafetensorsMalformed, ReversedOffsets) {
  expect_format_error(one_tensor(R"("dtype":"F32","shape":[1],"data_offsets":[8,4])", 16),
                      {"tensor 't'", "[8, 4]", "reversed"});
}

TEST(SafetensorsMalformed, OverlappingTensors) {
  const std::string a = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string b = R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]})";
  expect_format_error(file_bytes("{" + a + "," + b + "}", Bytes(12)),
                      {"'a' [0, 8]", "'b' [4, 12]", "overlap"});
  // Contained in a longer tensor that is not its neighbour in offset order.
  const std::string big = R"("big":{"dtype":"U8","shape":[12],"data_offsets":[0,12]})";
  const std::string mid = R"("mid":{"dtype":"U8","shape":[1],"data_offsets":[2,3]})";
  const std::string end = R"("end":{"dtype":"U8","shape":[2],"data_offsets":[9,11]})";
  expect_format_error(file_bytes("{" + big + "," + mid + "," + end + "}", Bytes(12)),
                      {"'big'", "overlap"});
  // The same range twice.
  expect_format_error(file_bytes("{" + a + "," +
                                     R"("c":{"dtype":"I32","shape":[2],"data_offsets":[0,8]})" + "}",
                                 Bytes(8)),
                      {"'a'", "'c'", "overlap"});
}

TEST(SafetensorsMalformed, ByteLengthDiffersFromShapeTimesDtypeSize) {
  expect_format_error(one_tensor(R"("dtype":"F32","shape":[3],"data_offsets":[0,8])", 8),
                      {"tensor 't'", "hold 8 bytes", "shape [3]", "F32", "needs 12"});
  expect_format_error(one_tensor(R"("dtype":"F64","shape":[2,2],"data_offsets":[0,16])", 32),
                      {"tensor 't'", "needs 32"});
  expect_format_error(one_tensor(R"("dtype":"F32","shape":[],"data_offsets":[0,0])", 8),
                      {"tensor 't'", "needs 4"});
}

TEST(SafetensorsMalformed, NegativeShapeEntry) {
  expect_format_error(one_tensor(R"("dtype":"F32","shape":[2,-3],"data_offsets":[0,0])", 0),
                      {"tensor 't'", "shape[1] = -3", "negative"});
}

TEST(SafetensorsMalformed, OverflowingShape) {
  expect_format_error(one_tensor(R"("dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,0])", 0),
                      {"tensor 't'", "[1099511627776, 1099511627776]", "2^63-1"});
  // Fits in int64 as elements, but not as bytes.
  expect_format_error(
      one_tensor(R"("dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0])", 0),
      {"tensor 't'", "overflows the byte length"});
  expect_format_error(
      one_tensor(R"("dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,0])", 0),
      {"tensor 't'", "shape[0] = 9223372036854775808", "too large"});
  // A zero entry makes the count 0, however large the others.
  const st::File f = st::File::from_bytes(
      one_tensor(R"("dtype":"F32","shape":[1099511627776,1099511627776,0],"data_offsets":[0,0])", 0));
  EXPECT_EQ(f.find("t")->elements(), 0);
  EXPECT_TRUE(f.read_f32("t", {int64_t(1) << 40, int64_t(1) << 40, 0}).empty());
}

TEST(SafetensorsMalformed, NonIntegerShape) {
  expect_format_error(one_tensor(R"("dtype":"F32","shape":[2.5],"data_offsets":[0,0])", 0),
                      {"tensor 't'", "shape[0]", "non-integer"});
  expect_format_error(one_tensor(R"("dtype":"F32","shape":[1e3],"data_offsets":[0,0])", 0),
                      {"tensor 't'", "shape[0]", "non-integer"});
  expect_format_error(one_tensor(R"("dtype":"F32","shape":[1,"2"],"data_offsets":[0,0])", 0),
                      {"tensor 't'", "shape[1] is a string"});
  expect_format_error(one_tensor(R"("dtype":"F32","shape":[true],"data_offsets":[0,0])", 0),
                      {"tensor 't'", "shape[0] is a boolean"});
  expect_format_error(one_tensor(R"("dtype":"F32","shape":[null],"data_offsets":[0,0])", 0),
                      {"tensor 't'", "shape[0] is a null"});
  expect_format_error(one_tensor(R"("dtype":"F32","shape":4,"data_offsets":[0,16])", 16),
                      {"tensor 't'", "shape is an integer", "expected an array"});
  expect_format_error(one_tensor(R"("dtype":"F32","shape":{"0":1},"data_offsets":[0,4])", 4),
                      {"tensor 't'", "shape is an object"});
}

TEST(SafetensorsMalformed, UnknownDtype) {
  expect_format_error(one_tensor(R"("dtype":"F128","shape":[1],"data_offsets":[0,16])", 16),
                      {"tensor 't'", "unknown dtype 'F128'"});
  expect_format_error(one_tensor(R"("dtype":"f32","shape":[1],"data_offsets":[0,4])", 4),
                      {"tensor 't'", "unknown dtype 'f32'"});
  expect_format_error(one_tensor(R"("dtype":32,"shape":[1],"data_offsets":[0,4])", 4),
                      {"tensor 't'", "dtype is an integer"});
}

TEST(SafetensorsMalformed, MissingFields) {
  expect_format_error(one_tensor(R"("shape":[1],"data_offsets":[0,4])", 4),
                      {"tensor 't'", "'dtype' is missing"});
  expect_format_error(one_tensor(R"("dtype":"F32","data_offsets":[0,4])", 4),
                      {"tensor 't'", "'shape' is missing"});
  expect_format_error(one_tensor(R"("dtype":"F32","shape":[1])", 4),
                      {"tensor 't'", "'data_offsets' is missing"});
}

TEST(SafetensorsMalformed, BadDataOffsets) {
  for (const char* offsets : {"[0]", "[0,4,8]", "[]", "4", "\"0,4\""}) {
    SCOPED_TRACE(offsets);
    expect_format_error(
        one_tensor(std::string(R"("dtype":"F32","shape":[1],"data_offsets":)") + offsets, 8),
        {"tensor 't'", "data_offsets must be an array [begin, end]"});
  }
  expect_format_error(one_tensor(R"("dtype":"F32","shape":[1],"data_offsets":[-4,0])", 8),
                      {"tensor 't'", "data_offsets[0] = -4", "negative"});
  expect_format_error(one_tensor(R"("dtype":"F32","shape":[1],"data_offsets":[0,4.0])", 8),
                      {"tensor 't'", "data_offsets[1]", "non-integer"});
}

TEST(SafetensorsMalformed, TensorEntryNotAnObject) {
  expect_format_error(file_bytes(R"({"t":[1,2]})"), {"tensor 't'", "is an array"});
  expect_format_error(file_bytes(R"({"t":"F32"})"), {"tensor 't'", "is a string"});
}

TEST(SafetensorsMalformed, MetadataNotStringToString) {
  expect_format_error(file_bytes(R"({"__metadata__":{"format":"x","version":1}})"),
                      {"__metadata__['version']", "is an integer", "expected a string"});
  expect_format_error(file_bytes(R"({"__metadata__":{"config":{"a":"b"}}})"),
                      {"__metadata__['config']", "is an object"});
  expect_format_error(file_bytes(R"({"__metadata__":{"x":null}})"), {"__metadata__['x']"});
  expect_format_error(file_bytes(R"({"__metadata__":["a","b"]})"),
                      {"__metadata__ is an array", "expected an object"});
}

// --------------------------------------------------------------- read_f32

TEST(Safetensors, ReadF32Refusals) {
  const std::string header =
      R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
      R"("h":{"dtype":"F16","shape":[2],"data_offsets":[24,28]}})";
  const st::File f = st::File::from_bytes(file_bytes(header, Bytes(28)));
  expect_error([&] { f.read_f32("missing.kernel", {2, 3}); }, SEQATTN_ERROR_FORMAT,
               {"tensor 'missing.kernel' is missing"});
  expect_error([&] { f.read_f32("h", {2}); }, SEQATTN_ERROR_FORMAT,
               {"tensor 'h'", "dtype F16", "expected F32"});
  expect_error([&] { f.read_f32("w", {3, 2}); }, SEQATTN_ERROR_FORMAT,
               {"tensor 'w'", "shape [2, 3]", "expected [3, 2]"});
  expect_error([&] { f.read_f32("w", {6}); }, SEQATTN_ERROR_FORMAT,
               {"tensor 'w'", "shape [2, 3]", "expected [6]"});
  expect_error([&] { f.read_f32("w", {2, 3, 1}); }, SEQATTN_ERROR_FORMAT,
               {"tensor 'w'", "expected [2, 3, 1]"});
  EXPECT_EQ(f.read_f32("w", {2, 3}).size(), 6u);
}

// ---------------------------------------------------------- files on disk

TEST_F(SafetensorsFiles, MissingFileIsAnIoError) {
  const std::string p = path("no_such_file.safetensors");
  expect_error([&] { st::File::open(p); }, SEQATTN_ERROR_IO,
               {p.c_str(), std::strerror(ENOENT)});
}

TEST_F(SafetensorsFiles, DirectoryIsAnIoError) {
  expect_error([&] { st::File::open(dir_.string()); }, SEQATTN_ERROR_IO,
               {dir_.string().c_str(), "directory"});
}

TEST_F(SafetensorsFiles, BadFileOnDiskIsAFormatErrorNamingThePath) {
  const std::string empty = write_raw("empty.safetensors", {});
  expect_error([&] { st::File::open(empty); }, SEQATTN_ERROR_FORMAT, {empty.c_str(), "too short"});
  const std::string trunc =
      write_raw("trunc.safetensors",
                one_tensor(R"("dtype":"F32","shape":[4],"data_offsets":[0,16])", 12));
  expect_error([&] { st::File::open(trunc); }, SEQATTN_ERROR_FORMAT,
               {trunc.c_str(), "tensor 't'", "past the data"});
}

// ---------------------------------------------- what opening a file costs


constexpr int64_t kSmallGrowth = int64_t(32) << 20;  // what a refused or small file may cost


// A large file is refused or opened for the cost of its header and declared
// data: the whole file used to be read before its first 8 bytes were checked
// (a 4 GB file of zeros: 4 GB of memory and seconds before the FORMAT error).
TEST_F(SafetensorsFiles, ALargeFileIsNotReadBeyondWhatItsHeaderDeclares) {
  const uint64_t four_gb = uint64_t(4) << 30;
  const std::string header = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  Bytes declared = file_bytes(header, f32_bytes({0x3f800000u, 0xc0000000u}));
  Bytes length_only;
  append_u64_le(length_only, 50u << 20);  // 50 MB of zeros: NUL at offset 0
  Bytes past_the_end;
  append_u64_le(past_the_end, 99u << 20);  // under the limit, past the end of a 90 MB file
  Bytes over_the_limit;
  append_u64_le(over_the_limit, st::kMaxHeaderBytes + 1);
  struct Case {
    const char* name;
    Bytes head;
    uint64_t size;
    std::vector<const char*> needles;  // empty: the file opens
  };
  const std::vector<Case> cases = {
      {"zeros", {}, four_gb, {"header is not valid JSON"}},
      {"zero_header", length_only, four_gb, {"header: NUL byte at offset 0"}},
      {"past_the_end", past_the_end, 90u << 20,
       {"header length 103809024 runs past the end of the file (94371832 bytes"}},
      {"over_the_limit", over_the_limit, four_gb, {"exceeds the limit"}},
      {"trailing_zeros", declared, four_gb, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string p = path(std::string(c.name) + ".safetensors");
    if (!sparse_file(p, c.head, c.size)) GTEST_SKIP() << "cannot make a sparse file in " << dir_;
    int64_t growth = 0;
    const double start = cpu_seconds();
    const bool measured = peak_memory_growth(
        [&] {
          if (c.needles.empty()) {
            const st::File f = st::File::open(p);
            expect_same_bits(f.read_f32("t", {2}), {1.0f, -2.0f});
          } else {
            try {
              st::File::open(p);
              ADD_FAILURE() << "opened";
            } catch (const seqattn::Error& e) {
              EXPECT_EQ(e.status(), SEQATTN_ERROR_FORMAT) << e.what();
              for (const char* needle : c.needles)
                EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
                    << "message \"" << e.what() << "\" does not mention \"" << needle << "\"";
              EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
            }
          }
        },
        &growth);
    const double took = cpu_seconds() - start;
    EXPECT_LT(took, 5.0) << c.size << "-byte file";
    if (measured) {
      EXPECT_LT(growth, kSmallGrowth) << "peak memory grew by " << growth << " bytes for a "
                                      << c.size << "-byte file";
      std::printf("[ memory   ] %s (%llu bytes): peak grew %lld KB, %.3f s\n", c.name,
                  static_cast<unsigned long long>(c.size), static_cast<long long>(growth >> 10),
                  took);
    }
  }
}

TEST_F(SafetensorsFiles, WriterErrors) {
  expect_error([&] { st::write_f32(path("missing_dir/x.safetensors"), {}, {}); }, SEQATTN_ERROR_IO,
               {"missing_dir", std::strerror(ENOENT)});
  expect_error([&] { st::serialize_f32({}, {{"t", {2, 2}, {1.0f}}}); },
               SEQATTN_ERROR_INVALID_ARGUMENT, {"tensor 't'", "[2, 2]"});
  expect_error([&] { st::serialize_f32({}, {{"t", {-1}, {}}}); }, SEQATTN_ERROR_INVALID_ARGUMENT,
               {"tensor 't'", "negative"});
  expect_error([&] { st::serialize_f32({}, {{"t", {1}, {1.0f}}, {"t", {1}, {2.0f}}}); },
               SEQATTN_ERROR_INVALID_ARGUMENT, {"tensor 't'", "twice"});
  expect_error([&] { st::serialize_f32({}, {{"__metadata__", {}, {1.0f}}}); },
               SEQATTN_ERROR_INVALID_ARGUMENT, {"__metadata__"});
}

}  // namespace
