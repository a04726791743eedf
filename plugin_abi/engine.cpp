#include "engine.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "api_functions.h"
#include "common/log.h"
#include "guard.h"
#include "nodes/builtin_nodes.h"

// The embedded default model's directory, set by plugin_abi/CMakeLists.txt (the cache variable
// INFINODE_DEFAULT_MODEL_DIR, which packagers point at the installed copy); "" = none.
#ifndef INF_DEFAULT_MODEL_DIR
#define INF_DEFAULT_MODEL_DIR ""
#endif

namespace inf::abi {
namespace {

constexpr size_t kMaxPathBytes = 4096;
constexpr size_t kMaxManifestBytes = size_t{1} << 20;

thread_local EngineState* routed_engine = nullptr;

const char* level_name(inf_log_level level) {
  switch (level) {
    case INF_LOG_DEBUG: return "debug";
    case INF_LOG_INFO: return "info";
    case INF_LOG_WARNING: return "warning";
    case INF_LOG_ERROR: return "error";
    case INF_LOG_FORCE32: break;
  }
  return "log";
}

inf_log_level abi_level(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return INF_LOG_DEBUG;
    case LogLevel::info: return INF_LOG_INFO;
    case LogLevel::warn: return INF_LOG_WARNING;
    case LogLevel::error: return INF_LOG_ERROR;
  }
  return INF_LOG_ERROR;
}

void write_stderr(inf_log_level level, const char* message) {
  if (level >= INF_LOG_WARNING) std::fprintf(stderr, "infinode %s: %s\n", level_name(level), message);
}

// The core's logger is process-wide (inside this library's copy of the core); route its
// messages to the engine whose work runs on the logging thread. Every level is let through to
// the router, which filters per engine.
void install_core_log_router() {
  static std::once_flag once;
  std::call_once(once, [] {
    set_log_sink([](LogLevel level, const std::string& message) {
      if (routed_engine != nullptr) {
        routed_engine->log().emit(abi_level(level), message.c_str());
      } else {
        write_stderr(abi_level(level), message.c_str());
      }
    });
    set_log_level(LogLevel::debug);
  });
}

bool is_level(inf_log_level level) { return level >= INF_LOG_DEBUG && level <= INF_LOG_ERROR; }

// "cpu", "cuda" or "cuda:N" (N decimal, < 1024), normalised ("" and NULL are "cpu", "cuda" is
// "cuda:0"). Whether the device exists is found out when a node opens it.
std::string device_name(const char* requested) {
  const std::string name = requested == nullptr ? "" : std::string(requested, strnlen(requested, 64));
  if (name.empty() || name == "cpu") return "cpu";
  if (name == "cuda") return "cuda:0";
  if (name.rfind("cuda:", 0) == 0 && name.size() > 5 && name.size() <= 9) {
    bool digits = true;
    for (size_t k = 5; k < name.size(); ++k) digits = digits && name[k] >= '0' && name[k] <= '9';
    if (digits && std::stoi(name.substr(5)) < 1024) return name;
  }
  api_fail(INF_STATUS_INVALID_ARGUMENT, "config->device '", name, "' is not \"cpu\", \"cuda\" or \"cuda:N\"");
}

// A model directory given as a C string: paths are bytes on POSIX, so no UTF-8 check, only a
// bound on the length.
std::string model_path(const char* path, const char* what) {
  const size_t length = strnlen(path, kMaxPathBytes + 1);
  if (length > kMaxPathBytes) api_fail(INF_STATUS_INVALID_ARGUMENT, what, " is longer than ", kMaxPathBytes, " bytes");
  return std::string(path, length);
}

struct DefaultModel {
  std::string dir;  // "" = none
  std::string why;  // for the engine's log
};

// The model of an engine created with neither a model directory nor a manifest:
// INFINODE_MODEL_DIR when it is set (set but empty: none; a bad directory is reported by the
// first node that needs it, as for config->model_dir), else the compiled-in default when it
// holds model.json (a build without the trained model must not pick up a half-filled
// directory), else none. Read at each engine_create, so a host may change it in between.
DefaultModel default_model() {
  if (const char* variable = std::getenv("INFINODE_MODEL_DIR"); variable != nullptr) {
    if (variable[0] == '\0') return {"", "no default model: INFINODE_MODEL_DIR is set but empty"};
    std::string dir = model_path(variable, "INFINODE_MODEL_DIR");
    return {dir, "default model: " + dir + " (from INFINODE_MODEL_DIR)"};
  }
  const std::string builtin = INF_DEFAULT_MODEL_DIR;
  if (builtin.empty()) return {"", "no default model: this build has none and INFINODE_MODEL_DIR is not set"};
  std::error_code error;
  const std::filesystem::path manifest = std::filesystem::path(builtin) / "model.json";
  if (!std::filesystem::is_regular_file(manifest, error))
    return {"", "no default model: " + manifest.string() + " does not exist and INFINODE_MODEL_DIR is not set"};
  return {builtin, "default model: " + builtin + " (built in)"};
}

}  // namespace

