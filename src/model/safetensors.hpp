// A safetensors reader written against the format: an 8-byte little-endian
// header length N, N bytes of JSON header, then the data. Everything is
// validated when the file is opened (docs/model-format.md, "Validation"), so
// a File that exists is consistent: offsets inside the data, not overlapping,
// each tensor's byte length equal to elements × dtype size.
// Failures throw seqattn::Error with SEQATTN_ERROR_FORMAT (a message naming
// the tensor or field) or SEQATTN_ERROR_IO (the path and the OS error).
#pragma once

#include <cstdint>
#include <map>
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
  std::vector<uint8_t> bytes_;
  size_t data_start_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<TensorInfo> tensors_;
};

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
