#include "images.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "api_functions.h"
#include "guard.h"
#include "tensor/dtype.h"
#include "values.h"

namespace inf::abi {
namespace {

// Bounds that keep every offset computation far inside int64 and reject absurd strides early:
// (16384 - 1) * 2^32 and (16384 - 1) * 2^46 both fit with room to spare.
constexpr int64_t kMaxPixelStride = int64_t{1} << 32;
constexpr int64_t kMaxRowStride = int64_t{1} << 46;

size_t scalar_bytes(inf_scalar_type scalar) {
  switch (scalar) {
    case INF_SCALAR_U8: return 1;
    case INF_SCALAR_U16: return 2;
    case INF_SCALAR_F16: return 2;
    case INF_SCALAR_F32: return 4;
    case INF_SCALAR_FORCE32: break;
  }
  return 0;
}

// Host buffers carry no alignment promise, so every access goes through memcpy.
float read_scalar(inf_scalar_type scalar, const unsigned char* at) {
  switch (scalar) {
    case INF_SCALAR_U8: return static_cast<float>(*at) / 255.0f;
    case INF_SCALAR_U16: {
      uint16_t value;
      std::memcpy(&value, at, 2);
      return static_cast<float>(value) / 65535.0f;
    }
    case INF_SCALAR_F16: {
      uint16_t value;
      std::memcpy(&value, at, 2);
      return f16_to_f32(value);
    }
    default: {
      float value;
      std::memcpy(&value, at, 4);
      return value;
    }
  }
}

void write_scalar(inf_scalar_type scalar, unsigned char* at, float value) {
  const float unit = std::isnan(value) ? 0.0f : std::clamp(value, 0.0f, 1.0f);
  switch (scalar) {
    case INF_SCALAR_U8: *at = static_cast<unsigned char>(std::lround(unit * 255.0f)); break;
    case INF_SCALAR_U16: {
      const auto stored = static_cast<uint16_t>(std::lround(unit * 65535.0f));
      std::memcpy(at, &stored, 2);
      break;
    }
    case INF_SCALAR_F16: {
      const uint16_t stored = f32_to_f16(value);
      std::memcpy(at, &stored, 2);
      break;
    }
    default: std::memcpy(at, &value, 4);
  }
}

float srgb_to_linear(float v) {
  return v <= 0.04045f ? v / 12.92f : std::pow((v + 0.055f) / 1.055f, 2.4f);
}

float linear_to_srgb(float v) {
  return v <= 0.0031308f ? v * 12.92f : 1.055f * std::pow(v, 1.0f / 2.4f) - 0.055f;
}

unsigned char* pixel_at(const CheckedImage& image, uint32_t x, uint32_t y) {
  return image.data + static_cast<int64_t>(y) * image.row_stride + static_cast<int64_t>(x) * image.pixel_stride;
}

// Reads pixel (x, y) as up to 4 floats, straight alpha.
void read_pixel(const CheckedImage& image, uint32_t x, uint32_t y, float* out) {
  const unsigned char* at = pixel_at(image, x, y);
  const size_t step = scalar_bytes(image.scalar);
  for (uint32_t c = 0; c < image.channels; ++c) out[c] = read_scalar(image.scalar, at + c * step);
  if (image.channels == 4 && image.alpha == INF_ALPHA_PREMULTIPLIED) {
    const float alpha = out[3];
    for (int c = 0; c < 3; ++c) out[c] = alpha > 0.0f ? out[c] / alpha : 0.0f;
  }
}

std::shared_ptr<const ImageValue> resolve_pixels(const inf_value* value) {
  const auto object = resolve_value(value, INF_TYPE_NONE, "value");
  if (object->type() != INF_TYPE_IMAGE && object->type() != INF_TYPE_MASK)
    api_fail(INF_STATUS_TYPE_MISMATCH, "value holds ", value_type_name(object->type()), ", not IMAGE or MASK");
  return std::static_pointer_cast<const ImageValue>(object);
}

template <typename Body>
inf_status create_pixels(inf_value** out_value, Body&& make) noexcept {
  return guarded(nullptr, [&] {
    require_out(out_value, "out_value");
    *out_value = nullptr;
    *out_value = mint_value(make());
    return INF_STATUS_OK;
  });
}

}  // namespace

CheckedImage check_image(const inf_image_desc* desc, const char* what) {
  const inf_image_desc image = read_struct(desc, what);
  if (image.width == 0 || image.height == 0 || image.width > INF_IMAGE_MAX_SIDE || image.height > INF_IMAGE_MAX_SIDE)
    api_fail(INF_STATUS_INVALID_ARGUMENT, what, " is ", image.width, "x", image.height, "; each side must be 1..",
             INF_IMAGE_MAX_SIDE);
  const size_t element = scalar_bytes(image.scalar);
  if (element == 0) api_fail(INF_STATUS_INVALID_ARGUMENT, what, "->scalar ", static_cast<int64_t>(image.scalar), " is not an inf_scalar_type");
  if (image.channels != INF_CHANNELS_GRAY && image.channels != INF_CHANNELS_RGB && image.channels != INF_CHANNELS_RGBA)
    api_fail(INF_STATUS_INVALID_ARGUMENT, what, "->channels ", static_cast<int64_t>(image.channels), " is not GRAY, RGB or RGBA");
  if (image.transfer != INF_TRANSFER_SRGB && image.transfer != INF_TRANSFER_LINEAR)
    api_fail(INF_STATUS_INVALID_ARGUMENT, what, "->transfer ", static_cast<int64_t>(image.transfer), " is not SRGB or LINEAR");
  if (image.alpha != INF_ALPHA_STRAIGHT && image.alpha != INF_ALPHA_PREMULTIPLIED)
    api_fail(INF_STATUS_INVALID_ARGUMENT, what, "->alpha ", static_cast<int64_t>(image.alpha), " is not STRAIGHT or PREMULTIPLIED");
  if (image.reserved != 0) api_fail(INF_STATUS_INVALID_ARGUMENT, what, "->reserved must be 0");
  if (image.data == nullptr) api_fail(INF_STATUS_INVALID_ARGUMENT, what, "->data is NULL");
  const auto pixel_bytes = static_cast<int64_t>(image.channels * element);
  if (image.pixel_stride < pixel_bytes || image.pixel_stride > kMaxPixelStride)
    api_fail(INF_STATUS_INVALID_ARGUMENT, what, "->pixel_stride ", image.pixel_stride, " is outside [", pixel_bytes,
             ", ", kMaxPixelStride, "] (", image.channels, " channels of ", element, " bytes)");
  if (image.row_stride < -kMaxRowStride || image.row_stride > kMaxRowStride)
    api_fail(INF_STATUS_INVALID_ARGUMENT, what, "->row_stride ", image.row_stride, " is absurdly large");
  const int64_t row_bytes = (static_cast<int64_t>(image.width) - 1) * image.pixel_stride + pixel_bytes;
  const int64_t row_step = image.row_stride < 0 ? -image.row_stride : image.row_stride;
  if (row_step < row_bytes)
    api_fail(INF_STATUS_INVALID_ARGUMENT, what, "->row_stride ", image.row_stride, " is smaller than a row (",
             row_bytes, " bytes): rows would overlap");
  // The buffer must not wrap around the address space in either direction.
  const auto address = reinterpret_cast<uintptr_t>(image.data);
  const auto down = static_cast<uintptr_t>((static_cast<int64_t>(image.height) - 1) * row_step);
  const bool wraps = image.row_stride >= 0 ? UINTPTR_MAX - address < down + static_cast<uintptr_t>(row_bytes)
                                           : address < down || UINTPTR_MAX - address < static_cast<uintptr_t>(row_bytes);
  if (wraps) api_fail(INF_STATUS_INVALID_ARGUMENT, what, " spans past the end of the address space");
  CheckedImage checked;
  checked.width = image.width;
  checked.height = image.height;
  checked.channels = static_cast<uint32_t>(image.channels);
  checked.scalar = image.scalar;
  checked.transfer = image.transfer;
  checked.alpha = image.alpha;
  checked.pixel_stride = image.pixel_stride;
  checked.row_stride = image.row_stride;
  checked.data = static_cast<unsigned char*>(image.data);
  return checked;
}

inf_status value_create_image(const inf_image_desc* image, inf_value** out_value) noexcept {
  return create_pixels(out_value, [&] {
    const CheckedImage source = check_image(image, "image");
    std::vector<float> pixels(size_t{source.width} * source.height * source.channels);  // [H, W, C]
    float* out = pixels.data();
    for (uint32_t y = 0; y < source.height; ++y)
      for (uint32_t x = 0; x < source.width; ++x, out += source.channels) read_pixel(source, x, y, out);
    return std::make_shared<const ImageValue>(INF_TYPE_IMAGE, source.width, source.height, source.channels,
                                              source.transfer, std::move(pixels));
  });
}

inf_status value_create_mask(const inf_image_desc* image, inf_value** out_value) noexcept {
  return create_pixels(out_value, [&] {
    const CheckedImage source = check_image(image, "image");
    if (source.channels == INF_CHANNELS_RGB)
      api_fail(INF_STATUS_INVALID_ARGUMENT, "a mask comes from a GRAY image or an RGBA image's alpha, not RGB");
    std::vector<float> coverage(size_t{source.width} * source.height);  // [H, W]
    float pixel[4];
    for (uint32_t y = 0; y < source.height; ++y)
      for (uint32_t x = 0; x < source.width; ++x) {
        read_pixel(source, x, y, pixel);
        const float value = pixel[source.channels - 1];
        coverage[size_t{y} * source.width + x] = std::isnan(value) ? 0.0f : std::clamp(value, 0.0f, 1.0f);
      }
    return std::make_shared<const ImageValue>(INF_TYPE_MASK, source.width, source.height, 1u, INF_TRANSFER_LINEAR,
                                              std::move(coverage));
  });
}

inf_status value_get_image_info(inf_value* value, inf_image_desc* out_desc) noexcept {
  return guarded(value, [&] {
    const auto image = resolve_pixels(value);
    const uint32_t size = check_out_struct(out_desc, "out_desc");
    inf_image_desc info = INF_IMAGE_DESC_INIT;
    info.width = image->width;
    info.height = image->height;
    info.scalar = INF_SCALAR_F32;
    info.channels = static_cast<inf_channel_layout>(image->channels);
    info.transfer = image->transfer;
    info.alpha = INF_ALPHA_STRAIGHT;
    info.pixel_stride = static_cast<int64_t>(image->channels) * 4;
    info.row_stride = info.pixel_stride * image->width;
    info.data = nullptr;
    write_struct(out_desc, size, info);
    return INF_STATUS_OK;
  });
}

inf_status value_read_image(inf_value* value, const inf_image_desc* destination) noexcept {
  return guarded(value, [&] {
    const auto image = resolve_pixels(value);
    const CheckedImage target = check_image(destination, "destination");
    if (target.width != image->width || target.height != image->height)
      api_fail(INF_STATUS_INVALID_ARGUMENT, "destination is ", target.width, "x", target.height, ", the image is ",
               image->width, "x", image->height);
    const bool convert = image->type() == INF_TYPE_IMAGE && target.transfer != image->transfer;
    const bool to_linear = target.transfer == INF_TRANSFER_LINEAR;
    const size_t step = scalar_bytes(target.scalar);
    const float* source = image->pixels.data();
    for (uint32_t y = 0; y < image->height; ++y)
      for (uint32_t x = 0; x < image->width; ++x, source += image->channels) {
        float rgba[4] = {source[0], source[0], source[0], 1.0f};
        if (image->channels >= 3) rgba[1] = source[1], rgba[2] = source[2];
        if (image->channels == 4) rgba[3] = source[3];
        if (convert)
          for (int c = 0; c < 3; ++c) rgba[c] = to_linear ? srgb_to_linear(rgba[c]) : linear_to_srgb(rgba[c]);
        float out[4];
        if (target.channels == 1) {
          out[0] = image->channels == 1 ? rgba[0] : 0.2126f * rgba[0] + 0.7152f * rgba[1] + 0.0722f * rgba[2];
        } else {
          const bool premultiply = target.channels == 4 && target.alpha == INF_ALPHA_PREMULTIPLIED;
          for (int c = 0; c < 3; ++c) out[c] = premultiply ? rgba[c] * rgba[3] : rgba[c];
          out[3] = rgba[3];
        }
        unsigned char* at = pixel_at(target, x, y);
        for (uint32_t c = 0; c < target.channels; ++c) write_scalar(target.scalar, at + c * step, out[c]);
      }
    return INF_STATUS_OK;
  });
}

}  // namespace inf::abi
