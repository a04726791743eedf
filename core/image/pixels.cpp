#include "image/pixels.h"

#include <cmath>
#include <vector>

#include "common/error.h"

namespace inf {

float srgb_to_linear(float encoded) {
  // Computed in double: the EOTF's power curve loses a few ulps in float near 1.
  const double c = encoded;
  return static_cast<float>(c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4));
}

float linear_to_srgb(float linear) {
  const double c = linear;
  return static_cast<float>(c <= 0.0031308 ? c * 12.92 : 1.055 * std::pow(c, 1.0 / 2.4) - 0.055);
}

uint8_t model_to_u8(float model_value) {
  // Float arithmetic in the reference's order ((x + 1) / 2 * 255), then truncation by the cast.
  const float unit = (clamp_finite(model_value, -1.0f, 1.0f) + 1.0f) / 2.0f;
  return static_cast<uint8_t>(unit * 255.0f);
}

uint16_t model_to_u16(float model_value) {
  const float unit = (clamp_finite(model_value, -1.0f, 1.0f) + 1.0f) / 2.0f;
  return static_cast<uint16_t>(std::lround(unit * 65535.0f));
}

namespace {

void check_host_f32(const Tensor& input, const std::string& what) {
  INF_CHECK(input.defined() && input.dtype() == DType::f32 && input.device().is_cpu(),
            ErrorKind::invalid_argument, what, ": expected a host f32 tensor, got ",
            input.defined() ? input.describe() : std::string("an empty tensor"));
}

// A contiguous copy of a strided f32 view: one generic index walk, since views are rare here.
Tensor contiguous_copy(const Tensor& input) {
  Tensor copy(make_host_buffer(input.nbytes(), false), DType::f32, input.shape());
  float* out = copy.data_as<float>();
  const float* in = input.data_as<float>();
  std::vector<int64_t> index(static_cast<size_t>(input.ndim()), 0);
  const int64_t count = input.numel();
  for (int64_t n = 0; n < count; ++n) {
    int64_t offset = 0;
    for (size_t axis = 0; axis < index.size(); ++axis) offset += index[axis] * input.strides()[axis];
    out[n] = in[offset];
    for (size_t axis = index.size(); axis-- > 0;) {
      if (++index[axis] < input.shape()[axis]) break;
      index[axis] = 0;
    }
  }
  return copy;
}

Tensor map_values(const Tensor& input, const std::string& what, float (*map)(float)) {
  check_host_f32(input, what);
  const Tensor source = input.is_contiguous() ? input : contiguous_copy(input);
  Tensor result(make_host_buffer(source.nbytes(), false), DType::f32, source.shape());
  const float* in = source.data_as<float>();
  float* out = result.data_as<float>();
  const int64_t count = source.numel();
  for (int64_t n = 0; n < count; ++n) out[n] = map(in[n]);
  return result;
}

}  // namespace

Tensor to_model_range(const Tensor& unit_values) {
  return map_values(unit_values, "to_model_range", [](float v) { return v * 2.0f - 1.0f; });
}

Tensor from_model_range(const Tensor& model_values) {
  return map_values(model_values, "from_model_range",
                    [](float v) { return clamp_finite((v + 1.0f) / 2.0f, 0.0f, 1.0f); });
}

Tensor contiguous_planar_image(const Tensor& image, int64_t channels, const std::string& what) {
  INF_CHECK(image.defined(), ErrorKind::invalid_argument, what, ": the image tensor is empty");
  const bool shaped = image.dtype() == DType::f32 && image.ndim() == 3 && image.dim(0) == channels &&
                      image.dim(1) >= 1 && image.dim(2) >= 1;
  INF_CHECK(shaped, ErrorKind::invalid_argument, what, ": expected f32[", channels, ", H, W], got ",
            image.describe());
  INF_CHECK(image.device().is_cpu(), ErrorKind::invalid_argument, what, ": the image is on ",
            image.device().describe(), "; copy it to the host first");
  return image.is_contiguous() ? image : contiguous_copy(image);
}

}  // namespace inf
