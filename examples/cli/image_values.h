// Between image files (core/image/image_io.h: f32 planar [C, H, W], sRGB-encoded, model range
// [-1, 1]) and the ABI's IMAGE and MASK values (host-allocated interleaved pixels described by
// inf_image_desc). All conversions of colour, layout and alpha are the library's
// (value_create_image / value_read_image): the CLI hands over f32 sRGB pixels both ways.
#pragma once

#include <string>

#include "infinode.h"
#include "node_pipeline.h"
#include "tensor/tensor.h"

namespace inf::cli {

// An image file -> an IMAGE value (RGB, alpha dropped: the encoder ignores it).
ValueRef image_value_from_file(const std::string& path);

// A mask file -> a MASK value: its alpha when the file has a (not fully opaque) alpha channel,
// else its grey level (luma of RGB). White / opaque = regenerate.
ValueRef mask_value_from_file(const std::string& path);

// An IMAGE value -> f32 [3, H, W] in [-1, 1], sRGB-encoded: what write_image takes.
Tensor model_pixels_from_value(inf_value* image);
// The same for a host image descriptor (a preview, valid during its callback only).
Tensor model_pixels_from_desc(const inf_image_desc& image);

}  // namespace inf::cli
