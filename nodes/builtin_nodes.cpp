#include "builtin_nodes.h"

#include "shared_models.h"

namespace inf::nodes {
namespace {

using Registration = inf_status (*)(const inf_api*, inf_engine*, const std::shared_ptr<SharedModels>&);

// Registration order is the order hosts list the nodes in: the pipeline's order.
constexpr Registration kBuiltinNodes[] = {
    register_text_tokenize,   register_text_encode,  register_sampler_generate, register_sampler_edit,
    register_tokens_truncate, register_image_encode, register_image_decode,
};

}  // namespace

inf_status register_builtin_nodes(const inf_api* api, inf_engine* engine) {
  // The engine's configuration, read through the table like any provider would.
  const char* model_dir = nullptr;
  const char* device = nullptr;
  const char* manifest = nullptr;
  for (const inf_status status : {api->engine_model_dir(engine, &model_dir), api->engine_device(engine, &device),
                                  api->engine_model_manifest(engine, &manifest)})
    if (status != INF_STATUS_OK) return status;
  std::shared_ptr<SharedModels> models;
  try {
    models = std::make_shared<SharedModels>(model_dir, device, manifest);
  } catch (...) {
    return INF_STATUS_OUT_OF_MEMORY;
  }
  for (const Registration registration : kBuiltinNodes) {
    const inf_status status = registration(api, engine, models);
    if (status != INF_STATUS_OK) return status;
  }
  return INF_STATUS_OK;
}

}  // namespace inf::nodes
