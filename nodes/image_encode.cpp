// org.infinode.image.encode: an image to multi-scale bit tokens, as `infinode encode` does it:
// the schedule of the aspect template nearest the image, the image resized to cover the
// schedule's pixel size and centre-cropped (the reference's preprocessing), the BSQ-VAE
// encoder, the multi-scale bitwise quantizer on the VAE's grid, and the bits grouped into
// transformer tokens (spatial patch). The tokens carry the VAE's identity, so image.decode and
// the sampler refuse them with another VAE.
#include <mutex>
#include <string>

#include "builtin_nodes.h"
#include "image/preprocess.h"
#include "image_params.h"
#include "model_node.h"
#include "provider_support.h"
#include "schedule_choice.h"
#include "shared_models.h"
#include "tokens/bit_tokens.h"
#include "value_conversions.h"

namespace inf::nodes {
namespace {

constexpr uint32_t kPortSize = static_cast<uint32_t>(sizeof(inf_port_desc));
constexpr uint32_t kParamSize = static_cast<uint32_t>(sizeof(inf_param_desc));

const inf_port_desc kImageIn = {kPortSize, INF_TYPE_IMAGE, "image", "Image",
                                "Any size and format; alpha is ignored.", 0};
const inf_port_desc kTokensOut = {kPortSize, INF_TYPE_BIT_TOKENS, "tokens", "Bit tokens",
                                  "Every scale of the image's bits, for sampler.edit, tokens.truncate or image.decode.",
                                  0};
const inf_param_desc kResolution = {
    kParamSize, INF_PARAM_ENUM, "resolution", "Resolution",
    "Token grid size. auto: the model's default schedule, else its default resolution, else the key whose pixel "
    "count is nearest the image's. The image is resized to cover that size and centre-cropped.",
    0, kResolutionChoiceCount, kResolutionChoices, 0, 0, 0, 0.0, 0.0, 0.0, nullptr};
enum ParamIndex : uint32_t { kResolutionIndex = 0, kTileIndex = 1, kOverlapIndex = 2 };

const inf_port_desc* const kInputs[] = {&kImageIn};
const inf_port_desc* const kOutputs[] = {&kTokensOut};
const inf_param_desc* const kParams[] = {&kResolution, &kTileParam, &kOverlapParam};

const inf_node_desc kDescriptor = {
    static_cast<uint32_t>(sizeof(inf_node_desc)), 1, 0, 0, "org.infinode.image.encode", "Encode image",
    "infinode/image",
    "Turns an image into multi-scale bit tokens through the BSQ-VAE encoder and quantizer (image -> tokens, for "
    "editing).",
    1, 1, 3, kInputs, kOutputs, kParams};

void run(SharedModels& models, const inf_run_args* args) {
  const inf_api& api = *args->api;
  const Tensor image = image_from_value(api, args->inputs[0]);  // [1, 3, H, W] in [-1, 1]
  const auto height = static_cast<int>(image.dim(2)), width = static_cast<int>(image.dim(3));
  const std::string resolution = param_at(args, kResolutionIndex, INF_PARAM_ENUM).string_value;
  const VaeTiling tiling = tiling_from_params(args, kTileIndex, kOverlapIndex);

  const auto vae = models.vae();
  const int patch = token_spatial_patch(models);
  const int pixels_per_token = vae->vae.config().patch * patch;
  const ScaleSchedule schedule = choose_schedule(models.manifest().defaults, resolution, width, height, pixels_per_token);
  const int target_w = schedule.image_width(pixels_per_token), target_h = schedule.image_height(pixels_per_token);
  // Any image of at least 1x1 can be fitted (it is upscaled); fit_to_size refuses only aspect
  // ratios so extreme that the resized side overflows, which the ABI's size limit rules out.
  const FitResult fitted = fit_to_size(image.reshape({3, height, width}), target_w, target_h);  // [3, th, tw]
  const std::string note = "image.encode: " + fitted.describe() + "; schedule " + schedule.describe();
  api.run_log(args->context, INF_LOG_INFO, note.c_str());

  VaeTokens quantized;
  {
    std::lock_guard<std::mutex> lock(models.compute_mutex());
    const Tensor latent = vae->vae.encode(fitted.rgb.reshape({1, 3, target_h, target_w}), tiling);  // [1, d, H/s, W/s]
    quantized = vae->vae.quantize(latent, vae_schedule(schedule, patch));  // per scale [1, (p h_k)(p w_k), d]
  }
  BitTokens tokens;
  tokens.schedule = schedule;
  tokens.spatial_patch = patch;
  tokens.tokenizer = vae->vae.identity();
  for (int k = 0; k < schedule.num_scales(); ++k) {
    const ScaleGrid grid = schedule.grids[static_cast<size_t>(k)];
    tokens.bits.push_back(patchify_bits(quantized.bits[static_cast<size_t>(k)], grid.h, grid.w, patch));  // [1, h_k w_k, p*p*d]
  }
  args->outputs[0] = bit_tokens_to_value(api, tokens);
}

}  // namespace

inf_status register_image_encode(const inf_api* api, inf_engine* engine, const std::shared_ptr<SharedModels>& models) {
  return register_model_node(api, engine, kDescriptor, run, models);
}

}  // namespace inf::nodes
