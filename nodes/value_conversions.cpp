#include "value_conversions.h"

#include <cstring>
#include <vector>

#include "backend/backend.h"
#include "provider_support.h"

namespace inf::nodes {
namespace {

// Reads an IMAGE or MASK into a tight f32 buffer of `layout`, sRGB, straight alpha.
std::vector<float> read_pixels(const inf_api& api, inf_value* value, inf_channel_layout layout, uint32_t& width,
                               uint32_t& height) {
  inf_image_desc info = INF_IMAGE_DESC_INIT;
  check_call(api, api.value_get_image_info(value, &info), "reading the image's size");
  width = info.width;
  height = info.height;
  const auto channels = static_cast<size_t>(layout);
  std::vector<float> pixels(size_t{width} * height * channels);
  inf_image_desc destination = INF_IMAGE_DESC_INIT;
  destination.width = width;
  destination.height = height;
  destination.scalar = INF_SCALAR_F32;
  destination.channels = layout;
  destination.transfer = INF_TRANSFER_SRGB;
  destination.alpha = INF_ALPHA_STRAIGHT;
  destination.pixel_stride = static_cast<int64_t>(channels * sizeof(float));
  destination.row_stride = destination.pixel_stride * width;
  destination.data = pixels.data();
  check_call(api, api.value_read_image(value, &destination), "reading the image's pixels");
  return pixels;
}

}  // namespace

BitTokens bit_tokens_from_value(const inf_api& api, inf_value* value) {
  inf_bit_tokens_desc desc = INF_BIT_TOKENS_DESC_INIT;
  check_call(api, api.value_get_bit_tokens(value, &desc), "reading the bit tokens");
  BitTokens tokens;
  std::vector<ScaleGrid> grids;
  for (uint32_t k = 0; k < desc.schedule_scales; ++k)
    grids.push_back({static_cast<int>(desc.grids[k].height), static_cast<int>(desc.grids[k].width)});
  tokens.schedule = schedule_from_grids(std::move(grids), {static_cast<int>(desc.rope_grid.height),
                                                           static_cast<int>(desc.rope_grid.width)});
  tokens.spatial_patch = static_cast<int>(desc.spatial_patch);
  tokens.tokenizer = desc.tokenizer == nullptr ? "" : desc.tokenizer;
  for (uint32_t k = 0; k < desc.stored_scales; ++k) {
    Tensor scale = Tensor::host(DType::u8, {desc.images, tokens.schedule.tokens(static_cast<int>(k)),
                                            desc.bits_per_token});  // [B, h_k * w_k, d]
    std::memcpy(scale.data(), desc.bits[k], scale.nbytes());
    tokens.bits.push_back(std::move(scale));
  }
  return tokens;
}

inf_value* bit_tokens_to_value(const inf_api& api, const BitTokens& tokens) {
  std::vector<inf_grid> grids;
  for (const ScaleGrid& grid : tokens.schedule.grids)
    grids.push_back({static_cast<uint32_t>(grid.h), static_cast<uint32_t>(grid.w)});
  std::vector<const uint8_t*> scales;
  std::vector<Tensor> contiguous;  // keeps copies of strided scales alive until the value is made
  for (const Tensor& scale : tokens.bits) {
    contiguous.push_back(packed_host_copy(scale));
    scales.push_back(static_cast<const uint8_t*>(contiguous.back().data()));
  }
  inf_bit_tokens_desc desc = INF_BIT_TOKENS_DESC_INIT;
  desc.images = static_cast<uint32_t>(tokens.images());
  desc.bits_per_token = static_cast<uint32_t>(tokens.bits_per_token());
  desc.spatial_patch = static_cast<uint32_t>(tokens.spatial_patch);
  desc.schedule_scales = static_cast<uint32_t>(grids.size());
  desc.stored_scales = static_cast<uint32_t>(scales.size());
  desc.grids = grids.data();
  desc.rope_grid = {static_cast<uint32_t>(tokens.schedule.rope_grid.h), static_cast<uint32_t>(tokens.schedule.rope_grid.w)};
  desc.bits = scales.data();
  desc.tokenizer = tokens.tokenizer.c_str();
  inf_value* value = nullptr;
  check_call(api, api.value_create_bit_tokens(&desc, &value), "creating the bit tokens");
  return value;
}

PromptFeatures prompt_features_from_value(const inf_api& api, inf_value* value) {
  inf_text_embedding_desc desc = INF_TEXT_EMBEDDING_DESC_INIT;
  check_call(api, api.value_get_text_embedding(value, &desc), "reading the text embedding");
  PromptFeatures prompts;
  prompts.features = Tensor::host(DType::f32, {desc.tokens, desc.channels});  // [tokens, C]
  std::memcpy(prompts.features.data(), desc.data, prompts.features.nbytes());
  if (desc.prompts <= 1) {
    prompts.lengths = {static_cast<int32_t>(desc.tokens)};
  } else {
    for (uint32_t p = 0; p < desc.prompts; ++p) prompts.lengths.push_back(static_cast<int32_t>(desc.prompt_tokens[p]));
  }
  return prompts;
}

inf_value* prompt_features_to_value(const inf_api& api, const PromptFeatures& prompts) {
  const Tensor features = packed_host_copy(prompts.features);
  std::vector<uint32_t> lengths(prompts.lengths.begin(), prompts.lengths.end());
  inf_text_embedding_desc desc = INF_TEXT_EMBEDDING_DESC_INIT;
  desc.tokens = static_cast<uint32_t>(features.dim(0));
  desc.channels = static_cast<uint32_t>(features.dim(1));
  desc.data = static_cast<const float*>(features.data());
  desc.prompts = static_cast<uint32_t>(lengths.size());
  desc.prompt_tokens = lengths.data();
  inf_value* value = nullptr;
  check_call(api, api.value_create_text_embedding(&desc, &value), "creating the text embedding");
  return value;
}

Tensor image_from_value(const inf_api& api, inf_value* value) {
  uint32_t width = 0, height = 0;
  const std::vector<float> rgb = read_pixels(api, value, INF_CHANNELS_RGB, width, height);
  const int64_t plane = int64_t{width} * height;
  Tensor image = Tensor::host(DType::f32, {1, 3, height, width});  // [1, 3, H, W] in [-1, 1]
  auto* out = static_cast<float*>(image.data());
  for (int64_t p = 0; p < plane; ++p)
    for (int64_t c = 0; c < 3; ++c) out[c * plane + p] = rgb[static_cast<size_t>(p * 3 + c)] * 2.0f - 1.0f;
  return image;
}

RgbPixels::RgbPixels(const Tensor& model_pixels, int64_t index) : desc(INF_IMAGE_DESC_INIT) {
  const Tensor image = packed_host_copy(model_pixels.narrow(0, index, 1));  // [1, 3, H, W] in [-1, 1]
  const int64_t height = image.dim(2), width = image.dim(3), plane = height * width;
  const auto* in = static_cast<const float*>(image.data());
  values.resize(static_cast<size_t>(plane * 3));
  for (int64_t p = 0; p < plane; ++p)
    for (int64_t c = 0; c < 3; ++c) {
      const float unit = (in[c * plane + p] + 1.0f) * 0.5f;
      values[static_cast<size_t>(p * 3 + c)] = unit < 0.0f ? 0.0f : (unit > 1.0f ? 1.0f : unit);
    }
  desc.width = static_cast<uint32_t>(width);
  desc.height = static_cast<uint32_t>(height);
  desc.scalar = INF_SCALAR_F32;
  desc.channels = INF_CHANNELS_RGB;
  desc.transfer = INF_TRANSFER_SRGB;
  desc.pixel_stride = 3 * static_cast<int64_t>(sizeof(float));
  desc.row_stride = desc.pixel_stride * width;
  desc.data = values.data();
}

inf_value* image_to_value(const inf_api& api, const Tensor& model_pixels, int64_t index) {
  const RgbPixels rgb(model_pixels, index);
  inf_value* value = nullptr;
  check_call(api, api.value_create_image(&rgb.desc, &value), "creating the decoded image");
  return value;
}

Tensor mask_from_value(const inf_api& api, inf_value* value) {
  uint32_t width = 0, height = 0;
  const std::vector<float> coverage = read_pixels(api, value, INF_CHANNELS_GRAY, width, height);
  Tensor mask = Tensor::host(DType::f32, {height, width});  // [H, W] in [0, 1]
  std::memcpy(mask.data(), coverage.data(), mask.nbytes());
  return mask;
}

}  // namespace inf::nodes
