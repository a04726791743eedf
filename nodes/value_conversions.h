// Between the ABI's values and the core's tensors, for the built-in nodes. Everything goes
// through the function table (value_get_*, value_create_*, value_read_image), as a third-party
// node would do it; failures throw NodeFailure with the library's message.
#pragma once

#include <vector>

#include "infinode.h"
#include "model/infinity/transformer.h"
#include "tokens/bit_tokens.h"

namespace inf::nodes {

// BIT_TOKENS -> BitTokens with host copies of the stored scales.
BitTokens bit_tokens_from_value(const inf_api& api, inf_value* value);
// A new BIT_TOKENS value (one reference, for args->outputs).
inf_value* bit_tokens_to_value(const inf_api& api, const BitTokens& tokens);

// TEXT_EMBEDDING -> the prompts it holds ([sum of lengths, C] f32 host plus lengths).
PromptFeatures prompt_features_from_value(const inf_api& api, inf_value* value);
inf_value* prompt_features_to_value(const inf_api& api, const PromptFeatures& prompts);

// IMAGE -> [1, 3, H, W] f32 host in the model's range [-1, 1], sRGB-encoded (what the VAE
// encoder takes). Alpha is dropped (composited over nothing: straight colour is kept).
Tensor image_from_value(const inf_api& api, inf_value* value);
// Image `index` of [B, 3, H, W] f32 in [-1, 1] (a VAE decoder's output) -> a new IMAGE value,
// RGB, sRGB, f32 0..1.
inf_value* image_to_value(const inf_api& api, const Tensor& model_pixels, int64_t index);
// The host-side form of image `index` of such a tensor: interleaved RGB in [0, 1] (sRGB-encoded),
// and a descriptor of it (RGB, sRGB, f32, tight strides) for value_create_image or run_preview.
struct RgbPixels {
  std::vector<float> values;  // [H, W, 3]
  inf_image_desc desc;        // points into values: keep the struct alive while it is used
  RgbPixels(const Tensor& model_pixels, int64_t index);
  RgbPixels(const RgbPixels&) = delete;
  RgbPixels& operator=(const RgbPixels&) = delete;
};
// MASK -> [H, W] f32 host coverage in [0, 1].
Tensor mask_from_value(const inf_api& api, inf_value* value);

}  // namespace inf::nodes
