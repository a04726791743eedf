// The boundary discipline every exported function follows: a body that may throw runs inside
// guarded(), which turns any exception into an inf_status and records its message on the handle
// the call was about; structs crossing the boundary are read and written through their
// struct_size, never through the caller's idea of sizeof.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "common/error.h"
#include "infinode.h"

namespace inf::abi {

// A failure with the status the host should see (inf::Error carries only an ErrorKind).
class ApiError : public std::runtime_error {
 public:
  ApiError(inf_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  inf_status status() const { return status_; }

 private:
  inf_status status_;
};

template <typename... Parts>
[[noreturn]] void api_fail(inf_status status, Parts&&... parts) {
  throw ApiError(status, detail::concat(std::forward<Parts>(parts)...));
}

inf_status status_for(ErrorKind kind);
const char* status_name(inf_status status);

// Classifies the exception being handled, records its message for `handle` (0: none) and the
// calling thread, and returns its status. Never throws.
inf_status report_current_exception(uintptr_t handle) noexcept;
// Records a message explaining a non-OK status that is reported rather than thrown.
void record_failure(uintptr_t handle, const std::string& message) noexcept;

inline uintptr_t handle_id(const void* handle) { return reinterpret_cast<uintptr_t>(handle); }

template <typename Body>
inf_status guarded(const void* handle, Body&& body) noexcept {
  try {
    return body();
  } catch (...) {
    return report_current_exception(handle_id(handle));
  }
}

template <typename T>
void require_out(T* pointer, const char* what) {
  if (pointer == nullptr) api_fail(INF_STATUS_INVALID_ARGUMENT, what, " is NULL");
}

// The smallest struct_size accepted for each struct: its size in ABI 1.0. Today that is the
// full size. When a struct grows in 1.x, specialise it to offsetof(T, first_new_field) so that
// hosts built against 1.0 keep working.
template <typename T>
constexpr size_t kMinStructSize = sizeof(T);

inline uint32_t declared_size(const void* in) {
  uint32_t size = 0;
  std::memcpy(&size, in, sizeof size);
  return size;
}

// A struct the caller passes in: at most min(struct_size, sizeof(T)) bytes are read and the
// fields past the caller's size read as zero.
template <typename T>
T read_struct(const T* in, const char* what) {
  if (in == nullptr) api_fail(INF_STATUS_INVALID_ARGUMENT, what, " is NULL");
  const uint32_t size = declared_size(in);
  if (size < kMinStructSize<T>)
    api_fail(INF_STATUS_INVALID_ARGUMENT, what, "->struct_size is ", size, ", below the ", kMinStructSize<T>,
             " bytes of ABI 1.0 (set it to sizeof, or use the INF_*_INIT macro)");
  T copy{};
  std::memcpy(static_cast<void*>(&copy), in, std::min<size_t>(size, sizeof(T)));
  copy.struct_size = static_cast<uint32_t>(sizeof(T));
  return copy;
}

// A struct the library fills: checked before any work, written only up to the caller's size,
// and the caller's struct_size is left as it was.
template <typename T>
uint32_t check_out_struct(const T* out, const char* what) {
  if (out == nullptr) api_fail(INF_STATUS_INVALID_ARGUMENT, what, " is NULL");
  const uint32_t size = declared_size(out);
  if (size < kMinStructSize<T>)
    api_fail(INF_STATUS_INVALID_ARGUMENT, what, "->struct_size is ", size, ", below the ", kMinStructSize<T>,
             " bytes of ABI 1.0");
  return size;
}

template <typename T>
void write_struct(T* out, uint32_t caller_size, const T& value) {
  const size_t bytes = std::min<size_t>(caller_size, sizeof(T));
  static_assert(offsetof(T, struct_size) == 0, "struct_size comes first");
  std::memcpy(reinterpret_cast<unsigned char*>(out) + sizeof(uint32_t),
              reinterpret_cast<const unsigned char*>(&value) + sizeof(uint32_t), bytes - sizeof(uint32_t));
}

// A C string argument that must be present; `what` names it in the message.
inline std::string required_string(const char* text, const char* what) {
  if (text == nullptr) api_fail(INF_STATUS_INVALID_ARGUMENT, what, " is NULL");
  return text;
}

}  // namespace inf::abi
