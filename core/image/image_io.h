// Image files in and out, through OpenImageIO (PNG, JPEG, TIFF, EXR and whatever else the
// installed OIIO reads or writes), as f32 planar tensors in the model's [-1, 1] range.
//
// Colour: the model was trained on sRGB-encoded pixels, so read_image always returns sRGB
// values; linear-light files (EXR, HDR, or tagged linear) are converted with the exact sRGB
// transfer function and clamped, and LoadedImage says so. write_image writes sRGB by default,
// except to float formats (EXR, HDR), which get linear light, as compositors expect.
//
// Every failure throws inf::Error with one line naming the file and the problem.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "tensor/tensor.h"

namespace inf {

enum class ColorEncoding { srgb, linear };  // of the pixel values in a file

struct ReadOptions {
  // Treat the pixels as linear light whatever the file says (e.g. a float TIFF from a renderer
  // that does not tag its colour space).
  bool assume_linear = false;
  // Refused before any pixel memory is allocated, so a forged header cannot exhaust memory.
  int64_t max_pixels = int64_t{16384} * 16384;
  int64_t max_side = 16384;
};

struct LoadedImage {
  Tensor rgb;    // f32 [3, H, W], sRGB-encoded, in [-1, 1] (x * 2 - 1)
  Tensor alpha;  // f32 [1, H, W] in [0, 1], straight (not premultiplied); undefined if none
  int source_channels = 0;
  std::string source_format;  // OIIO's name: "png", "jpeg", "tiff", "openexr", ...
  std::string source_type;    // per-channel data type in the file: "uint8", "uint16", "half", "float"
  bool was_linear = false;    // the file held linear light and was converted to sRGB
  // The file's string metadata (PNG tEXt chunks, EXR string attributes, ...) by OIIO name.
  std::map<std::string, std::string> text;

  int64_t width() const { return rgb.defined() ? rgb.dim(2) : 0; }
  int64_t height() const { return rgb.defined() ? rgb.dim(1) : 0; }
  std::string describe() const;  // "1000x750 png, 4 channels uint8, sRGB"
};

// Reads the first subimage. Grey images become RGB (with a warning), grey+alpha keeps its
// alpha, and files with more than 4 channels use R, G, B (by name when present) and A.
LoadedImage read_image(const std::string& path, const ReadOptions& options = {});

struct WriteOptions {
  // Unset: linear for float formats (EXR, HDR), sRGB for everything else.
  std::optional<ColorEncoding> encoding;
  // Bits per channel. 0: the format's default (8; half float for EXR). Integer formats take
  // 8 or 16 (OIIO narrows to what the format holds, e.g. JPEG is 8 only) or 32 for float
  // (TIFF); EXR takes 16 (half) or 32 (float).
  int bits = 0;
  // String metadata: PNG tEXt chunks, EXR string attributes (e.g. "parameters" -> the prompt
  // and settings, as other generators do). Keys are 1-79 printable characters.
  std::map<std::string, std::string> text;
  // f32 [1, H, W] in [0, 1], straight alpha. EXR stores it premultiplied (the format's rule);
  // formats without alpha (JPEG) drop it with a warning.
  const Tensor* alpha = nullptr;
};

// rgb: f32 [3, H, W] in [-1, 1]; values outside are clamped. The format follows the extension.
// 8-bit output truncates exactly like the reference: uint8(((x + 1) / 2) * 255) (spec §6 step
// 6); 16-bit output rounds: round(((x + 1) / 2) * 65535).
// The write is atomic: the image goes to a temporary file in the same folder, which is renamed
// over `path` only once complete, so a failed write leaves any existing file untouched.
void write_image(const std::string& path, const Tensor& rgb, const WriteOptions& options = {});

}  // namespace inf
