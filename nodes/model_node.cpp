#include "model_node.h"

#include <new>

#include "provider_support.h"

namespace inf::nodes {
namespace {

struct ProviderData {
  const inf_node_desc* descriptor;
  ModelNodeRun run;
  std::shared_ptr<SharedModels> models;
};

struct Instance {
  ModelNodeRun run;
  std::shared_ptr<SharedModels> models;
};

const inf_node_desc* describe(void* provider_data) { return static_cast<ProviderData*>(provider_data)->descriptor; }

inf_status create_instance(void* provider_data, const inf_instance_args*, void** out_instance) {
  const auto* data = static_cast<ProviderData*>(provider_data);
  try {
    *out_instance = new Instance{data->run, data->models};
    return INF_STATUS_OK;
  } catch (const std::bad_alloc&) {
    return INF_STATUS_OUT_OF_MEMORY;
  }
}

void destroy_instance(void* instance) { delete static_cast<Instance*>(instance); }

void destroy_provider(void* provider_data) { delete static_cast<ProviderData*>(provider_data); }

inf_status run(void* instance, const inf_run_args* args) {
  const auto* node = static_cast<Instance*>(instance);
  return run_guarded(args, [node, args] { node->run(*node->models, args); });
}

}  // namespace

inf_status register_model_node(const inf_api* api, inf_engine* engine, const inf_node_desc& descriptor,
                               ModelNodeRun run_function, const std::shared_ptr<SharedModels>& models) {
  ProviderData* data = nullptr;
  try {
    data = new ProviderData{&descriptor, run_function, models};
  } catch (const std::bad_alloc&) {
    return INF_STATUS_OUT_OF_MEMORY;
  }
  inf_node_provider provider{};
  provider.struct_size = static_cast<uint32_t>(sizeof(inf_node_provider));
  provider.abi_version = INF_ABI_VERSION;
  provider.provider_data = data;
  provider.describe = describe;
  provider.create_instance = create_instance;
  provider.run = run;
  provider.destroy_instance = destroy_instance;
  provider.destroy = destroy_provider;
  const inf_status status = api->engine_register_provider(engine, &provider);
  if (status != INF_STATUS_OK) destroy_provider(data);  // a refused provider stays ours
  return status;
}

}  // namespace inf::nodes
