// org.infinode.text.encode: prompts to Flan-T5 features, the text condition of the sampler.
// The text is tokenized with the model's SentencePiece file (or token ids from text.tokenize are
// taken as they are), and each prompt is encoded on its own, unpadded, as T5Encoder does: the
// reference's padded batch gives the same rows. Features of prompts seen before come from the
// engine's cache, so re-evaluating a graph skips the encoder.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "builtin_nodes.h"
#include "common/error.h"
#include "model_node.h"
#include "provider_support.h"
#include "shared_models.h"
#include "value_conversions.h"

namespace inf::nodes {
namespace {

constexpr uint32_t kPortSize = static_cast<uint32_t>(sizeof(inf_port_desc));
constexpr uint32_t kParamSize = static_cast<uint32_t>(sizeof(inf_param_desc));

const inf_port_desc kTextIn = {kPortSize, INF_TYPE_TEXT, "text", "Prompt",
                               "UTF-8 prompt (or one prompt per line with split_lines). Connect this or ids.",
                               INF_PORT_FLAG_OPTIONAL};
const inf_port_desc kIdsIn = {kPortSize, INF_TYPE_TOKEN_IDS, "ids", "Token ids",
                              "Flan-T5 token ids of one prompt, EOS included (from text.tokenize). Connect this or text.",
                              INF_PORT_FLAG_OPTIONAL};
const inf_port_desc kEmbeddingOut = {kPortSize, INF_TYPE_TEXT_EMBEDDING, "embedding", "Text embedding",
                                     "T5 features of the prompt, or of each prompt of a batch.", 0};
const inf_param_desc kSplitLines = {
    kParamSize, INF_PARAM_BOOL, "split_lines", "One prompt per line",
    "Each non-blank line of the text is its own prompt, giving a batch embedding (one image per line in a sampler).",
    0, 0, nullptr, 0, 1, 0, 0.0, 0.0, 0.0, nullptr};
const inf_param_desc kMaxLength = {
    kParamSize, INF_PARAM_INT, "max_length", "Max tokens",
    "Longer prompts keep their first max_length - 1 pieces, then EOS. Token ids longer than this are refused.",
    INF_PARAM_FLAG_ADVANCED, 0, nullptr, 1, T5Tokenizer::kDefaultMaxLength, T5Tokenizer::kDefaultMaxLength,
    0.0, 0.0, 0.0, nullptr};
const inf_param_desc kSpieceModel = {
    kParamSize, INF_PARAM_STRING, "spiece_model", "SentencePiece model",
    "Path of the tokenizer's spiece.model. Empty: the tokenizer of the engine's model (its manifest).",
    INF_PARAM_FLAG_PATH | INF_PARAM_FLAG_ADVANCED, 0, nullptr, 0, 0, 0, 0.0, 0.0, 0.0, ""};
enum ParamIndex : uint32_t { kSplitLinesIndex = 0, kMaxLengthIndex = 1, kSpieceModelIndex = 2 };
enum InputIndex : uint32_t { kTextIndex = 0, kIdsIndex = 1 };

const inf_port_desc* const kInputs[] = {&kTextIn, &kIdsIn};
const inf_port_desc* const kOutputs[] = {&kEmbeddingOut};
const inf_param_desc* const kParams[] = {&kSplitLines, &kMaxLength, &kSpieceModel};

const inf_node_desc kDescriptor = {
    static_cast<uint32_t>(sizeof(inf_node_desc)), 1, 0, INF_NODE_FLAG_PROGRESS, "org.infinode.text.encode",
    "Encode prompt", "infinode/text",
    "Turns a prompt (or one prompt per line) into Flan-T5 features for sampler.generate and sampler.edit.",
    2, 1, 3, kInputs, kOutputs, kParams};

// The prompts of `text`: the whole text, or with split_lines each line that holds more than
// whitespace (a trailing '\r' of CRLF text is dropped), so blank separator lines make no images.
std::vector<std::string_view> prompts_of(std::string_view text, bool split_lines) {
  if (!split_lines) return {text};
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t\v\f\r") != std::string_view::npos) lines.push_back(line);
    start = end + 1;
  }
  if (lines.empty()) node_fail(INF_STATUS_INVALID_ARGUMENT, "split_lines is on but the text has no non-blank line");
  return lines;
}

std::vector<std::vector<int32_t>> tokenize_text(SharedModels& models, const inf_run_args* args, int max_length) {
  const inf_api& api = *args->api;
  const char* text = nullptr;
  size_t length = 0;
  check_call(api, api.value_get_text(args->inputs[kTextIndex], &text, &length), "reading the prompt");
  const bool split_lines = param_at(args, kSplitLinesIndex, INF_PARAM_BOOL).int_value != 0;
  const auto tokenizer = models.tokenizer(param_at(args, kSpieceModelIndex, INF_PARAM_STRING).string_value);
  std::vector<std::vector<int32_t>> prompts;
  for (const std::string_view prompt : prompts_of(std::string_view(text, length), split_lines))
    prompts.push_back(tokenizer->encode(prompt, max_length).ids);
  return prompts;
}

std::vector<int32_t> read_ids(const inf_run_args* args, int max_length) {
  const inf_api& api = *args->api;
  const int32_t* ids = nullptr;
  size_t count = 0;
  check_call(api, api.value_get_token_ids(args->inputs[kIdsIndex], &ids, &count), "reading the token ids");
  if (count == 0) node_fail(INF_STATUS_INVALID_ARGUMENT, "the token ids are empty (an empty prompt is [1], EOS alone)");
  if (count > static_cast<size_t>(max_length))
    node_fail(INF_STATUS_INVALID_ARGUMENT, "the prompt has ", count, " token ids, more than max_length ", max_length,
              " (tokenize with the same max_length)");
  return std::vector<int32_t>(ids, ids + count);
}

// T5Encoder refuses such ids too; checked first so the message says which prompt and position.
void check_vocabulary(const std::vector<std::vector<int32_t>>& prompts, int64_t vocabulary) {
  for (size_t p = 0; p < prompts.size(); ++p)
    for (size_t t = 0; t < prompts[p].size(); ++t)
      if (prompts[p][t] < 0 || prompts[p][t] >= vocabulary)
        node_fail(INF_STATUS_INVALID_ARGUMENT, "prompt ", p, ": token id ", prompts[p][t], " at position ", t,
                  " is outside the T5 vocabulary [0, ", vocabulary, ")");
}

// The longest prompt the engine's transformer takes: its learned unconditional text has that many
// rows (512 for the released models, as many as Flan-T5 reads; fewer for small ones). A prompt
// is cut there, as the reference's tokenizer cuts at 512. Without a transformer: no limit.
int model_text_length(SharedModels& models) {
  if (models.manifest().transformer.empty()) return T5Tokenizer::kDefaultMaxLength;
  return models.transformer_config().text_max_length;
}

void run(SharedModels& models, const inf_run_args* args) {
  const inf_api& api = *args->api;
  const bool has_text = args->inputs[kTextIndex] != nullptr, has_ids = args->inputs[kIdsIndex] != nullptr;
  if (has_text == has_ids)
    node_fail(INF_STATUS_INVALID_ARGUMENT, "connect exactly one of the inputs 'text' and 'ids' (",
              has_text ? "both are" : "neither is", " connected)");
  const auto max_length = std::min(static_cast<int>(param_at(args, kMaxLengthIndex, INF_PARAM_INT).int_value),
                                    model_text_length(models));
  const std::vector<std::vector<int32_t>> prompts =
      has_text ? tokenize_text(models, args, max_length) : std::vector<std::vector<int32_t>>{read_ids(args, max_length)};

  const auto t5 = models.t5();
  check_vocabulary(prompts, t5->encoder.config().vocab);
  const auto encode = [&models, &t5](const std::vector<int32_t>& ids) {
    std::lock_guard<std::mutex> lock(models.compute_mutex());
    return t5->encoder.encode(ids);  // [L, d_model] f32 host
  };
  std::vector<Tensor> features;  // per prompt [L_p, d_model], shared with the cache: read only
  int64_t total_tokens = 0;
  for (size_t p = 0; p < prompts.size(); ++p) {
    const auto start = std::chrono::steady_clock::now();
    features.push_back(t5->cache.get_or_encode(prompts[p], encode));
    total_tokens += features.back().dim(0);
    inf_progress progress = INF_PROGRESS_INIT;
    progress.step = static_cast<uint32_t>(p + 1);
    progress.total_steps = static_cast<uint32_t>(prompts.size());
    progress.step_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    progress.stage = "encode";
    if (api.run_progress(args->context, &progress) == INF_STATUS_CANCELLED)
      node_fail(INF_STATUS_CANCELLED, "cancelled after encoding ", p + 1, " of ", prompts.size(), " prompts");
  }

  PromptFeatures batch;
  const int64_t channels = t5->encoder.config().d_model;
  batch.features = Tensor::host(DType::f32, {total_tokens, channels});  // [sum of L_p, d_model]
  int64_t row = 0;
  for (const Tensor& prompt : features) {
    INF_CHECK(prompt.dtype() == DType::f32 && prompt.is_contiguous() && prompt.dim(1) == channels,
              ErrorKind::internal, "T5 features ", prompt.describe(), " are not packed f32 [L, ", channels, "]");
    std::memcpy(batch.features.narrow(0, row, prompt.dim(0)).data(), prompt.data(), prompt.nbytes());
    row += prompt.dim(0);
    batch.lengths.push_back(static_cast<int32_t>(prompt.dim(0)));
  }
  args->outputs[0] = prompt_features_to_value(api, batch);
}

}  // namespace

inf_status register_text_encode(const inf_api* api, inf_engine* engine, const std::shared_ptr<SharedModels>& models) {
  return register_model_node(api, engine, kDescriptor, run, models);
}

}  // namespace inf::nodes
