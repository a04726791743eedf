#include "handles.h"

#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "guard.h"

namespace inf::abi {
namespace {

struct Entry {
  HandleKind kind;
  std::shared_ptr<HandleObject> object;
  uint64_t references = 1;
  // Each thread's last failure on this handle. Node-based map: a thread's string never moves
  // when another thread adds its own, so the pointer last_error returned stays valid.
  std::unordered_map<std::thread::id, std::string> errors;
};

class Registry {
 public:
  uintptr_t mint(HandleKind kind, std::shared_ptr<HandleObject> object) {
    std::lock_guard<std::mutex> lock(mutex_);
    // Ids look like aligned, non-NULL pointers and are never reused (2^60 handles on 64-bit).
    next_id_ += kIdStep;
    entries_.emplace(next_id_, Entry{kind, std::move(object), 1, {}});
    return next_id_;
  }

  std::shared_ptr<HandleObject> resolve(uintptr_t handle, HandleKind kind, const char* what) {
    std::lock_guard<std::mutex> lock(mutex_);
    return find(handle, kind, what).object;
  }

  void retain(uintptr_t handle, HandleKind kind, const char* what) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++find(handle, kind, what).references;
  }

  void release(uintptr_t handle, HandleKind kind, const char* what) {
    std::shared_ptr<HandleObject> last_reference;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      Entry& entry = find(handle, kind, what);
      if (--entry.references > 0) return;
      last_reference = std::move(entry.object);
      entries_.erase(handle);
    }
    // The object may be destroyed here, with the lock released: destructors release other
    // handles and call provider code.
  }

  void store_error(uintptr_t handle, const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = entries_.find(handle);
    if (found != entries_.end()) found->second.errors[std::this_thread::get_id()] = message;
  }

  const char* error(uintptr_t handle) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = entries_.find(handle);
    if (found == entries_.end()) return nullptr;
    const auto message = found->second.errors.find(std::this_thread::get_id());
    return message == found->second.errors.end() ? "" : message->second.c_str();
  }

  size_t count(HandleKind kind) {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t total = 0;
    for (const auto& [id, entry] : entries_) total += entry.kind == kind ? 1 : 0;
    return total;
  }

 private:
  static constexpr uintptr_t kIdStep = 16;

  Entry& find(uintptr_t handle, HandleKind kind, const char* what) {
    if (handle == 0) api_fail(INF_STATUS_INVALID_ARGUMENT, what, " is NULL");
    const auto found = entries_.find(handle);
    if (found == entries_.end())
      api_fail(INF_STATUS_INVALID_HANDLE, what, " is not a live ", handle_kind_name(kind),
               " handle (released already, or never created)");
    if (found->second.kind != kind)
      api_fail(INF_STATUS_INVALID_HANDLE, what, " is a ", handle_kind_name(found->second.kind), " handle, not a ",
               handle_kind_name(kind), " handle");
    return found->second;
  }

  std::mutex mutex_;
  uintptr_t next_id_ = 0x10000;
  std::unordered_map<uintptr_t, Entry> entries_;
};

Registry& registry() {
  // Never destroyed: worker threads and hosts' atexit handlers may release handles while
  // static destructors run, and a registry that is gone would turn that into a crash.
  static Registry* instance = new Registry();
  return *instance;
}

thread_local std::string thread_message;

}  // namespace

const char* handle_kind_name(HandleKind kind) {
  switch (kind) {
    case HandleKind::engine: return "engine";
    case HandleKind::node: return "node";
    case HandleKind::value: return "value";
    case HandleKind::job: return "job";
    case HandleKind::run_context: return "run context";
  }
  return "unknown";
}

uintptr_t mint_handle(HandleKind kind, std::shared_ptr<HandleObject> object) {
  return registry().mint(kind, std::move(object));
}

std::shared_ptr<HandleObject> resolve_handle(uintptr_t handle, HandleKind kind, const char* what) {
  return registry().resolve(handle, kind, what);
}

void retain_handle(uintptr_t handle, HandleKind kind, const char* what) { registry().retain(handle, kind, what); }

void release_handle(uintptr_t handle, HandleKind kind, const char* what) { registry().release(handle, kind, what); }

void store_error_message(uintptr_t handle, const std::string& message) {
  thread_message = message;
  if (handle != 0) registry().store_error(handle, message);
}

const char* handle_error_message(uintptr_t handle) {
  const char* message = handle == 0 ? nullptr : registry().error(handle);
  return message != nullptr ? message : thread_message.c_str();
}

const char* thread_error_message() { return thread_message.c_str(); }

size_t live_handle_count(HandleKind kind) { return registry().count(kind); }

}  // namespace inf::abi
