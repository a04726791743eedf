// Opaque handles: what the host holds is an id, never a pointer to our objects. Ids come from a
// counter and are never reused, so a released handle stays dead forever and every call can tell
// a live handle from a stale, forged or wrong-kind one instead of dereferencing garbage.
//
// A handle counts the host's references (retain/release). The object behind it is held by
// shared_ptr, so work in flight (a job using its node and inputs) keeps it alive after the
// host's last release; several handles may name one object (a job's private input handles).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "infinode.h"

namespace inf::abi {

enum class HandleKind : uint8_t { engine, node, value, job, run_context };
const char* handle_kind_name(HandleKind kind);

struct HandleObject {
  virtual ~HandleObject() = default;
};

// A new handle with one reference.
uintptr_t mint_handle(HandleKind kind, std::shared_ptr<HandleObject> object);

// The object behind a live handle of `kind`. Throws ApiError: INVALID_ARGUMENT for 0 (NULL),
// INVALID_HANDLE for a dead or wrong-kind handle. `what` names the argument in the message.
std::shared_ptr<HandleObject> resolve_handle(uintptr_t handle, HandleKind kind, const char* what);
void retain_handle(uintptr_t handle, HandleKind kind, const char* what);
// Drops one reference; the last one removes the handle (and may destroy the object, outside
// the registry's lock, so destructors may call back into the registry).
void release_handle(uintptr_t handle, HandleKind kind, const char* what);

template <typename T>
std::shared_ptr<T> resolve(const void* handle, HandleKind kind, const char* what) {
  return std::static_pointer_cast<T>(resolve_handle(reinterpret_cast<uintptr_t>(handle), kind, what));
}

template <typename Handle>
Handle* as_handle(uintptr_t id) {
  return reinterpret_cast<Handle*>(id);
}

// Last-error messages: per live handle and per thread, plus one per thread for any handle.
void store_error_message(uintptr_t handle, const std::string& message);
const char* handle_error_message(uintptr_t handle);  // the thread's message, "" if none
const char* thread_error_message();

// Live handles by kind (tests and leak diagnostics).
size_t live_handle_count(HandleKind kind);

}  // namespace inf::abi
