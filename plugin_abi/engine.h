// An engine: the node types a host can instantiate, the model directory nodes load from, and
// the log target that receives the library's messages for work done on the engine's behalf.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "handles.h"
#include "node_registry.h"

namespace inf::abi {

// One engine's log callback. Delivery is serialised: a host callback never runs twice at once.
class LogTarget {
 public:
  void set(inf_log_fn callback, void* user_data, inf_log_level min_level);
  // Without a callback, warnings and errors go to stderr and the rest is dropped.
  void emit(inf_log_level level, const char* message);

 private:
  std::mutex mutex_;
  inf_log_fn callback_ = nullptr;
  void* user_data_ = nullptr;
  inf_log_level min_level_ = INF_LOG_INFO;
};

class EngineState : public HandleObject {
 public:
  EngineState(std::string model_dir, std::string device, std::string model_manifest)
      : model_dir_(std::move(model_dir)), device_(std::move(device)), model_manifest_(std::move(model_manifest)) {}

  const std::string& model_dir() const { return model_dir_; }
  const std::string& device() const { return device_; }
  const std::string& model_manifest() const { return model_manifest_; }
  LogTarget& log() { return log_; }

  // Throws ApiError(ALREADY_EXISTS) for a node id that is registered already.
  void add_provider(std::shared_ptr<const Provider> provider);
  std::shared_ptr<const Provider> find_provider(std::string_view node_id) const;  // nullptr if none
  size_t provider_count() const;
  std::shared_ptr<const Provider> provider_at(size_t index) const;  // nullptr past the end

 private:
  const std::string model_dir_;
  const std::string device_;          // "cpu", "cuda:N": checked for form here, opened by the nodes
  const std::string model_manifest_;  // inline JSON, "" if none; parsed by the nodes
  LogTarget log_;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<const Provider>> providers_;  // registration order, never shrinks
};

std::shared_ptr<EngineState> resolve_engine(const inf_engine* engine, const char* what = "engine");

// While alive, messages the engine core logs (inf::log_*) on this thread go to `engine`'s log
// target. The core's logger is process-wide; this is how its messages find the right host.
class ScopedLogRoute {
 public:
  explicit ScopedLogRoute(EngineState* engine);
  ~ScopedLogRoute();
  ScopedLogRoute(const ScopedLogRoute&) = delete;
  ScopedLogRoute& operator=(const ScopedLogRoute&) = delete;

 private:
  EngineState* previous_;
};

}  // namespace inf::abi
