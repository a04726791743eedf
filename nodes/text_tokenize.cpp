// org.infinode.text.tokenize: a prompt to Flan-T5 token ids with the model's SentencePiece file,
// following HF's T5TokenizerFast (core/text/t5_tokenizer.h): pieces, then EOS, at most
// max_length ids.
#include <new>
#include <string>

#include "builtin_nodes.h"
#include "provider_support.h"
#include "shared_models.h"

namespace inf::nodes {
namespace {

constexpr uint32_t kPortSize = static_cast<uint32_t>(sizeof(inf_port_desc));
constexpr uint32_t kParamSize = static_cast<uint32_t>(sizeof(inf_param_desc));
constexpr const char* kModelFileName = "spiece.model";

const inf_port_desc kTextIn = {kPortSize, INF_TYPE_TEXT, "text", "Prompt", "UTF-8 text to tokenize.", 0};
const inf_port_desc kIdsOut = {kPortSize, INF_TYPE_TOKEN_IDS, "ids", "Token ids",
                               "Flan-T5 token ids, EOS included.", 0};
const inf_param_desc kSpieceModel = {
    kParamSize, INF_PARAM_STRING, "spiece_model", "SentencePiece model",
    "Path of the tokenizer's spiece.model. Empty: spiece.model in the engine's model directory.",
    INF_PARAM_FLAG_PATH, 0, nullptr, 0, 0, 0, 0.0, 0.0, 0.0, ""};
const inf_param_desc kMaxLength = {
    kParamSize, INF_PARAM_INT, "max_length", "Max tokens",
    "Longer prompts keep their first max_length - 1 pieces, then EOS (a warning says how many were dropped).",
    INF_PARAM_FLAG_ADVANCED, 0, nullptr, 1, T5Tokenizer::kDefaultMaxLength, T5Tokenizer::kDefaultMaxLength,
    0.0, 0.0, 0.0, nullptr};
enum ParamIndex : uint32_t { kSpieceModelIndex = 0, kMaxLengthIndex = 1 };

const inf_port_desc* const kInputs[] = {&kTextIn};
const inf_port_desc* const kOutputs[] = {&kIdsOut};
const inf_param_desc* const kParams[] = {&kSpieceModel, &kMaxLength};

const inf_node_desc kDescriptor = {
    static_cast<uint32_t>(sizeof(inf_node_desc)), 1, 0, 0, "org.infinode.text.tokenize", "Tokenize prompt",
    "infinode/text",
    "Splits a prompt into Flan-T5 token ids, as the Infinity reference does, for text.encode.",
    1, 1, 2, kInputs, kOutputs, kParams};

const inf_node_desc* describe(void*) { return &kDescriptor; }

std::string model_path(const inf_api& api, const inf_run_args* args) {
  const std::string explicit_path = param_at(args, kSpieceModelIndex, INF_PARAM_STRING).string_value;
  if (!explicit_path.empty()) return explicit_path;
  const char* model_dir = nullptr;
  check_call(api, api.engine_model_dir(args->engine, &model_dir), "asking the engine for its model directory");
  if (model_dir == nullptr || model_dir[0] == '\0')
    node_fail(INF_STATUS_INVALID_ARGUMENT,
              "no tokenizer: set the spiece_model parameter or create the engine with a model directory");
  return std::string(model_dir) + "/" + kModelFileName;
}

// The engine's model cache, reached through provider_data (registration) and the instance (runs).
struct Instance {
  std::shared_ptr<SharedModels> models;
};

inf_status create_instance(void* provider_data, const inf_instance_args*, void** out_instance) {
  try {
    *out_instance = new Instance{*static_cast<const std::shared_ptr<SharedModels>*>(provider_data)};
    return INF_STATUS_OK;
  } catch (const std::bad_alloc&) {
    return INF_STATUS_OUT_OF_MEMORY;
  }
}

void destroy_instance(void* instance) { delete static_cast<Instance*>(instance); }

void destroy_provider(void* provider_data) { delete static_cast<std::shared_ptr<SharedModels>*>(provider_data); }

inf_status run(void* instance, const inf_run_args* args) {
  return run_guarded(args, [instance, args] {
    const inf_api& api = *args->api;
    const char* text = nullptr;
    size_t length = 0;
    check_call(api, api.value_get_text(args->inputs[0], &text, &length), "reading the prompt");
    const auto max_length = static_cast<int>(param_at(args, kMaxLengthIndex, INF_PARAM_INT).int_value);
    const auto tokenizer = static_cast<Instance*>(instance)->models->tokenizer(model_path(api, args));
    TokenizedPrompt prompt;
    {
      std::lock_guard<std::mutex> lock(tokenizer->mutex);
      prompt = tokenizer->tokenizer.encode(std::string_view(text, length), max_length);
    }
    inf_value* ids = nullptr;
    check_call(api, api.value_create_token_ids(prompt.ids.data(), prompt.ids.size(), &ids), "creating the token ids");
    args->outputs[0] = ids;
  });
}

}  // namespace

inf_status register_text_tokenize(const inf_api* api, inf_engine* engine, const std::shared_ptr<SharedModels>& models) {
  std::shared_ptr<SharedModels>* provider_data = nullptr;
  try {
    provider_data = new std::shared_ptr<SharedModels>(models);
  } catch (const std::bad_alloc&) {
    return INF_STATUS_OUT_OF_MEMORY;
  }
  inf_node_provider provider{};
  provider.struct_size = static_cast<uint32_t>(sizeof(inf_node_provider));
  provider.abi_version = INF_ABI_VERSION;
  provider.provider_data = provider_data;
  provider.describe = describe;
  provider.create_instance = create_instance;
  provider.run = run;
  provider.destroy_instance = destroy_instance;
  provider.destroy = destroy_provider;
  const inf_status status = api->engine_register_provider(engine, &provider);
  if (status != INF_STATUS_OK) destroy_provider(provider_data);  // a refused provider stays ours
  return status;
}

}  // namespace inf::nodes
