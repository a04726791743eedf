#include "image_values.h"

#include <algorithm>
#include <vector>

#include "common/error.h"
#include "image/image_io.h"

namespace inf::cli {
namespace {

// A tight, interleaved f32 sRGB descriptor over `pixels` ([H][W][channels]).
inf_image_desc f32_desc(uint32_t width, uint32_t height, inf_channel_layout channels, float* pixels) {
  inf_image_desc desc = INF_IMAGE_DESC_INIT;
  desc.width = width;
  desc.height = height;
  desc.scalar = INF_SCALAR_F32;
  desc.channels = channels;
  desc.transfer = INF_TRANSFER_SRGB;
  desc.alpha = INF_ALPHA_STRAIGHT;
  desc.pixel_stride = static_cast<int64_t>(sizeof(float)) * static_cast<int64_t>(channels);
  desc.row_stride = desc.pixel_stride * width;
  desc.data = pixels;
  return desc;
}

ValueRef create_value(inf_status (*create)(const inf_image_desc*, inf_value**), const inf_image_desc& desc,
                      const std::string& path) {
  inf_value* value = nullptr;
  const inf_status status = create(&desc, &value);
  if (status != INF_STATUS_OK) {
    const char* message = abi().last_error();
    fail(ErrorKind::invalid_argument, path, ": ", message[0] != '\0' ? message : abi().status_name(status));
  }
  return ValueRef(value);
}

}  // namespace

ValueRef image_value_from_file(const std::string& path) {
  const LoadedImage image = read_image(path);
  const auto width = static_cast<size_t>(image.width()), height = static_cast<size_t>(image.height());
  const size_t plane = width * height;
  const float* rgb = image.rgb.data_as<float>();  // [3, H, W] in [-1, 1]
  std::vector<float> pixels(plane * 3);            // [H, W, 3] in [0, 1]
  for (size_t p = 0; p < plane; ++p)
    for (size_t c = 0; c < 3; ++c) pixels[p * 3 + c] = (rgb[c * plane + p] + 1.0f) * 0.5f;
  return create_value(abi().value_create_image,
                      f32_desc(static_cast<uint32_t>(width), static_cast<uint32_t>(height), INF_CHANNELS_RGB, pixels.data()),
                      path);
}

ValueRef mask_value_from_file(const std::string& path) {
  const LoadedImage image = read_image(path);
  const auto width = static_cast<size_t>(image.width()), height = static_cast<size_t>(image.height());
  const size_t plane = width * height;
  std::vector<float> coverage(plane);  // [H, W] in [0, 1]
  const float* alpha = image.alpha.defined() ? image.alpha.data_as<float>() : nullptr;
  // An alpha channel that is opaque everywhere says nothing: the grey level is the mask then.
  const bool use_alpha = alpha != nullptr && std::any_of(alpha, alpha + plane, [](float a) { return a < 1.0f; });
  if (use_alpha) {
    std::copy(alpha, alpha + plane, coverage.begin());
  } else {
    const float* rgb = image.rgb.data_as<float>();  // [3, H, W] in [-1, 1]
    for (size_t p = 0; p < plane; ++p) {
      // Rec. 709 luma of the encoded values: a grey file (R = G = B) keeps its level.
      const float luma = 0.2126f * rgb[p] + 0.7152f * rgb[plane + p] + 0.0722f * rgb[2 * plane + p];
      coverage[p] = std::clamp((luma + 1.0f) * 0.5f, 0.0f, 1.0f);
    }
  }
  return create_value(abi().value_create_mask,
                      f32_desc(static_cast<uint32_t>(width), static_cast<uint32_t>(height), INF_CHANNELS_GRAY,
                               coverage.data()),
                      path);
}

Tensor model_pixels_from_value(inf_value* image) {
  inf_image_desc info = INF_IMAGE_DESC_INIT;
  inf_status status = abi().value_get_image_info(image, &info);
  if (status == INF_STATUS_OK) {
    const size_t plane = size_t{info.width} * info.height;
    std::vector<float> pixels(plane * 3);  // [H, W, 3] in [0, 1], sRGB
    const inf_image_desc destination = f32_desc(info.width, info.height, INF_CHANNELS_RGB, pixels.data());
    status = abi().value_read_image(image, &destination);
    if (status == INF_STATUS_OK) {
      Tensor rgb = Tensor::host(DType::f32, {3, info.height, info.width});  // [3, H, W] in [-1, 1]
      float* planes = rgb.data_as<float>();
      for (size_t p = 0; p < plane; ++p)
        for (size_t c = 0; c < 3; ++c) planes[c * plane + p] = pixels[p * 3 + c] * 2.0f - 1.0f;
      return rgb;
    }
  }
  const char* message = abi().value_last_error(image);
  fail(ErrorKind::internal, "image value: ", message[0] != '\0' ? message : abi().status_name(status));
}

Tensor model_pixels_from_desc(const inf_image_desc& image) {
  const ValueRef value = create_value(abi().value_create_image, image, "preview image");
  return model_pixels_from_value(value.get());
}

}  // namespace inf::cli
