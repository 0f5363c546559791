// How the launchers of this folder report failure: they throw LaunchError, a
// status (the public seqattn_status) and a message naming what failed, e.g.
// "fused attention kernel launch: cudaErrorInvalidConfiguration: invalid
// configuration argument". The kernels depend on nothing outside kernels/ and
// the public header, so the host side (src/cuda/cuda_backend.cpp) rethrows it
// as the library's seqattn::Error, status and message unchanged.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "seqattn/seqattn.h"

namespace seqattn::cuda {

class LaunchError : public std::runtime_error {
 public:
  LaunchError(seqattn_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  seqattn_status status() const noexcept { return status_; }

 private:
  seqattn_status status_;
};

[[noreturn]] inline void launch_fail(seqattn_status status, const std::string& message) {
  throw LaunchError(status, message);
}

// OUT_OF_MEMORY when an allocation failed, DEVICE otherwise, as src/cuda/check.hpp.
inline void launch_check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  // Clear a non-sticky error so that the next call on this thread starts clean;
  // a sticky one (a kernel fault) will fail every later call, as DEVICE.
  (void)cudaGetLastError();
  launch_fail(e == cudaErrorMemoryAllocation ? SEQATTN_ERROR_OUT_OF_MEMORY : SEQATTN_ERROR_DEVICE,
              std::string(what) + ": " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
}

// After a launch: a bad configuration surfaces here, named, rather than at
// some later synchronisation.
inline void check_launch(const char* kernel) { launch_check(cudaGetLastError(), kernel); }

}  // namespace seqattn::cuda
