// org.infinode.sampler.generate: text conditioning -> bit tokens, by Infinity's next-scale
// sampling loop. Prompts x batch images, prompt-major; image i draws its random numbers from
// (seed, i), so a run's image i does not depend on how many images follow it.
#include <string>

#include "builtin_nodes.h"
#include "model_node.h"
#include "provider_support.h"
#include "sampler_params.h"
#include "sampler_run.h"
#include "schedule_choice.h"
#include "value_conversions.h"

namespace inf::nodes {
namespace {

constexpr uint32_t kPortSize = static_cast<uint32_t>(sizeof(inf_port_desc));
constexpr uint32_t kParamSize = static_cast<uint32_t>(sizeof(inf_param_desc));
constexpr int64_t kMaxImages = 4096;  // prompts x batch in one job: bounds memory on a bad graph

const inf_port_desc kPositive = {kPortSize, INF_TYPE_TEXT_EMBEDDING, "positive", "Positive",
                                 "T5 features of one or more prompts; each gets `batch` images.", 0};
const inf_port_desc kNegative = {
    kPortSize, INF_TYPE_TEXT_EMBEDDING, "negative", "Negative",
    "One prompt for all, or one per positive prompt. Unconnected: the model's learned empty-text rows.",
    INF_PORT_FLAG_OPTIONAL};
const inf_port_desc kTokensOut = {kPortSize, INF_TYPE_BIT_TOKENS, "tokens", "Bit tokens",
                                  "prompts x batch images, prompt-major (image i: prompt i / batch).", 0};

const inf_param_desc kWidth = {kParamSize, INF_PARAM_INT, "width", "Width",
                               "Requested width in pixels; the nearest aspect template is used. 0: use aspect.",
                               0, 0, nullptr, 0, 16384, 0, 0.0, 0.0, 0.0, nullptr};
const inf_param_desc kHeight = {kParamSize, INF_PARAM_INT, "height", "Height",
                                "Requested height in pixels; the nearest aspect template is used. 0: use aspect.",
                                0, 0, nullptr, 0, 16384, 0, 0.0, 0.0, 0.0, nullptr};
const inf_param_desc kAspect = {kParamSize, INF_PARAM_FLOAT, "aspect", "Aspect",
                                "Width / height, used when width or height is 0.",
                                0, 0, nullptr, 0, 0, 0, 0.25, 4.0, 1.0, nullptr};
const inf_param_desc kResolution = {
    kParamSize, INF_PARAM_ENUM, "resolution", "Resolution",
    "auto: the model's default schedule, else the key nearest width x height, else 1M.",
    0, kResolutionChoiceCount, kResolutionChoices, 0, 0, 0, 0.0, 0.0, 0.0, nullptr};
const inf_param_desc kBatch = {kParamSize, INF_PARAM_INT, "batch", "Batch", "Images per prompt.",
                               0, 0, nullptr, 1, 64, 1, 0.0, 0.0, 0.0, nullptr};

enum InputIndex : uint32_t { kPositiveIndex = 0, kNegativeIndex = 1 };
enum ParamIndex : uint32_t {
  kWidthIndex = 0, kHeightIndex, kAspectIndex, kResolutionIndex, kSeedIndex, kBatchIndex,
  kCfgIndex, kTauIndex, kTopKIndex, kTopPIndex,
};
constexpr SamplingParamIndices kSamplingIndices = {kSeedIndex, kCfgIndex, kTauIndex, kTopKIndex, kTopPIndex};

const inf_port_desc* const kInputs[] = {&kPositive, &kNegative};
const inf_port_desc* const kOutputs[] = {&kTokensOut};
const inf_param_desc* const kParams[] = {&kWidth,     &kHeight,   &kAspect,   &kResolution, &kSeedParam,
                                         &kBatch,     &kCfgParam, &kTauParam, &kTopKParam,  &kTopPParam};

const inf_node_desc kDescriptor = {
    static_cast<uint32_t>(sizeof(inf_node_desc)), 1, 0, INF_NODE_FLAG_PROGRESS | INF_NODE_FLAG_PREVIEW,
    "org.infinode.sampler.generate", "Generate bit tokens", "infinode/sampling",
    "Samples an image's bit tokens scale by scale from text conditioning (Infinity's next-scale prediction). "
    "Decode them with image.decode; previews show the picture after each scale.",
    2, 1, 10, kInputs, kOutputs, kParams};

void run_generate(SharedModels& models, const inf_run_args* args) {
  const inf_api& api = *args->api;
  const InfinityConfig config = models.transformer_config();
  const PromptFeatures positive = read_prompts(api, args->inputs[kPositiveIndex], "positive", config.text_channels);
  const auto prompts = static_cast<int>(positive.lengths.size());
  const auto batch = static_cast<int>(param_at(args, kBatchIndex, INF_PARAM_INT).int_value);
  if (int64_t{prompts} * batch > kMaxImages)
    node_fail(INF_STATUS_INVALID_ARGUMENT, prompts, " prompts x batch ", batch, " is more than ", kMaxImages,
              " images in one job");
  const int images = prompts * batch;

  const ModelDefaults defaults = models.manifest().defaults;
  GenerateRequest request;
  request.negative =
      read_negative(api, args->inputs[kNegativeIndex], config.text_channels, prompts, images, "positive prompt");
  request.prompts = repeat_prompts(positive, batch);
  apply_sampling_params(args, kSamplingIndices, defaults, request);

  const auto vae = models.vae();
  request.spatial_patch = models.spatial_patch();
  const std::string resolution = kResolutionChoices[param_at(args, kResolutionIndex, INF_PARAM_ENUM).int_value];
  const int64_t width = param_at(args, kWidthIndex, INF_PARAM_INT).int_value;
  const int64_t height = param_at(args, kHeightIndex, INF_PARAM_INT).int_value;
  const double aspect = param_at(args, kAspectIndex, INF_PARAM_FLOAT).float_value;  // width / height
  // A size names the ratio (and, for "auto", the resolution key); without one, aspect does.
  request.schedule = width > 0 && height > 0
                         ? choose_schedule(models, resolution, static_cast<int>(width), static_cast<int>(height))
                         : choose_schedule_for_ratio(defaults, resolution, 1.0 / aspect);
  const std::string plan = "sampler.generate: " + std::to_string(prompts) + " prompt(s) x " + std::to_string(batch) +
                           ", " + request.schedule.describe();
  api.run_log(args->context, INF_LOG_INFO, plan.c_str());

  BitTokens tokens;
  tokens.schedule = request.schedule;
  tokens.spatial_patch = request.spatial_patch;
  tokens.tokenizer = vae->vae.identity();  // the bits are meant for this VAE's decoder
  const auto transformer = models.transformer();
  tokens.bits = run_sampling_job(models, args, transformer->model, vae->vae, std::move(request)).bits;
  args->outputs[0] = bit_tokens_to_value(api, tokens);
}

}  // namespace

inf_status register_sampler_generate(const inf_api* api, inf_engine* engine,
                                     const std::shared_ptr<SharedModels>& models) {
  return register_model_node(api, engine, kDescriptor, run_generate, models);
}

}  // namespace inf::nodes
