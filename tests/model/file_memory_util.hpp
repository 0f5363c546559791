// What loading a large file costs, for the model-file tests (test_safetensors,
// test_model_files): sparse files and this process's peak resident memory.
// Linux only, like the tests that use it (they skip where it fails).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace file_memory {

// `head` at the start of a file of `size` bytes; the rest is a hole (no disk,
// reads as zeros). False where the file system has no sparse files.
inline bool sparse_file(const std::string& path, const std::vector<uint8_t>& head,
                        uint64_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return false;
  bool ok = ::write(fd, head.data(), head.size()) == ssize_t(head.size()) &&
            ::ftruncate(fd, off_t(size)) == 0;
  ok = ::close(fd) == 0 && ok;
  return ok;
}

// A field of /proc/self/status in bytes ("VmRSS:", "VmHWM:"); -1 if absent.
inline int64_t status_bytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.compare(0, field.size(), field) == 0) return std::stoll(line.substr(field.size())) * 1024;
  return -1;
}

// How far this process's peak resident memory rises above what it holds now
// while `fn` runs. The kernel's peak (VmHWM) is reset first, so an earlier
// test's peak cannot hide this one's; false where it cannot be reset.
inline bool peak_memory_growth(const std::function<void()>& fn, int64_t* growth) {
  const int64_t before = status_bytes("VmRSS:");
  { std::ofstream("/proc/self/clear_refs") << "5"; }
  if (before < 0 || status_bytes("VmHWM:") > before + (int64_t(4) << 20)) return false;
  fn();
  *growth = status_bytes("VmHWM:") - before;
  return true;
}

}  // namespace file_memory
