// A safetensors reader written against the format: an 8-byte little-endian
// header length N, N bytes of JSON header, then the data. Everything is
// validated when the file is opened (docs/model-format.md, "Validation"), so
// a File that exists is consistent: offsets inside the data, not overlapping,
// each tensor's byte length equal to elements × dtype size.
// Opening costs time linear in the header and memory for the header and the
// data it declares, never for the rest of the file: the header length is
// checked against the file's size before the header is read, and only the
// bytes up to the largest data_offsets end are read after it.
// Failures throw seqattn::Error with SEQATTN_ERROR_FORMAT (a message naming
// the tensor or field), SEQATTN_ERROR_IO (the path and the OS error) or
// SEQATTN_ERROR_OUT_OF_MEMORY (the declared data cannot be held).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace seqattn::st {

enum class DType { kBool, kU8, kI8, kI16, kU16, kF16, kBF16, kI32, kU32, kF32, kF64, kI64, kU64 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "F32", ...

struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data section
  int64_t elements() const;
};

// Header-size bound: a larger header length is refused before anything is allocated.
inline constexpr uint64_t kMaxHeaderBytes = 100u * 1024u * 1024u;

class File {
 public:
  static File open(const std::string& path);
  static File from_bytes(std::vector<uint8_t> bytes);   // the fuzzer, embedded models
  static File from_bytes(const uint8_t* data, size_t size);

  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(const std::string& name) const;  // nullptr if absent

  // The tensor's data as float32, after checking that it exists, is F32 and has
  // exactly `expected_shape`; the message names the tensor and both shapes.
  std::vector<float> read_f32(const std::string& name,
                              const std::vector<int64_t>& expected_shape) const;
  // Raw bytes of a tensor (no copy; valid while the File lives).
  const uint8_t* data(const TensorInfo& tensor) const;

 private:
  // Parses and validates the header text against a data section of
  // `data_size` bytes; the File it returns holds no bytes yet.
  static File from_header(const uint8_t* header, size_t header_len, uint64_t data_size);

  std::vector<uint8_t> bytes_;  // holds the data section from data_start_ on
  size_t data_start_ = 0;
  uint64_t data_end_ = 0;  // the largest data_offsets end: what is read of the data
  std::map<std::string, std::string> metadata_;
  std::vector<TensorInfo> tensors_;
};

// Parses JSON text from an untrusted source in time linear in its length
// (nlohmann's callback parser rescans an object's members at the end of each
// member object, quadratic in the members). Refuses, with SEQATTN_ERROR_FORMAT
// and a message that starts with `what`: text that is not one JSON value, a raw
// NUL byte, more than `max_depth` nested arrays and objects, and a key repeated
// in one object (nlohmann would keep the last silently, another reader the
// first, so one file could mean two things).
nlohmann::json parse_untrusted_json(const uint8_t* first, const uint8_t* last, int max_depth,
                                    const std::string& what);

// Writes a safetensors file (tests, tools): F32 tensors only, metadata as given.
struct F32Tensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};
void write_f32(const std::string& path, const std::map<std::string, std::string>& metadata,
               const std::vector<F32Tensor>& tensors);
std::vector<uint8_t> serialize_f32(const std::map<std::string, std::string>& metadata,
                                   const std::vector<F32Tensor>& tensors);

}  // namespace seqattn::st
