// The functions behind inf_api's pointers, one group per source file. Each is noexcept: its
// body runs inside guarded(), so nothing thrown inside the library reaches the host.
#pragma once

#include "infinode.h"

namespace inf::abi {

const inf_api* api_table();

// library (api_table.cpp)
const char* version_string() noexcept;
const char* api_status_name(inf_status status) noexcept;
const char* last_error() noexcept;

// engines (engine.cpp)
inf_status engine_create(const inf_engine_config* config, inf_engine** out_engine) noexcept;
inf_status engine_retain(inf_engine* engine) noexcept;
inf_status engine_release(inf_engine* engine) noexcept;
const char* engine_last_error(inf_engine* engine) noexcept;
inf_status engine_set_log_callback(inf_engine* engine, inf_log_fn callback, void* user_data,
                                   inf_log_level min_level) noexcept;
inf_status engine_model_dir(inf_engine* engine, const char** out_path) noexcept;
inf_status engine_register_provider(inf_engine* engine, const inf_node_provider* provider) noexcept;
inf_status engine_node_count(inf_engine* engine, uint32_t* out_count) noexcept;
inf_status engine_node_desc(inf_engine* engine, uint32_t index, const inf_node_desc** out_desc) noexcept;
inf_status engine_find_node(inf_engine* engine, const char* node_id, const inf_node_desc** out_desc) noexcept;
inf_status engine_device(inf_engine* engine, const char** out_device) noexcept;
inf_status engine_model_manifest(inf_engine* engine, const char** out_json) noexcept;

// nodes (nodes.cpp)
inf_status node_create(inf_engine* engine, const char* node_id, inf_node** out_node) noexcept;
inf_status node_retain(inf_node* node) noexcept;
inf_status node_release(inf_node* node) noexcept;
const char* node_last_error(inf_node* node) noexcept;
inf_status node_desc(inf_node* node, const inf_node_desc** out_desc) noexcept;
inf_status node_set_int(inf_node* node, const char* param_id, int64_t value) noexcept;
inf_status node_set_float(inf_node* node, const char* param_id, double value) noexcept;
inf_status node_set_bool(inf_node* node, const char* param_id, int32_t value) noexcept;
inf_status node_set_string(inf_node* node, const char* param_id, const char* utf8) noexcept;
inf_status node_get_param(inf_node* node, const char* param_id, inf_param_value* out_value) noexcept;
inf_status node_run_async(inf_node* node, inf_value* const* inputs, uint32_t input_count,
                          const inf_job_callbacks* callbacks, inf_job** out_job) noexcept;

// values (values.cpp, images.cpp)
inf_status value_retain(inf_value* value) noexcept;
inf_status value_release(inf_value* value) noexcept;
const char* value_last_error(inf_value* value) noexcept;
inf_status value_type(inf_value* value, inf_value_type* out_type) noexcept;
inf_status value_create_text(const char* utf8, size_t length, inf_value** out_value) noexcept;
inf_status value_get_text(inf_value* value, const char** out_utf8, size_t* out_length) noexcept;
inf_status value_create_token_ids(const int32_t* ids, size_t count, inf_value** out_value) noexcept;
inf_status value_get_token_ids(inf_value* value, const int32_t** out_ids, size_t* out_count) noexcept;
inf_status value_create_text_embedding(const inf_text_embedding_desc* desc, inf_value** out_value) noexcept;
inf_status value_get_text_embedding(inf_value* value, inf_text_embedding_desc* out_desc) noexcept;
inf_status value_create_bit_tokens(const inf_bit_tokens_desc* desc, inf_value** out_value) noexcept;
inf_status value_get_bit_tokens(inf_value* value, inf_bit_tokens_desc* out_desc) noexcept;
inf_status value_load_bit_tokens(const char* path, inf_value** out_value) noexcept;
inf_status value_save_bit_tokens(inf_value* value, const char* path) noexcept;
inf_status value_create_image(const inf_image_desc* image, inf_value** out_value) noexcept;
inf_status value_create_mask(const inf_image_desc* image, inf_value** out_value) noexcept;
inf_status value_get_image_info(inf_value* value, inf_image_desc* out_desc) noexcept;
inf_status value_read_image(inf_value* value, const inf_image_desc* destination) noexcept;

// jobs (jobs.cpp)
inf_status job_retain(inf_job* job) noexcept;
inf_status job_release(inf_job* job) noexcept;
const char* job_last_error(inf_job* job) noexcept;
inf_status job_cancel(inf_job* job) noexcept;
inf_status job_wait(inf_job* job, int64_t timeout_ms, inf_status* out_result) noexcept;
inf_status job_status(inf_job* job, inf_job_state* out_state, inf_status* out_result) noexcept;
inf_status job_get_output(inf_job* job, uint32_t index, inf_value** out_value) noexcept;

// run contexts (run_context.cpp)
inf_status run_progress(inf_run_context* context, const inf_progress* progress) noexcept;
inf_status run_preview(inf_run_context* context, const inf_progress* progress, const inf_image_desc* image) noexcept;
inf_status run_wants_preview(inf_run_context* context, int32_t* out_wanted) noexcept;
inf_status run_is_cancelled(inf_run_context* context, int32_t* out_cancelled) noexcept;
inf_status run_log(inf_run_context* context, inf_log_level level, const char* message) noexcept;
inf_status run_set_error(inf_run_context* context, const char* message) noexcept;

}  // namespace inf::abi
