// The exported entry point and the function table it hands out.
#include <string>

#include "api_functions.h"
#include "guard.h"
#include "handles.h"

namespace inf::abi {
namespace {

#ifndef INF_PROJECT_VERSION
#define INF_PROJECT_VERSION "unknown"
#endif
#define INF_STRINGIFY_DIGITS(x) #x
#define INF_STRINGIFY(x) INF_STRINGIFY_DIGITS(x)

inf_api make_table() {
  // Filled by name rather than by position: a function appended to inf_api can never shift
  // the others, and the ABI test checks that no entry is left NULL.
  inf_api table{};
  table.struct_size = static_cast<uint32_t>(sizeof(inf_api));
  table.abi_version = INF_ABI_VERSION;
  table.version_string = version_string;
  table.status_name = api_status_name;
  table.last_error = last_error;
  table.engine_create = engine_create;
  table.engine_retain = engine_retain;
  table.engine_release = engine_release;
  table.engine_last_error = engine_last_error;
  table.engine_set_log_callback = engine_set_log_callback;
  table.engine_model_dir = engine_model_dir;
  table.engine_register_provider = engine_register_provider;
  table.engine_node_count = engine_node_count;
  table.engine_node_desc = engine_node_desc;
  table.engine_find_node = engine_find_node;
  table.node_create = node_create;
  table.node_retain = node_retain;
  table.node_release = node_release;
  table.node_last_error = node_last_error;
  table.node_desc = node_desc;
  table.node_set_int = node_set_int;
  table.node_set_float = node_set_float;
  table.node_set_bool = node_set_bool;
  table.node_set_string = node_set_string;
  table.node_get_param = node_get_param;
  table.node_run_async = node_run_async;
  table.value_retain = value_retain;
  table.value_release = value_release;
  table.value_last_error = value_last_error;
  table.value_type = value_type;
  table.value_create_text = value_create_text;
  table.value_get_text = value_get_text;
  table.value_create_token_ids = value_create_token_ids;
  table.value_get_token_ids = value_get_token_ids;
  table.value_create_text_embedding = value_create_text_embedding;
  table.value_get_text_embedding = value_get_text_embedding;
  table.value_create_bit_tokens = value_create_bit_tokens;
  table.value_get_bit_tokens = value_get_bit_tokens;
  table.value_load_bit_tokens = value_load_bit_tokens;
  table.value_save_bit_tokens = value_save_bit_tokens;
  table.value_create_image = value_create_image;
  table.value_create_mask = value_create_mask;
  table.value_get_image_info = value_get_image_info;
  table.value_read_image = value_read_image;
  table.job_retain = job_retain;
  table.job_release = job_release;
  table.job_last_error = job_last_error;
  table.job_cancel = job_cancel;
  table.job_wait = job_wait;
  table.job_status = job_status;
  table.job_get_output = job_get_output;
  table.run_progress = run_progress;
  table.run_preview = run_preview;
  table.run_wants_preview = run_wants_preview;
  table.run_is_cancelled = run_is_cancelled;
  table.run_log = run_log;
  table.run_set_error = run_set_error;
  table.engine_device = engine_device;
  table.engine_model_manifest = engine_model_manifest;
  return table;
}

}  // namespace

const inf_api* api_table() {
  static const inf_api table = make_table();
  return &table;
}

const char* version_string() noexcept {
  return "infinode " INF_PROJECT_VERSION " (ABI " INF_STRINGIFY(INF_ABI_MAJOR) "." INF_STRINGIFY(INF_ABI_MINOR) ")";
}

const char* api_status_name(inf_status status) noexcept { return status_name(status); }

const char* last_error() noexcept { return thread_error_message(); }

}  // namespace inf::abi

extern "C" INF_EXPORT const inf_api* inf_get_api(uint32_t abi_version) {
  // A host built against 1.x runs on any library 1.y with y >= x: the table only grows.
  if (INF_VERSION_MAJOR(abi_version) != INF_ABI_MAJOR || INF_VERSION_MINOR(abi_version) > INF_ABI_MINOR)
    return nullptr;
  try {
    return inf::abi::api_table();
  } catch (...) {
    return nullptr;  // building the table cannot throw, but nothing may escape the boundary
  }
}