void LogTarget::set(inf_log_fn callback, void* user_data, inf_log_level min_level) {
  std::lock_guard<std::mutex> lock(mutex_);
  callback_ = callback;
  user_data_ = user_data;
  min_level_ = min_level;
}

void LogTarget::emit(inf_log_level level, const char* message) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (callback_ == nullptr) {
    write_stderr(level, message);
  } else if (level >= min_level_) {
    callback_(user_data_, level, message);
  }
}

void EngineState::add_provider(std::shared_ptr<const Provider> provider) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& existing : providers_)
    if (existing->desc().id() == provider->desc().id())
      api_fail(INF_STATUS_ALREADY_EXISTS, "node ", provider->desc().id(), " is registered already");
  providers_.push_back(std::move(provider));
}

std::shared_ptr<const Provider> EngineState::find_provider(std::string_view node_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& provider : providers_)
    if (provider->desc().id() == node_id) return provider;
  return nullptr;
}

size_t EngineState::provider_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return providers_.size();
}

std::shared_ptr<const Provider> EngineState::provider_at(size_t index) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return index < providers_.size() ? providers_[index] : nullptr;
}

std::shared_ptr<EngineState> resolve_engine(const inf_engine* engine, const char* what) {
  return resolve<EngineState>(engine, HandleKind::engine, what);
}

ScopedLogRoute::ScopedLogRoute(EngineState* engine) : previous_(routed_engine) { routed_engine = engine; }
ScopedLogRoute::~ScopedLogRoute() { routed_engine = previous_; }

inf_status engine_create(const inf_engine_config* config, inf_engine** out_engine) noexcept {
  return guarded(nullptr, [&] {
    require_out(out_engine, "out_engine");
    *out_engine = nullptr;
    inf_engine_config settings = INF_ENGINE_CONFIG_INIT;
    if (config != nullptr) settings = read_struct(config, "config");
    if ((settings.flags & ~INF_ENGINE_FLAG_NO_BUILTIN_NODES) != 0)
      api_fail(INF_STATUS_UNSUPPORTED, "config->flags has unknown bits 0x", std::hex,
               settings.flags & ~INF_ENGINE_FLAG_NO_BUILTIN_NODES);
    if (!is_level(settings.log_level))
      api_fail(INF_STATUS_INVALID_ARGUMENT, "config->log_level ", static_cast<int64_t>(settings.log_level),
               " is not an inf_log_level");
    std::string model_dir;
    if (settings.model_dir != nullptr) model_dir = model_path(settings.model_dir, "config->model_dir");
    const std::string device = device_name(settings.device);
    std::string manifest;
    if (settings.model_manifest != nullptr) {
      const size_t length = strnlen(settings.model_manifest, kMaxManifestBytes + 1);
      if (length > kMaxManifestBytes)
        api_fail(INF_STATUS_INVALID_ARGUMENT, "config->model_manifest is longer than ", kMaxManifestBytes, " bytes");
      manifest.assign(settings.model_manifest, length);
      const size_t bad = invalid_utf8_offset(manifest);
      if (bad != std::string::npos)
        api_fail(INF_STATUS_INVALID_ARGUMENT, "config->model_manifest is not valid UTF-8 (byte ", bad, ")");
    }
    // NULL model_dir and NULL model_manifest: the default model. "" (or any manifest, even
    // "") is the host's own choice and gets none, so hosts and tests can ask for "no model".
    std::string default_choice;
    if (settings.model_dir == nullptr && settings.model_manifest == nullptr) {
      DefaultModel chosen = default_model();
      model_dir = std::move(chosen.dir);
      default_choice = std::move(chosen.why);
    }
    install_core_log_router();
    auto engine = std::make_shared<EngineState>(std::move(model_dir), device, std::move(manifest));
    engine->log().set(settings.log_callback, settings.log_user_data, settings.log_level);
    if (!default_choice.empty()) engine->log().emit(INF_LOG_INFO, default_choice.c_str());
    const uintptr_t id = mint_handle(HandleKind::engine, engine);
    if ((settings.flags & INF_ENGINE_FLAG_NO_BUILTIN_NODES) == 0) {
      const inf_status status = nodes::register_builtin_nodes(api_table(), as_handle<inf_engine>(id));
      if (status != INF_STATUS_OK) {
        const std::string reason = handle_error_message(id);
        release_handle(id, HandleKind::engine, "engine");
        api_fail(status, "registering the built-in nodes failed: ", reason);
      }
    }
    *out_engine = as_handle<inf_engine>(id);
    return INF_STATUS_OK;
  });
}

