// libFuzzer target for the safetensors reader (src/model/safetensors.cpp).
//
// Any input must either open or be refused with seqattn::Error. Once a file
// opens, every promise the reader makes is exercised, so a violation shows up
// as a sanitizer report or a trap:
//   - each tensor's bytes lie inside the buffer (every byte is read; ASan
//     knows the buffer's exact size) and number elements × dtype size;
//   - no two non-empty tensors share a byte; find() returns each listed tensor;
//   - read_f32 with an F32 tensor's own shape succeeds, and with another
//     shape is refused with seqattn::Error;
//   - an all-F32 file written back by the writer reads back identically;
//   - the same file cut short by 1..8 bytes is refused or again keeps all of
//     the above. Random mutation rarely shortens the data while leaving the
//     header intact, yet that is where "offsets past the end" lives;
//   - a __metadata__ "config" is parsed as the model's config text is (it is
//     JSON inside a JSON string), and is parsed or refused with seqattn::Error.
// Every input, up to the 1 MB that run_fuzz.sh allows, must take less than its
// -timeout: a parser slower than linear in the header shows up there.
// Build and run: tests/fuzz/run_fuzz.sh [seconds].
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "model/safetensors.hpp"

namespace st = seqattn::st;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), 4 * a.size()) == 0);
}

// Returns whether the input opened.
bool exercise(const uint8_t* data, size_t size) {
  st::File file;
  try {
    file = st::File::from_bytes(data, size);
  } catch (const seqattn::Error&) {
    return false;  // refused: the expected outcome for almost every input
  }

  bool all_f32 = true;
  std::vector<st::F32Tensor> copies;
  for (const st::TensorInfo& t : file.tensors()) {
    check(file.find(t.name) == &t);
    check(t.begin <= t.end);
    check(t.end - t.begin == uint64_t(t.elements()) * st::dtype_size(t.dtype));
    const uint8_t* bytes = file.data(t);
    volatile uint8_t sink = 0;
    for (uint64_t i = 0; i < t.end - t.begin; ++i) sink = uint8_t(sink ^ bytes[i]);

    if (t.dtype != st::DType::kF32) {
      all_f32 = false;
      continue;
    }
    std::vector<float> values = file.read_f32(t.name, t.shape);  // must not throw
    check(values.size() == size_t(t.elements()));
    std::vector<int64_t> other = t.shape;
    other.push_back(1);
    bool refused = false;
    try {
      file.read_f32(t.name, other);
    } catch (const seqattn::Error&) {
      refused = true;
    }
    check(refused);
    copies.push_back({t.name, t.shape, std::move(values)});
  }

  if (const auto config = file.metadata().find("config"); config != file.metadata().end()) {
    const auto* first = reinterpret_cast<const uint8_t*>(config->second.data());
    try {
      st::parse_untrusted_json(first, first + config->second.size(), 16, "config");
    } catch (const seqattn::Error&) {
    }
  }

  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const st::TensorInfo& t : file.tensors())
    if (t.end > t.begin) ranges.emplace_back(t.begin, t.end);
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) check(ranges[i - 1].second <= ranges[i].first);

  if (all_f32) {
    const st::File again = st::File::from_bytes(st::serialize_f32(file.metadata(), copies));
    check(again.metadata() == file.metadata());
    check(again.tensors().size() == copies.size());
    for (const st::F32Tensor& c : copies) {
      const st::TensorInfo* t = again.find(c.name);
      check(t != nullptr && t->shape == c.shape);
      check(same_bits(again.read_f32(c.name, c.shape), c.values));
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (exercise(data, size))
    for (size_t cut = 1; cut <= 8 && cut <= size; ++cut) exercise(data, size - cut);
  return 0;
}
