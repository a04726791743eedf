// Test nodes written against infinode.h alone, registered through the provider interface.
#include <chrono>
#include <new>
#include <thread>

#include "abi_fixture.h"

namespace abi_test {
namespace {

constexpr uint32_t kPortSize = static_cast<uint32_t>(sizeof(inf_port_desc));
constexpr uint32_t kParamSize = static_cast<uint32_t>(sizeof(inf_param_desc));

const inf_port_desc kTextOut = {kPortSize, INF_TYPE_TEXT, "text", "Text", "", 0};
const inf_port_desc* const kOutputs[] = {&kTextOut};
const inf_param_desc kSteps = {kParamSize, INF_PARAM_INT, "steps", "Steps", "", 0, 0, nullptr, 1, 1000, 10,
                               0.0, 0.0, 0.0, nullptr};
const inf_param_desc kStepMs = {kParamSize, INF_PARAM_INT, "step_ms", "Milliseconds per step", "", 0, 0, nullptr,
                                0, 10000, 10, 0.0, 0.0, 0.0, nullptr};
const inf_param_desc* const kParams[] = {&kSteps, &kStepMs};

struct SleepyProvider {
  SleepyStats* stats;
  std::string id;
  inf_node_desc desc;
};

const inf_node_desc* describe_sleepy(void* data) { return &static_cast<SleepyProvider*>(data)->desc; }

inf_status create_sleepy(void* data, const inf_instance_args* args, void** out_instance) {
  if (args == nullptr || args->api == nullptr || args->engine == nullptr) return INF_STATUS_INTERNAL;
  static_cast<SleepyProvider*>(data)->stats->instances++;
  *out_instance = data;  // the instance is the provider itself: it keeps no per-node state
  return INF_STATUS_OK;
}

void destroy_sleepy_instance(void* instance) { static_cast<SleepyProvider*>(instance)->stats->instances--; }

void destroy_sleepy(void* data) {
  auto* provider = static_cast<SleepyProvider*>(data);
  provider->stats->provider_destroyed++;
  delete provider;
}

inf_status run_sleepy(void* instance, const inf_run_args* args) {
  SleepyStats& stats = *static_cast<SleepyProvider*>(instance)->stats;
  const inf_api& api = *args->api;
  const auto steps = static_cast<uint32_t>(args->params[0]->int_value);
  const auto step_ms = args->params[1]->int_value;
  int32_t wants_preview = 0;
  if (api.run_wants_preview(args->context, &wants_preview) != INF_STATUS_OK) return INF_STATUS_INTERNAL;
  api.run_log(args->context, INF_LOG_DEBUG, "sleepy node starts");
  for (uint32_t step = 1; step <= steps; ++step) {
    std::this_thread::sleep_for(std::chrono::milliseconds(step_ms));
    stats.steps_run++;
    inf_progress progress = INF_PROGRESS_INIT;
    progress.step = step;
    progress.total_steps = steps;
    progress.step_seconds = static_cast<double>(step_ms) / 1000.0;
    progress.stage = "sleep";
    if (wants_preview != 0) {
      uint8_t pixels[2 * 2 * 4];
      for (size_t i = 0; i < sizeof pixels; ++i) pixels[i] = static_cast<uint8_t>(step + i);
      inf_image_desc preview = INF_IMAGE_DESC_INIT;
      preview.width = 2;
      preview.height = 2;
      preview.pixel_stride = 4;
      preview.row_stride = 8;
      preview.data = pixels;
      if (api.run_preview(args->context, &progress, &preview) == INF_STATUS_OK) stats.previews_sent++;
    }
    if (api.run_progress(args->context, &progress) == INF_STATUS_CANCELLED) return INF_STATUS_CANCELLED;
  }
  inf_value* text = nullptr;
  const inf_status status = api.value_create_text("slept", INF_TEXT_NUL_TERMINATED, &text);
  if (status != INF_STATUS_OK) return status;
  args->outputs[0] = text;
  return INF_STATUS_OK;
}

struct BadProvider {
  BadBehaviour behaviour;
  inf_node_desc desc;
};

const inf_node_desc* describe_bad(void* data) { return &static_cast<BadProvider*>(data)->desc; }

inf_status create_bad(void* data, const inf_instance_args*, void** out_instance) {
  *out_instance = data;
  return INF_STATUS_OK;
}

void destroy_nothing(void*) {}
void destroy_bad(void* data) { delete static_cast<BadProvider*>(data); }

inf_status run_bad(void* instance, const inf_run_args* args) {
  const inf_api& api = *args->api;
  switch (static_cast<BadProvider*>(instance)->behaviour) {
    case BadBehaviour::fail_with_message:
      api.run_set_error(args->context, "the input file is corrupt");
      return INF_STATUS_INVALID_DATA;
    case BadBehaviour::no_output: return INF_STATUS_OK;
    case BadBehaviour::unknown_status: return static_cast<inf_status>(999);
    case BadBehaviour::wrong_output_type: {
      const int32_t ids[] = {1, 2};
      inf_value* value = nullptr;
      api.value_create_token_ids(ids, 2, &value);
      args->outputs[0] = value;
      return INF_STATUS_OK;
    }
  }
  return INF_STATUS_INTERNAL;
}

inf_node_desc base_desc(const char* id) {
  inf_node_desc desc{};
  desc.struct_size = static_cast<uint32_t>(sizeof(inf_node_desc));
  desc.version_major = 1;
  desc.flags = INF_NODE_FLAG_PROGRESS | INF_NODE_FLAG_PREVIEW;
  desc.id = id;
  desc.display_name = "Test node";
  desc.category = "tests";
  desc.description = "A node the ABI tests register.";
  desc.output_count = 1;
  desc.outputs = kOutputs;
  return desc;
}

}  // namespace

inf_status register_sleepy(const inf_api* A, inf_engine* engine, SleepyStats* stats, const char* id) {
  auto* provider = new SleepyProvider{stats, id, {}};
  provider->desc = base_desc(provider->id.c_str());
  provider->desc.param_count = 2;
  provider->desc.params = kParams;
  inf_node_provider vtable{};
  vtable.struct_size = static_cast<uint32_t>(sizeof(inf_node_provider));
  vtable.abi_version = INF_ABI_VERSION;
  vtable.provider_data = provider;
  vtable.describe = describe_sleepy;
  vtable.create_instance = create_sleepy;
  vtable.run = run_sleepy;
  vtable.destroy_instance = destroy_sleepy_instance;
  vtable.destroy = destroy_sleepy;
  const inf_status status = A->engine_register_provider(engine, &vtable);
  if (status != INF_STATUS_OK) delete provider;  // refused: still ours
  return status;
}

inf_status register_bad(const inf_api* A, inf_engine* engine, const char* id, BadBehaviour behaviour) {
  auto* provider = new BadProvider{behaviour, base_desc(id)};
  inf_node_provider vtable{};
  vtable.struct_size = static_cast<uint32_t>(sizeof(inf_node_provider));
  vtable.abi_version = INF_ABI_VERSION;
  vtable.provider_data = provider;
  vtable.describe = describe_bad;
  vtable.create_instance = create_bad;
  vtable.run = run_bad;
  vtable.destroy_instance = destroy_nothing;
  vtable.destroy = destroy_bad;
  const inf_status status = A->engine_register_provider(engine, &vtable);
  if (status != INF_STATUS_OK) delete provider;
  return status;
}

}  // namespace abi_test
