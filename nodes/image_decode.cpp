// org.infinode.image.decode: bit tokens to an image through the BSQ-VAE decoder, as `infinode
// decode` does it: each scale's bits ungrouped onto the VAE's grid (spatial patch), their codes
// upsampled and summed, and the sum decoded. Decoding only the first K scales shows the coarse
// picture that next-scale prediction has made by then.
#include <mutex>
#include <string>
#include <vector>

#include "builtin_nodes.h"
#include "image_params.h"
#include "model/infinity/bit_sampler.h"
#include "model_node.h"
#include "provider_support.h"
#include "shared_models.h"
#include "tokens/bit_tokens.h"
#include "value_conversions.h"

namespace inf::nodes {
namespace {

constexpr uint32_t kPortSize = static_cast<uint32_t>(sizeof(inf_port_desc));
constexpr uint32_t kParamSize = static_cast<uint32_t>(sizeof(inf_param_desc));

const inf_port_desc kTokensIn = {kPortSize, INF_TYPE_BIT_TOKENS, "tokens", "Bit tokens",
                                 "Bit tokens of one or more images (from a sampler or image.encode).", 0};
const inf_port_desc kImageOut = {kPortSize, INF_TYPE_IMAGE, "image", "Image", "RGB, sRGB, f32.", 0};
const inf_param_desc kImageIndex = {
    kParamSize, INF_PARAM_INT, "image_index", "Image index",
    "Which image of a batch of bit tokens to decode (0 = the first).",
    0, 0, nullptr, 0, 4095, 0, 0.0, 0.0, 0.0, nullptr};
const inf_param_desc kScales = {
    kParamSize, INF_PARAM_INT, "scales", "Scales",
    "Decode only the first K scales (a coarse picture). 0: every scale the tokens hold.",
    0, 0, nullptr, 0, 64, 0, 0.0, 0.0, 0.0, nullptr};
enum ParamIndex : uint32_t { kImageIndexIndex = 0, kScalesIndex = 1, kTileIndex = 2, kOverlapIndex = 3 };

const inf_port_desc* const kInputs[] = {&kTokensIn};
const inf_port_desc* const kOutputs[] = {&kImageOut};
const inf_param_desc* const kParams[] = {&kImageIndex, &kScales, &kTileParam, &kOverlapParam};

const inf_node_desc kDescriptor = {
    static_cast<uint32_t>(sizeof(inf_node_desc)), 1, 0, 0, "org.infinode.image.decode", "Decode image",
    "infinode/image", "Turns bit tokens into an image through the BSQ-VAE decoder (tokens -> image).",
    1, 1, 4, kInputs, kOutputs, kParams};

// Tokens made by another VAE (or grouped for another bit width) would decode to noise.
void check_fits_vae(const BitTokens& tokens, const BsqVae& vae) {
  if (!tokens.tokenizer.empty() && tokens.tokenizer != vae.identity())
    node_fail(INF_STATUS_INVALID_DATA, "the tokens were made by tokenizer '", tokens.tokenizer,
              "', but the engine's VAE is '", vae.identity(), "'");
  const int patch = tokens.spatial_patch;
  if (tokens.bits_per_token() != vae.config().bits * patch * patch)
    node_fail(INF_STATUS_INVALID_DATA, "the tokens have ", tokens.bits_per_token(), " bits per token (spatial patch ",
              patch, "), but the engine's VAE takes ", vae.config().bits, " bits per latent, so ",
              vae.config().bits * patch * patch, " per token");
}

void run(SharedModels& models, const inf_run_args* args) {
  const inf_api& api = *args->api;
  const BitTokens tokens = bit_tokens_from_value(api, args->inputs[0]);
  const int64_t index = param_at(args, kImageIndexIndex, INF_PARAM_INT).int_value;
  if (index >= tokens.images())
    node_fail(INF_STATUS_INVALID_ARGUMENT, "image_index ", index, " is out of range: the tokens hold ", tokens.images(),
              tokens.images() == 1 ? " image" : " images");
  const auto stored = static_cast<int>(tokens.bits.size());
  const auto requested = static_cast<int>(param_at(args, kScalesIndex, INF_PARAM_INT).int_value);
  if (requested > stored)
    node_fail(INF_STATUS_INVALID_ARGUMENT, "scales ", requested, " is more than the ", stored,
              " scales the tokens hold");
  const int scales = requested == 0 ? stored : requested;
  const VaeTiling tiling = tiling_from_params(args, kTileIndex, kOverlapIndex);

  const auto vae = models.vae();
  check_fits_vae(tokens, vae->vae);
  const int patch = tokens.spatial_patch;
  std::vector<Tensor> latent_bits;  // per scale [1, (p h_k)(p w_k), d]: the chosen image only
  for (int k = 0; k < scales; ++k) {
    const ScaleGrid grid = tokens.schedule.grids[static_cast<size_t>(k)];
    latent_bits.push_back(unpatchify_bits(tokens.bits[static_cast<size_t>(k)].narrow(0, index, 1), grid.h, grid.w, patch));
  }
  const Tensor latent = summed_codes_from_bits(latent_bits, vae_schedule(tokens.schedule, patch));  // [1, d, pH, pW] host
  VaeImage image;
  {
    std::lock_guard<std::mutex> lock(models.compute_mutex());
    image = vae->vae.decode(latent, tiling);  // [1, 3, H, W] in [-1, 1]
  }
  args->outputs[0] = image_to_value(api, image.pixels, 0);
}

}  // namespace

inf_status register_image_decode(const inf_api* api, inf_engine* engine, const std::shared_ptr<SharedModels>& models) {
  return register_model_node(api, engine, kDescriptor, run, models);
}

}  // namespace inf::nodes
