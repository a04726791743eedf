#include "guard.h"

#include <new>

#include "handles.h"

namespace inf::abi {

inf_status status_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_argument: return INF_STATUS_INVALID_ARGUMENT;
    case ErrorKind::invalid_data: return INF_STATUS_INVALID_DATA;
    case ErrorKind::io: return INF_STATUS_IO;
    case ErrorKind::unsupported: return INF_STATUS_UNSUPPORTED;
    case ErrorKind::out_of_memory: return INF_STATUS_OUT_OF_MEMORY;
    case ErrorKind::internal: return INF_STATUS_INTERNAL;
  }
  return INF_STATUS_INTERNAL;
}

const char* status_name(inf_status status) {
  switch (status) {
    case INF_STATUS_OK: return "INF_STATUS_OK";
    case INF_STATUS_INVALID_ARGUMENT: return "INF_STATUS_INVALID_ARGUMENT";
    case INF_STATUS_INVALID_HANDLE: return "INF_STATUS_INVALID_HANDLE";
    case INF_STATUS_NOT_FOUND: return "INF_STATUS_NOT_FOUND";
    case INF_STATUS_TYPE_MISMATCH: return "INF_STATUS_TYPE_MISMATCH";
    case INF_STATUS_ALREADY_EXISTS: return "INF_STATUS_ALREADY_EXISTS";
    case INF_STATUS_UNSUPPORTED: return "INF_STATUS_UNSUPPORTED";
    case INF_STATUS_INVALID_DATA: return "INF_STATUS_INVALID_DATA";
    case INF_STATUS_IO: return "INF_STATUS_IO";
    case INF_STATUS_OUT_OF_MEMORY: return "INF_STATUS_OUT_OF_MEMORY";
    case INF_STATUS_CANCELLED: return "INF_STATUS_CANCELLED";
    case INF_STATUS_TIMEOUT: return "INF_STATUS_TIMEOUT";
    case INF_STATUS_NOT_READY: return "INF_STATUS_NOT_READY";
    case INF_STATUS_WOULD_DEADLOCK: return "INF_STATUS_WOULD_DEADLOCK";
    case INF_STATUS_INTERNAL: return "INF_STATUS_INTERNAL";
    case INF_STATUS_FORCE32: break;
  }
  return "INF_STATUS_UNKNOWN";
}

void record_failure(uintptr_t handle, const std::string& message) noexcept {
  try {
    store_error_message(handle, message);
  } catch (...) {
    // Out of memory while storing the message: the status still reaches the caller.
  }
}

inf_status report_current_exception(uintptr_t handle) noexcept {
  inf_status status = INF_STATUS_INTERNAL;
  const char* message = "unknown exception";
  try {
    throw;
  } catch (const ApiError& error) {
    status = error.status();
    record_failure(handle, error.what());
    return status;
  } catch (const Error& error) {
    status = status_for(error.kind());
    record_failure(handle, error.what());
    return status;
  } catch (const std::bad_alloc&) {
    status = INF_STATUS_OUT_OF_MEMORY;
    message = "out of memory";
  } catch (const std::exception& error) {
    record_failure(handle, std::string("internal error: ") + error.what());
    return INF_STATUS_INTERNAL;
  } catch (...) {
  }
  record_failure(handle, message);
  return status;
}

}  // namespace inf::abi
