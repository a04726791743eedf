// Host-allocated, strided images: the checks that make a bad descriptor a status instead of a
// wild read or write, and the pixel conversions between the host's layout and ours.
#pragma once

#include <cstdint>

#include "infinode.h"

namespace inf::abi {

// A descriptor that passed every check; strides and sizes in bytes.
struct CheckedImage {
  uint32_t width = 0, height = 0, channels = 0;
  inf_scalar_type scalar = INF_SCALAR_F32;
  inf_transfer transfer = INF_TRANSFER_SRGB;
  inf_alpha_mode alpha = INF_ALPHA_STRAIGHT;
  int64_t pixel_stride = 0, row_stride = 0;
  unsigned char* data = nullptr;
};

// Throws ApiError(INVALID_ARGUMENT) naming `what` and the first problem (see inf_image_desc).
CheckedImage check_image(const inf_image_desc* desc, const char* what);

}  // namespace inf::abi
