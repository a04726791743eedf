// org.infinode.sampler.edit: keeps the coarse scales of given bit tokens (teacher forcing) and
// samples the finer ones with a new prompt. With a mask, tokens outside the masked region take
// the source's bits at every scale, so only the region is regenerated, in the context of the rest.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "builtin_nodes.h"
#include "model_node.h"
#include "provider_support.h"
#include "sampler_params.h"
#include "sampler_run.h"
#include "value_conversions.h"

namespace inf::nodes {
namespace {

constexpr uint32_t kPortSize = static_cast<uint32_t>(sizeof(inf_port_desc));
constexpr uint32_t kParamSize = static_cast<uint32_t>(sizeof(inf_param_desc));
// A token is regenerated when at least this much of its area is masked.
constexpr double kRegenerateCoverage = 0.5;

const inf_port_desc kTokensIn = {kPortSize, INF_TYPE_BIT_TOKENS, "tokens", "Source tokens",
                                 "Bit tokens of one or more images (from image.encode or a sampler).", 0};
const inf_port_desc kPositive = {kPortSize, INF_TYPE_TEXT_EMBEDDING, "positive", "Positive",
                                 "The new prompt: one for all images, or one per image.", 0};
const inf_port_desc kNegative = {
    kPortSize, INF_TYPE_TEXT_EMBEDDING, "negative", "Negative",
    "One prompt for all, or one per image. Unconnected: the model's learned empty-text rows.",
    INF_PORT_FLAG_OPTIONAL};
const inf_port_desc kMask = {
    kPortSize, INF_TYPE_MASK, "mask", "Mask",
    "Coverage 1 where the image is regenerated, stretched over the image. Unconnected: the whole image.",
    INF_PORT_FLAG_OPTIONAL};
const inf_port_desc kTokensOut = {kPortSize, INF_TYPE_BIT_TOKENS, "tokens", "Edited tokens",
                                  "As many images as the source, with the source's schedule.", 0};

const inf_param_desc kKeepScales = {
    kParamSize, INF_PARAM_INT, "keep_scales", "Keep scales",
    "The first K scales are taken from the source (it must hold at least K); the rest are regenerated.",
    0, 0, nullptr, 0, 64, 4, 0.0, 0.0, 0.0, nullptr};

enum InputIndex : uint32_t { kTokensIndex = 0, kPositiveIndex, kNegativeIndex, kMaskIndex };
enum ParamIndex : uint32_t { kKeepScalesIndex = 0, kSeedIndex, kCfgIndex, kTauIndex, kTopKIndex, kTopPIndex };
constexpr SamplingParamIndices kSamplingIndices = {kSeedIndex, kCfgIndex, kTauIndex, kTopKIndex, kTopPIndex};

const inf_port_desc* const kInputs[] = {&kTokensIn, &kPositive, &kNegative, &kMask};
const inf_port_desc* const kOutputs[] = {&kTokensOut};
const inf_param_desc* const kParams[] = {&kKeepScales, &kSeedParam, &kCfgParam, &kTauParam, &kTopKParam, &kTopPParam};

const inf_node_desc kDescriptor = {
    static_cast<uint32_t>(sizeof(inf_node_desc)), 1, 0, INF_NODE_FLAG_PROGRESS | INF_NODE_FLAG_PREVIEW,
    "org.infinode.sampler.edit", "Edit bit tokens", "infinode/sampling",
    "Keeps the coarse scales of given bit tokens (the composition) and regenerates the finer ones with a new "
    "prompt. A mask limits the change to a region: elsewhere the tokens follow the source at every scale.",
    4, 1, 6, kInputs, kOutputs, kParams};

// One cell's share of the pixels of an axis cut into equal cells: the first pixel it touches
// and each touched pixel's overlap, as a fraction of the cell.
struct AreaSpan {
  int64_t first = 0;
  std::vector<double> weights;
};

std::vector<AreaSpan> area_spans(int64_t pixels, int64_t cells) {
  const double size = static_cast<double>(pixels) / static_cast<double>(cells);
  std::vector<AreaSpan> spans(static_cast<size_t>(cells));
  for (int64_t c = 0; c < cells; ++c) {
    const double low = static_cast<double>(c) * size, high = static_cast<double>(c + 1) * size;
    AreaSpan& span = spans[static_cast<size_t>(c)];
    span.first = static_cast<int64_t>(std::floor(low));
    const auto end = std::min(pixels, static_cast<int64_t>(std::ceil(high)));
    for (int64_t p = span.first; p < end; ++p) {
      const double overlap = std::min(high, static_cast<double>(p + 1)) - std::max(low, static_cast<double>(p));
      span.weights.push_back(overlap / size);
    }
  }
  return spans;
}

// The keep flags of one scale: u8 [images, h * w], 1 where the mask's mean over the token's
// area (the mask stretched over the grid, partial pixels weighted by overlap) is below
// kRegenerateCoverage, so that token takes the source's bits.
Tensor keep_flags(const Tensor& mask, const ScaleGrid& grid, int64_t images) {
  const int64_t mask_w = mask.dim(1);
  const auto* coverage = mask.data_as<float>();
  const std::vector<AreaSpan> rows = area_spans(mask.dim(0), grid.h), columns = area_spans(mask_w, grid.w);
  Tensor flags = Tensor::host(DType::u8, {images, grid.tokens()});  // [B, h * w]
  auto* keep = flags.data_as<uint8_t>();
  for (int64_t y = 0; y < grid.h; ++y)
    for (int64_t x = 0; x < grid.w; ++x) {
      const AreaSpan& row = rows[static_cast<size_t>(y)];
      const AreaSpan& column = columns[static_cast<size_t>(x)];
      double mean = 0;
      for (size_t i = 0; i < row.weights.size(); ++i) {
        const float* line = coverage + (row.first + static_cast<int64_t>(i)) * mask_w + column.first;
        double along = 0;
        for (size_t j = 0; j < column.weights.size(); ++j) along += column.weights[j] * line[j];
        mean += row.weights[i] * along;
      }
      const uint8_t flag = mean < kRegenerateCoverage ? 1 : 0;
      for (int64_t b = 0; b < images; ++b) keep[b * grid.tokens() + y * grid.w + x] = flag;
    }
  return flags;
}

void run_edit(SharedModels& models, const inf_run_args* args) {
  const inf_api& api = *args->api;
  const InfinityConfig config = models.transformer_config();
  const BitTokens source = bit_tokens_from_value(api, args->inputs[kTokensIndex]);
  const int images = source.images();
  const auto stored = static_cast<int>(source.bits.size());
  const int scales = source.schedule.num_scales();
  if (source.bits_per_token() != config.bits_per_token)
    node_fail(INF_STATUS_INVALID_ARGUMENT, "tokens: the source has ", source.bits_per_token(),
              "-bit tokens but the transformer predicts ", config.bits_per_token, " bits per token");
  const auto keep = static_cast<int>(param_at(args, kKeepScalesIndex, INF_PARAM_INT).int_value);
  if (keep > stored)
    node_fail(INF_STATUS_INVALID_ARGUMENT, "keep_scales is ", keep, " but the source tokens hold only ", stored,
              " scale(s)");

  PromptFeatures positive = read_prompts(api, args->inputs[kPositiveIndex], "positive", config.text_channels);
  const auto prompts = static_cast<int>(positive.lengths.size());
  if (prompts != 1 && prompts != images)
    node_fail(INF_STATUS_INVALID_ARGUMENT, "positive: give one prompt for all images or one per image (", images,
              "); the embedding holds ", prompts);
  GenerateRequest request;
  request.prompts = repeat_prompts(positive, images / prompts);
  request.negative = read_negative(api, args->inputs[kNegativeIndex], config.text_channels, images, images, "image");
  const ModelDefaults defaults = models.manifest().defaults;
  apply_sampling_params(args, kSamplingIndices, defaults, request);

  const auto vae = models.vae();
  request.spatial_patch = models.spatial_patch();
  if (source.spatial_patch != request.spatial_patch)
    node_fail(INF_STATUS_INVALID_ARGUMENT, "tokens: the source's spatial patch is ", source.spatial_patch,
              " but this model's is ", request.spatial_patch);
  if (!source.tokenizer.empty() && source.tokenizer != vae->vae.identity())
    node_fail(INF_STATUS_INVALID_ARGUMENT, "tokens: they were made by tokenizer '", source.tokenizer,
              "', but this model's VAE is '", vae->vae.identity(), "'");
  request.schedule = source.schedule;

  inf_value* const mask_value = args->inputs[kMaskIndex];
  if (mask_value == nullptr) {
    request.forced_bits.assign(source.bits.begin(), source.bits.begin() + keep);
  } else {
    // Outside the mask every scale follows the source, so every scale must be there.
    if (stored < scales)
      node_fail(INF_STATUS_INVALID_ARGUMENT, "mask: the source tokens hold ", stored, " of their ", scales,
                " scales; a masked edit needs all of them (tokens outside the mask follow the source at every scale)");
    const Tensor mask = mask_from_value(api, mask_value);  // [H, W] coverage
    request.forced_bits = source.bits;
    request.forced_keep.resize(static_cast<size_t>(scales));  // undefined below `keep`: the whole scale is kept
    for (int k = keep; k < scales; ++k)
      request.forced_keep[static_cast<size_t>(k)] =
          keep_flags(mask, source.schedule.grids[static_cast<size_t>(k)], images);
  }
  const std::string plan = "sampler.edit: " + std::to_string(images) + " image(s), keeping " + std::to_string(keep) +
                           " of " + std::to_string(scales) + " scales" + (mask_value != nullptr ? ", masked" : "");
  api.run_log(args->context, INF_LOG_INFO, plan.c_str());

  BitTokens edited;
  edited.schedule = source.schedule;
  edited.spatial_patch = request.spatial_patch;
  edited.tokenizer = vae->vae.identity();
  const auto transformer = models.transformer();
  edited.bits = run_sampling_job(models, args, transformer->model, vae->vae, std::move(request)).bits;
  args->outputs[0] = bit_tokens_to_value(api, edited);
}

}  // namespace

inf_status register_sampler_edit(const inf_api* api, inf_engine* engine, const std::shared_ptr<SharedModels>& models) {
  return register_model_node(api, engine, kDescriptor, run_edit, models);
}

}  // namespace inf::nodes
