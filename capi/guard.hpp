// The one place exceptions stop: every extern "C" function (capi/) runs its
// body through guard(), which turns seqattn::Error, std::bad_alloc and anything
// else into a status and stores the message for seqattn_last_error(). This is
// the C layer's job, so it lives here and not in src/: the code below throws
// and never knows about statuses-plus-messages.
#pragma once

#include <new>
#include <string>

#include "core/error.hpp"

namespace seqattn {

// The thread-local text of seqattn_last_error(); defined in capi/seqattn.cpp.
void set_last_error(const char* message) noexcept;

template <class F>
seqattn_status guard(F&& body) noexcept {
  try {
    body();
    return SEQATTN_OK;
  } catch (const Error& e) {
    set_last_error(e.what());
    return e.status();
  } catch (const std::bad_alloc&) {
    set_last_error("out of host memory");
    return SEQATTN_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    set_last_error(e.what());
    return SEQATTN_ERROR_INTERNAL;
  } catch (...) {
    set_last_error("unknown internal error");
    return SEQATTN_ERROR_INTERNAL;
  }
}

}  // namespace seqattn
