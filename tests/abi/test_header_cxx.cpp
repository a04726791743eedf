// infinode.h as C++17 with every warning an error: the INIT macros, enums and structs must be
// clean C++ too, since C++ hosts and providers include the same header.
#include "infinode.h"

#include <type_traits>

static_assert(std::is_standard_layout<inf_image_desc>::value && std::is_trivially_copyable<inf_image_desc>::value,
              "public structs are plain C data");
static_assert(std::is_standard_layout<inf_api>::value, "the table is plain C data");

namespace {
[[maybe_unused]] void use_every_initializer() {
  const inf_engine_config config = INF_ENGINE_CONFIG_INIT;
  const inf_job_callbacks callbacks = INF_JOB_CALLBACKS_INIT;
  const inf_image_desc image = INF_IMAGE_DESC_INIT;
  const inf_progress progress = INF_PROGRESS_INIT;
  const inf_param_value value = INF_PARAM_VALUE_INIT;
  const inf_bit_tokens_desc tokens = INF_BIT_TOKENS_DESC_INIT;
  const inf_text_embedding_desc embedding = INF_TEXT_EMBEDDING_DESC_INIT;
  (void)config, (void)callbacks, (void)image, (void)progress, (void)value, (void)tokens, (void)embedding;
}
}  // namespace