inf_status engine_retain(inf_engine* engine) noexcept {
  return guarded(engine, [&] {
    retain_handle(handle_id(engine), HandleKind::engine, "engine");
    return INF_STATUS_OK;
  });
}

inf_status engine_release(inf_engine* engine) noexcept {
  return guarded(engine, [&] {
    release_handle(handle_id(engine), HandleKind::engine, "engine");
    return INF_STATUS_OK;
  });
}

const char* engine_last_error(inf_engine* engine) noexcept {
  try {
    return handle_error_message(handle_id(engine));
  } catch (...) {
    return "";
  }
}

inf_status engine_set_log_callback(inf_engine* engine, inf_log_fn callback, void* user_data,
                                   inf_log_level min_level) noexcept {
  return guarded(engine, [&] {
    const auto state = resolve_engine(engine);
    if (!is_level(min_level))
      api_fail(INF_STATUS_INVALID_ARGUMENT, "min_level ", static_cast<int64_t>(min_level), " is not an inf_log_level");
    state->log().set(callback, user_data, min_level);
    return INF_STATUS_OK;
  });
}

inf_status engine_model_dir(inf_engine* engine, const char** out_path) noexcept {
  return guarded(engine, [&] {
    const auto state = resolve_engine(engine);
    require_out(out_path, "out_path");
    *out_path = state->model_dir().c_str();
    return INF_STATUS_OK;
  });
}

inf_status engine_device(inf_engine* engine, const char** out_device) noexcept {
  return guarded(engine, [&] {
    const auto state = resolve_engine(engine);
    require_out(out_device, "out_device");
    *out_device = state->device().c_str();
    return INF_STATUS_OK;
  });
}

inf_status engine_model_manifest(inf_engine* engine, const char** out_json) noexcept {
  return guarded(engine, [&] {
    const auto state = resolve_engine(engine);
    require_out(out_json, "out_json");
    *out_json = state->model_manifest().c_str();
    return INF_STATUS_OK;
  });
}

inf_status engine_register_provider(inf_engine* engine, const inf_node_provider* provider) noexcept {
  return guarded(engine, [&] {
    const auto state = resolve_engine(engine);
    const inf_node_provider vtable = read_struct(provider, "provider");
    const auto registered = make_provider(vtable);
    try {
      state->add_provider(registered);
    } catch (...) {
      registered->disown();
      throw;
    }
    return INF_STATUS_OK;
  });
}

inf_status engine_node_count(inf_engine* engine, uint32_t* out_count) noexcept {
  return guarded(engine, [&] {
    const auto state = resolve_engine(engine);
    require_out(out_count, "out_count");
    *out_count = static_cast<uint32_t>(state->provider_count());
    return INF_STATUS_OK;
  });
}

inf_status engine_node_desc(inf_engine* engine, uint32_t index, const inf_node_desc** out_desc) noexcept {
  return guarded(engine, [&] {
    const auto state = resolve_engine(engine);
    require_out(out_desc, "out_desc");
    *out_desc = nullptr;
    const auto provider = state->provider_at(index);
    if (provider == nullptr)
      api_fail(INF_STATUS_NOT_FOUND, "node index ", index, " is past the ", state->provider_count(), " node types");
    // The engine keeps every provider until it dies, so the descriptor outlives this call.
    *out_desc = &provider->desc().desc();
    return INF_STATUS_OK;
  });
}

inf_status engine_find_node(inf_engine* engine, const char* node_id, const inf_node_desc** out_desc) noexcept {
  return guarded(engine, [&] {
    const auto state = resolve_engine(engine);
    const std::string id = required_string(node_id, "node_id");
    require_out(out_desc, "out_desc");
    *out_desc = nullptr;
    const auto provider = state->find_provider(id);
    if (provider == nullptr) api_fail(INF_STATUS_NOT_FOUND, "no node type '", id, "' is registered");
    *out_desc = &provider->desc().desc();
    return INF_STATUS_OK;
  });
}

}  // namespace inf::abi
