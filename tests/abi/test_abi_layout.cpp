// ABI 1.0 pinned: the size and every field offset of every public struct, the table's function
// order, and the numeric values of the enums, on LP64 (the platforms infinode ships for). A
// failure here means a change broke binary compatibility: append instead.
#include <gtest/gtest.h>

#include <cstddef>

#include "infinode.h"

namespace {

#define EXPECT_FIELD(type, field, offset) EXPECT_EQ(offsetof(type, field), size_t{offset}) << #type "." #field

TEST(AbiLayout, DescriptorStructs) {
  static_assert(sizeof(void*) == 8, "the pinned layout is LP64");
  EXPECT_EQ(sizeof(inf_port_desc), 40u);
  EXPECT_FIELD(inf_port_desc, struct_size, 0);
  EXPECT_FIELD(inf_port_desc, type, 4);
  EXPECT_FIELD(inf_port_desc, id, 8);
  EXPECT_FIELD(inf_port_desc, display_name, 16);
  EXPECT_FIELD(inf_port_desc, description, 24);
  EXPECT_FIELD(inf_port_desc, flags, 32);

  EXPECT_EQ(sizeof(inf_param_desc), 104u);
  EXPECT_FIELD(inf_param_desc, struct_size, 0);
  EXPECT_FIELD(inf_param_desc, type, 4);
  EXPECT_FIELD(inf_param_desc, id, 8);
  EXPECT_FIELD(inf_param_desc, display_name, 16);
  EXPECT_FIELD(inf_param_desc, description, 24);
  EXPECT_FIELD(inf_param_desc, flags, 32);
  EXPECT_FIELD(inf_param_desc, choice_count, 36);
  EXPECT_FIELD(inf_param_desc, choices, 40);
  EXPECT_FIELD(inf_param_desc, int_min, 48);
  EXPECT_FIELD(inf_param_desc, int_max, 56);
  EXPECT_FIELD(inf_param_desc, int_default, 64);
  EXPECT_FIELD(inf_param_desc, float_min, 72);
  EXPECT_FIELD(inf_param_desc, float_max, 80);
  EXPECT_FIELD(inf_param_desc, float_default, 88);
  EXPECT_FIELD(inf_param_desc, string_default, 96);

  EXPECT_EQ(sizeof(inf_node_desc), 88u);
  EXPECT_FIELD(inf_node_desc, struct_size, 0);
  EXPECT_FIELD(inf_node_desc, version_major, 4);
  EXPECT_FIELD(inf_node_desc, version_minor, 8);
  EXPECT_FIELD(inf_node_desc, flags, 12);
  EXPECT_FIELD(inf_node_desc, id, 16);
  EXPECT_FIELD(inf_node_desc, display_name, 24);
  EXPECT_FIELD(inf_node_desc, category, 32);
  EXPECT_FIELD(inf_node_desc, description, 40);
  EXPECT_FIELD(inf_node_desc, input_count, 48);
  EXPECT_FIELD(inf_node_desc, output_count, 52);
  EXPECT_FIELD(inf_node_desc, param_count, 56);
  EXPECT_FIELD(inf_node_desc, inputs, 64);
  EXPECT_FIELD(inf_node_desc, outputs, 72);
  EXPECT_FIELD(inf_node_desc, params, 80);

  EXPECT_EQ(sizeof(inf_param_value), 32u);
  EXPECT_FIELD(inf_param_value, struct_size, 0);
  EXPECT_FIELD(inf_param_value, type, 4);
  EXPECT_FIELD(inf_param_value, int_value, 8);
  EXPECT_FIELD(inf_param_value, float_value, 16);
  EXPECT_FIELD(inf_param_value, string_value, 24);
}

TEST(AbiLayout, DataStructs) {
  EXPECT_EQ(sizeof(inf_image_desc), 56u);
  EXPECT_FIELD(inf_image_desc, struct_size, 0);
  EXPECT_FIELD(inf_image_desc, width, 4);
  EXPECT_FIELD(inf_image_desc, height, 8);
  EXPECT_FIELD(inf_image_desc, scalar, 12);
  EXPECT_FIELD(inf_image_desc, channels, 16);
  EXPECT_FIELD(inf_image_desc, transfer, 20);
  EXPECT_FIELD(inf_image_desc, alpha, 24);
  EXPECT_FIELD(inf_image_desc, reserved, 28);
  EXPECT_FIELD(inf_image_desc, pixel_stride, 32);
  EXPECT_FIELD(inf_image_desc, row_stride, 40);
  EXPECT_FIELD(inf_image_desc, data, 48);

  EXPECT_EQ(sizeof(inf_grid), 8u);
  EXPECT_FIELD(inf_grid, height, 0);
  EXPECT_FIELD(inf_grid, width, 4);

  EXPECT_EQ(sizeof(inf_bit_tokens_desc), 56u);
  EXPECT_FIELD(inf_bit_tokens_desc, struct_size, 0);
  EXPECT_FIELD(inf_bit_tokens_desc, images, 4);
  EXPECT_FIELD(inf_bit_tokens_desc, bits_per_token, 8);
  EXPECT_FIELD(inf_bit_tokens_desc, spatial_patch, 12);
  EXPECT_FIELD(inf_bit_tokens_desc, schedule_scales, 16);
  EXPECT_FIELD(inf_bit_tokens_desc, stored_scales, 20);
  EXPECT_FIELD(inf_bit_tokens_desc, grids, 24);
  EXPECT_FIELD(inf_bit_tokens_desc, rope_grid, 32);
  EXPECT_FIELD(inf_bit_tokens_desc, bits, 40);
  EXPECT_FIELD(inf_bit_tokens_desc, tokenizer, 48);

  EXPECT_EQ(sizeof(inf_text_embedding_desc), 40u);
  EXPECT_FIELD(inf_text_embedding_desc, prompts, 24);
  EXPECT_FIELD(inf_text_embedding_desc, prompt_tokens, 32);
  EXPECT_FIELD(inf_text_embedding_desc, struct_size, 0);
  EXPECT_FIELD(inf_text_embedding_desc, tokens, 4);
  EXPECT_FIELD(inf_text_embedding_desc, channels, 8);
  EXPECT_FIELD(inf_text_embedding_desc, data, 16);
}

TEST(AbiLayout, EngineJobAndProviderStructs) {
  EXPECT_EQ(sizeof(inf_engine_config), 56u);
  EXPECT_FIELD(inf_engine_config, device, 40);
  EXPECT_FIELD(inf_engine_config, model_manifest, 48);
  EXPECT_FIELD(inf_engine_config, struct_size, 0);
  EXPECT_FIELD(inf_engine_config, log_level, 4);
  EXPECT_FIELD(inf_engine_config, model_dir, 8);
  EXPECT_FIELD(inf_engine_config, log_callback, 16);
  EXPECT_FIELD(inf_engine_config, log_user_data, 24);
  EXPECT_FIELD(inf_engine_config, flags, 32);

  EXPECT_EQ(sizeof(inf_progress), 32u);
  EXPECT_FIELD(inf_progress, struct_size, 0);
  EXPECT_FIELD(inf_progress, step, 4);
  EXPECT_FIELD(inf_progress, total_steps, 8);
  EXPECT_FIELD(inf_progress, step_seconds, 16);
  EXPECT_FIELD(inf_progress, stage, 24);

  EXPECT_EQ(sizeof(inf_job_callbacks), 40u);
  EXPECT_FIELD(inf_job_callbacks, struct_size, 0);
  EXPECT_FIELD(inf_job_callbacks, user_data, 8);
  EXPECT_FIELD(inf_job_callbacks, on_progress, 16);
  EXPECT_FIELD(inf_job_callbacks, on_preview, 24);
  EXPECT_FIELD(inf_job_callbacks, on_done, 32);

  EXPECT_EQ(sizeof(inf_instance_args), 24u);
  EXPECT_FIELD(inf_instance_args, struct_size, 0);
  EXPECT_FIELD(inf_instance_args, api, 8);
  EXPECT_FIELD(inf_instance_args, engine, 16);

  EXPECT_EQ(sizeof(inf_run_args), 64u);
  EXPECT_FIELD(inf_run_args, struct_size, 0);
  EXPECT_FIELD(inf_run_args, input_count, 4);
  EXPECT_FIELD(inf_run_args, param_count, 8);
  EXPECT_FIELD(inf_run_args, output_count, 12);
  EXPECT_FIELD(inf_run_args, api, 16);
  EXPECT_FIELD(inf_run_args, context, 24);
  EXPECT_FIELD(inf_run_args, engine, 32);
  EXPECT_FIELD(inf_run_args, inputs, 40);
  EXPECT_FIELD(inf_run_args, params, 48);
  EXPECT_FIELD(inf_run_args, outputs, 56);

  EXPECT_EQ(sizeof(inf_node_provider), 56u);
  EXPECT_FIELD(inf_node_provider, struct_size, 0);
  EXPECT_FIELD(inf_node_provider, abi_version, 4);
  EXPECT_FIELD(inf_node_provider, provider_data, 8);
  EXPECT_FIELD(inf_node_provider, describe, 16);
  EXPECT_FIELD(inf_node_provider, create_instance, 24);
  EXPECT_FIELD(inf_node_provider, run, 32);
  EXPECT_FIELD(inf_node_provider, destroy_instance, 40);
  EXPECT_FIELD(inf_node_provider, destroy, 48);
}

// The table's order is the ABI: each function's slot, 1.0 in full.
TEST(AbiLayout, FunctionTableOrder) {
  EXPECT_FIELD(inf_api, struct_size, 0);
  EXPECT_FIELD(inf_api, abi_version, 4);
  const size_t slots[] = {
      offsetof(inf_api, version_string), offsetof(inf_api, status_name), offsetof(inf_api, last_error),
      offsetof(inf_api, engine_create), offsetof(inf_api, engine_retain), offsetof(inf_api, engine_release),
      offsetof(inf_api, engine_last_error), offsetof(inf_api, engine_set_log_callback),
      offsetof(inf_api, engine_model_dir), offsetof(inf_api, engine_register_provider),
      offsetof(inf_api, engine_node_count), offsetof(inf_api, engine_node_desc), offsetof(inf_api, engine_find_node),
      offsetof(inf_api, node_create), offsetof(inf_api, node_retain), offsetof(inf_api, node_release),
      offsetof(inf_api, node_last_error), offsetof(inf_api, node_desc), offsetof(inf_api, node_set_int),
      offsetof(inf_api, node_set_float), offsetof(inf_api, node_set_bool), offsetof(inf_api, node_set_string),
      offsetof(inf_api, node_get_param), offsetof(inf_api, node_run_async), offsetof(inf_api, value_retain),
      offsetof(inf_api, value_release), offsetof(inf_api, value_last_error), offsetof(inf_api, value_type),
      offsetof(inf_api, value_create_text), offsetof(inf_api, value_get_text),
      offsetof(inf_api, value_create_token_ids), offsetof(inf_api, value_get_token_ids),
      offsetof(inf_api, value_create_text_embedding), offsetof(inf_api, value_get_text_embedding),
      offsetof(inf_api, value_create_bit_tokens), offsetof(inf_api, value_get_bit_tokens),
      offsetof(inf_api, value_load_bit_tokens), offsetof(inf_api, value_save_bit_tokens),
      offsetof(inf_api, value_create_image), offsetof(inf_api, value_create_mask),
      offsetof(inf_api, value_get_image_info), offsetof(inf_api, value_read_image), offsetof(inf_api, job_retain),
      offsetof(inf_api, job_release), offsetof(inf_api, job_last_error), offsetof(inf_api, job_cancel),
      offsetof(inf_api, job_wait), offsetof(inf_api, job_status), offsetof(inf_api, job_get_output),
      offsetof(inf_api, run_progress), offsetof(inf_api, run_preview), offsetof(inf_api, run_wants_preview),
      offsetof(inf_api, run_is_cancelled), offsetof(inf_api, run_log), offsetof(inf_api, run_set_error),
      offsetof(inf_api, engine_device), offsetof(inf_api, engine_model_manifest)};
  const size_t count = sizeof slots / sizeof slots[0];
  EXPECT_EQ(count, 57u);
  for (size_t k = 0; k < count; ++k) EXPECT_EQ(slots[k], 8 + 8 * k) << "function slot " << k;
  EXPECT_EQ(sizeof(inf_api), 8 + 8 * count);
}

TEST(AbiLayout, EnumValues) {
  EXPECT_EQ(sizeof(inf_status), 4u);
  EXPECT_EQ(INF_STATUS_OK, 0);
  EXPECT_EQ(INF_STATUS_INVALID_ARGUMENT, 1);
  EXPECT_EQ(INF_STATUS_INVALID_HANDLE, 2);
  EXPECT_EQ(INF_STATUS_NOT_FOUND, 3);
  EXPECT_EQ(INF_STATUS_TYPE_MISMATCH, 4);
  EXPECT_EQ(INF_STATUS_ALREADY_EXISTS, 5);
  EXPECT_EQ(INF_STATUS_UNSUPPORTED, 6);
  EXPECT_EQ(INF_STATUS_INVALID_DATA, 7);
  EXPECT_EQ(INF_STATUS_IO, 8);
  EXPECT_EQ(INF_STATUS_OUT_OF_MEMORY, 9);
  EXPECT_EQ(INF_STATUS_CANCELLED, 10);
  EXPECT_EQ(INF_STATUS_TIMEOUT, 11);
  EXPECT_EQ(INF_STATUS_NOT_READY, 12);
  EXPECT_EQ(INF_STATUS_WOULD_DEADLOCK, 13);
  EXPECT_EQ(INF_STATUS_INTERNAL, 14);
  EXPECT_EQ(INF_TYPE_TEXT, 1);
  EXPECT_EQ(INF_TYPE_TOKEN_IDS, 2);
  EXPECT_EQ(INF_TYPE_TEXT_EMBEDDING, 3);
  EXPECT_EQ(INF_TYPE_BIT_TOKENS, 4);
  EXPECT_EQ(INF_TYPE_IMAGE, 5);
  EXPECT_EQ(INF_TYPE_MASK, 6);
  EXPECT_EQ(INF_PARAM_INT, 1);
  EXPECT_EQ(INF_PARAM_ENUM, 5);
  EXPECT_EQ(INF_SCALAR_U8, 1);
  EXPECT_EQ(INF_SCALAR_F32, 4);
  EXPECT_EQ(INF_CHANNELS_GRAY, 1);
  EXPECT_EQ(INF_CHANNELS_RGBA, 4);
  EXPECT_EQ(INF_TRANSFER_SRGB, 1);
  EXPECT_EQ(INF_TRANSFER_LINEAR, 2);
  EXPECT_EQ(INF_ALPHA_PREMULTIPLIED, 1);
  EXPECT_EQ(INF_JOB_DONE, 3);
  EXPECT_EQ(INF_LOG_ERROR, 3);
  EXPECT_EQ(INF_ABI_VERSION, 0x10000u);
}

}  // namespace
