// org.infinode.text.tokenize: a prompt to Flan-T5 token ids with the model's SentencePiece file,
// following HF's T5TokenizerFast (core/text/t5_tokenizer.h): pieces, then EOS, at most
// max_length ids.
#include <string>

#include "builtin_nodes.h"
#include "model_node.h"
#include "provider_support.h"
#include "shared_models.h"

namespace inf::nodes {
namespace {

constexpr uint32_t kPortSize = static_cast<uint32_t>(sizeof(inf_port_desc));
constexpr uint32_t kParamSize = static_cast<uint32_t>(sizeof(inf_param_desc));

const inf_port_desc kTextIn = {kPortSize, INF_TYPE_TEXT, "text", "Prompt", "UTF-8 text to tokenize.", 0};
const inf_port_desc kIdsOut = {kPortSize, INF_TYPE_TOKEN_IDS, "ids", "Token ids",
                               "Flan-T5 token ids, EOS included.", 0};
const inf_param_desc kSpieceModel = {
    kParamSize, INF_PARAM_STRING, "spiece_model", "SentencePiece model",
    "Path of the tokenizer's spiece.model. Empty: the tokenizer of the engine's model (its manifest).",
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

void run(SharedModels& models, const inf_run_args* args) {
  const inf_api& api = *args->api;
  const char* text = nullptr;
  size_t length = 0;
  check_call(api, api.value_get_text(args->inputs[0], &text, &length), "reading the prompt");
  const auto max_length = static_cast<int>(param_at(args, kMaxLengthIndex, INF_PARAM_INT).int_value);
  const std::string explicit_path = param_at(args, kSpieceModelIndex, INF_PARAM_STRING).string_value;
  const auto tokenizer = models.tokenizer(explicit_path);
  const TokenizedPrompt prompt = tokenizer->encode(std::string_view(text, length), max_length);
  inf_value* ids = nullptr;
  check_call(api, api.value_create_token_ids(prompt.ids.data(), prompt.ids.size(), &ids), "creating the token ids");
  args->outputs[0] = ids;
}

}  // namespace

inf_status register_text_tokenize(const inf_api* api, inf_engine* engine, const std::shared_ptr<SharedModels>& models) {
  return register_model_node(api, engine, kDescriptor, run, models);
}

}  // namespace inf::nodes
