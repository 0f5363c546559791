// Errors inside the library: code below the C layer throws seqattn::Error with
// a status and a message that names the argument and the bound; capi/ turns it
// into a seqattn_status plus the thread-local text of seqattn_last_error().
#pragma once

#include <stdexcept>
#include <string>

#include "seqattn/seqattn.h"

namespace seqattn {

class Error : public std::runtime_error {
 public:
  Error(seqattn_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  seqattn_status status() const noexcept { return status_; }

 private:
  seqattn_status status_;
};

[[noreturn]] inline void fail(seqattn_status status, const std::string& message) {
  throw Error(status, message);
}
[[noreturn]] inline void invalid(const std::string& message) {
  throw Error(SEQATTN_ERROR_INVALID_ARGUMENT, message);
}

}  // namespace seqattn
