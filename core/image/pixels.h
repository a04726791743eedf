// Pixel value conversions shared by image reading, writing and preprocessing: the sRGB transfer
// function, the model's [-1, 1] range, and the quantisation the reference applies on output.
//
// Images inside infinode are f32 planar tensors [C, H, W]. The model was trained on sRGB-encoded
// values mapped to [-1, 1] (x * 2 - 1), so that is what read_image returns and write_image takes.
#pragma once

#include <cstdint>
#include <string>

#include "tensor/tensor.h"

namespace inf {

// The exact piecewise sRGB transfer function (IEC 61966-2-1), not the 2.2 power approximation,
// so linear EXRs round-trip through sRGB without drift. Callers clamp to [0, 1] first.
float srgb_to_linear(float encoded);
float linear_to_srgb(float linear);

// Clamps to [lo, hi]; NaN becomes lo (a NaN pixel must not survive into integer output).
inline float clamp_finite(float value, float lo, float hi) {
  if (!(value >= lo)) return lo;  // also catches NaN
  return value > hi ? hi : value;
}

// [-1, 1] -> 8 bit exactly as the reference (spec §6 step 6): clamp to [-1, 1], then
// uint8(((x + 1) / 2) * 255) with truncation, not rounding. So 1.0 -> 255, but 0.999 -> 254,
// and a write/read round trip loses up to 1/255 (always downwards).
uint8_t model_to_u8(float model_value);
// [-1, 1] -> 16 bit: clamp, then round(((x + 1) / 2) * 65535). No reference to match here, so
// rounding (half the error of truncation).
uint16_t model_to_u16(float model_value);

// [0, 1] <-> [-1, 1] on a whole f32 tensor (any shape, host). from_model_range clamps to [0, 1].
Tensor to_model_range(const Tensor& unit_values);
Tensor from_model_range(const Tensor& model_values);

// Checks that `image` is a host f32 tensor [channels, H, W] with H, W >= 1 (`what` names it in
// the error, e.g. "write_image: rgb") and returns it, or a contiguous copy when it is a strided
// view, so callers can walk planes with plain pointers.
Tensor contiguous_planar_image(const Tensor& image, int64_t channels, const std::string& what);

}  // namespace inf
