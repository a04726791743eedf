#include "nodes.h"

#include "api_functions.h"
#include "guard.h"
#include "jobs.h"
#include "values.h"

namespace inf::abi {

NodeObject::~NodeObject() {
  if (instance != nullptr) provider->vtable().destroy_instance(instance);
}

std::shared_ptr<NodeObject> resolve_node(const inf_node* node) {
  return resolve<NodeObject>(node, HandleKind::node, "node");
}

inf_status node_create(inf_engine* engine, const char* node_id, inf_node** out_node) noexcept {
  return guarded(engine, [&] {
    const auto state = resolve_engine(engine);
    const std::string id = required_string(node_id, "node_id");
    require_out(out_node, "out_node");
    *out_node = nullptr;
    auto provider = state->find_provider(id);
    if (provider == nullptr) api_fail(INF_STATUS_NOT_FOUND, "no node type '", id, "' is registered");
    auto node = std::make_shared<NodeObject>(state, provider);
    const inf_instance_args args = {static_cast<uint32_t>(sizeof(inf_instance_args)), api_table(), engine};
    void* instance = nullptr;
    inf_status status = INF_STATUS_INTERNAL;
    {
      ScopedLogRoute route(state.get());
      try {
        status = provider->vtable().create_instance(provider->vtable().provider_data, &args, &instance);
      } catch (...) {
        api_fail(INF_STATUS_INTERNAL, "node ", id, ": create_instance threw an exception");
      }
    }
    if (status != INF_STATUS_OK) {
      // A failed create must not leave an instance behind; destroy it if one was returned anyway.
      if (instance != nullptr) provider->vtable().destroy_instance(instance);
      api_fail(status, "node ", id, ": the provider could not create an instance (", status_name(status), ")");
    }
    node->instance = instance;
    *out_node = as_handle<inf_node>(mint_handle(HandleKind::node, std::move(node)));
    return INF_STATUS_OK;
  });
}

inf_status node_retain(inf_node* node) noexcept {
  return guarded(node, [&] {
    retain_handle(handle_id(node), HandleKind::node, "node");
    return INF_STATUS_OK;
  });
}

inf_status node_release(inf_node* node) noexcept {
  return guarded(node, [&] {
    release_handle(handle_id(node), HandleKind::node, "node");
    return INF_STATUS_OK;
  });
}

const char* node_last_error(inf_node* node) noexcept {
  try {
    return handle_error_message(handle_id(node));
  } catch (...) {
    return "";
  }
}

inf_status node_desc(inf_node* node, const inf_node_desc** out_desc) noexcept {
  return guarded(node, [&] {
    const auto object = resolve_node(node);
    require_out(out_desc, "out_desc");
    *out_desc = &object->provider->desc().desc();  // the provider lives as long as the node
    return INF_STATUS_OK;
  });
}

namespace {
template <typename Setter>
inf_status set_param(inf_node* node, const char* param_id, Setter&& set) noexcept {
  return guarded(node, [&] {
    const auto object = resolve_node(node);
    const std::string id = required_string(param_id, "param_id");
    std::lock_guard<std::mutex> lock(object->params_mutex);
    set(object->params, id);
    return INF_STATUS_OK;
  });
}
}  // namespace

inf_status node_set_int(inf_node* node, const char* param_id, int64_t value) noexcept {
  return set_param(node, param_id, [&](ParamSet& params, const std::string& id) { params.set_int(id, value); });
}

inf_status node_set_float(inf_node* node, const char* param_id, double value) noexcept {
  return set_param(node, param_id, [&](ParamSet& params, const std::string& id) { params.set_float(id, value); });
}

inf_status node_set_bool(inf_node* node, const char* param_id, int32_t value) noexcept {
  return set_param(node, param_id, [&](ParamSet& params, const std::string& id) { params.set_bool(id, value); });
}

inf_status node_set_string(inf_node* node, const char* param_id, const char* utf8) noexcept {
  return set_param(node, param_id, [&](ParamSet& params, const std::string& id) { params.set_string(id, utf8); });
}

inf_status node_get_param(inf_node* node, const char* param_id, inf_param_value* out_value) noexcept {
  return guarded(node, [&] {
    const auto object = resolve_node(node);
    const std::string id = required_string(param_id, "param_id");
    const uint32_t size = check_out_struct(out_value, "out_value");
    std::lock_guard<std::mutex> lock(object->params_mutex);
    write_struct(out_value, size, object->params.get(id));
    return INF_STATUS_OK;
  });
}

inf_status node_run_async(inf_node* node, inf_value* const* inputs, uint32_t input_count,
                          const inf_job_callbacks* callbacks, inf_job** out_job) noexcept {
  return guarded(node, [&] {
    const auto object = resolve_node(node);
    require_out(out_job, "out_job");
    *out_job = nullptr;
    const OwnedNodeDesc& desc = object->provider->desc();
    if (input_count != desc.desc().input_count)
      api_fail(INF_STATUS_INVALID_ARGUMENT, "node ", desc.id(), " takes ", desc.desc().input_count, " inputs, got ", input_count);
    if (input_count > 0 && inputs == nullptr) api_fail(INF_STATUS_INVALID_ARGUMENT, "inputs is NULL");
    std::vector<std::shared_ptr<const ValueObject>> values(input_count);
    for (uint32_t k = 0; k < input_count; ++k) {
      const inf_port_desc& port = desc.input(k);
      if (inputs[k] == nullptr) {
        if ((port.flags & INF_PORT_FLAG_OPTIONAL) == 0)
          api_fail(INF_STATUS_INVALID_ARGUMENT, "node ", desc.id(), " input '", port.id, "' is required but NULL");
        continue;
      }
      values[k] = resolve_value(inputs[k], port.type, ("input '" + std::string(port.id) + "'").c_str());
    }
    inf_job_callbacks settings = INF_JOB_CALLBACKS_INIT;
    if (callbacks != nullptr) settings = read_struct(callbacks, "callbacks");
    auto job = std::make_shared<JobObject>(object, std::move(values), settings);
    {
      std::lock_guard<std::mutex> lock(object->params_mutex);
      object->params.snapshot(job->params());
    }
    const uintptr_t handle = mint_handle(HandleKind::job, job);
    job->set_handle(handle);
    retain_handle(handle, HandleKind::job, "job");  // the job's own reference, dropped after on_done
    try {
      submit_job(job);
    } catch (...) {
      release_handle(handle, HandleKind::job, "job");
      release_handle(handle, HandleKind::job, "job");
      throw;
    }
    *out_job = as_handle<inf_job>(handle);
    return INF_STATUS_OK;
  });
}

}  // namespace inf::abi
