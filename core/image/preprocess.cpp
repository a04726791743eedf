#include "image/preprocess.h"

#include <OpenImageIO/imagebuf.h>
#include <OpenImageIO/imagebufalgo.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <sstream>
#include <vector>

#include "common/error.h"
#include "image/pixels.h"

namespace inf {

namespace {

constexpr const char* kFilter = "lanczos3";

// int() of a positive double as Python does it (truncation), refusing what no int holds:
// extreme aspect ratios make the virtual resized image huge.
int truncate_to_int(double value, int source_w, int source_h) {
  INF_CHECK(value >= 1.0 && value < static_cast<double>(std::numeric_limits<int>::max()),
            ErrorKind::invalid_argument, "fit_to_size: a ", source_w, "x", source_h,
            " image cannot be fitted: its aspect ratio is too extreme");
  return static_cast<int>(value);
}

}  // namespace

std::string FitResult::describe() const {
  std::ostringstream out;
  out << source_w << 'x' << source_h;
  if (resized()) out << " -> resized " << resized_w << 'x' << resized_h << " (" << kFilter << ')';
  if (resized_w != target_w || resized_h != target_h)
    out << " -> centre crop " << target_w << 'x' << target_h << " at (" << crop_x << ", " << crop_y << ')';
  if (!resized() && resized_w == target_w && resized_h == target_h) out << " (already the target size)";
  return out.str();
}

FitResult fit_geometry(int source_w, int source_h, int target_w, int target_h) {
  INF_CHECK(source_w > 0 && source_h > 0, ErrorKind::invalid_argument, "fit_to_size: the image is ", source_w,
            "x", source_h);
  INF_CHECK(target_w > 0 && target_h > 0, ErrorKind::invalid_argument, "fit_to_size: the target size is ",
            target_w, "x", target_h);
  FitResult fit;
  fit.source_w = source_w, fit.source_h = source_h;
  fit.target_w = target_w, fit.target_h = target_h;
  const double aspect = static_cast<double>(source_w) / static_cast<double>(source_h);
  if (aspect <= static_cast<double>(target_w) / static_cast<double>(target_h)) {
    fit.resized_w = target_w;
    fit.resized_h = truncate_to_int(target_w / aspect, source_w, source_h);
  } else {
    fit.resized_h = target_h;
    fit.resized_w = truncate_to_int(aspect * target_h, source_w, source_h);
  }
  // Mathematically the resized image always covers the target; should int() ever truncate an
  // x.9999 one pixel short, cover anyway (the reference's crop would come out short there).
  fit.resized_w = std::max(fit.resized_w, target_w);
  fit.resized_h = std::max(fit.resized_h, target_h);
  fit.crop_x = (fit.resized_w - target_w) / 2;
  fit.crop_y = (fit.resized_h - target_h) / 2;
  return fit;
}

FitResult fit_to_size(const Tensor& rgb_input, int target_w, int target_h) {
  const Tensor rgb = contiguous_planar_image(rgb_input, 3, "fit_to_size");
  const int64_t height = rgb.dim(1), width = rgb.dim(2);
  INF_CHECK(width <= std::numeric_limits<int>::max() && height <= std::numeric_limits<int>::max(),
            ErrorKind::invalid_argument, "fit_to_size: ", rgb.describe(), " is too large");
  FitResult fit = fit_geometry(static_cast<int>(width), static_cast<int>(height), target_w, target_h);

  fit.rgb = Tensor(make_host_buffer(3 * static_cast<size_t>(target_w) * target_h * sizeof(float), false),
                   DType::f32, {3, target_h, target_w});  // [3, th, tw]
  const size_t source_plane = static_cast<size_t>(width) * static_cast<size_t>(height);
  const size_t target_plane = static_cast<size_t>(target_w) * static_cast<size_t>(target_h);
  const float* source = rgb.data_as<float>();
  float* target = fit.rgb.data_as<float>();

  if (!fit.resized()) {
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < target_h; ++y)
        std::memcpy(target + c * target_plane + static_cast<size_t>(y) * target_w,
                    source + c * source_plane + static_cast<size_t>(y + fit.crop_y) * width + fit.crop_x,
                    static_cast<size_t>(target_w) * sizeof(float));
    return fit;
  }

  // OIIO wants interleaved pixels; one 3-channel resize computes each pixel's filter weights
  // once, where three planar ones would compute them three times (the dominant cost).
  std::vector<float> source_pixels(3 * source_plane);  // [H, W, 3]
  for (size_t p = 0; p < source_plane; ++p)
    for (size_t c = 0; c < 3; ++c) source_pixels[3 * p + c] = source[c * source_plane + p];
  std::vector<float> crop_pixels(3 * target_plane);  // [th, tw, 3]
  // The destination's data window is the crop, inside a full window of the resized size: OIIO
  // maps full windows onto each other and computes only the data window, so the resized image
  // is never materialised.
  OIIO::ImageSpec source_spec(static_cast<int>(width), static_cast<int>(height), 3, OIIO::TypeFloat);
  OIIO::ImageSpec crop_spec(target_w, target_h, 3, OIIO::TypeFloat);
  crop_spec.x = fit.crop_x, crop_spec.y = fit.crop_y;
  crop_spec.full_x = 0, crop_spec.full_y = 0;
  crop_spec.full_width = fit.resized_w, crop_spec.full_height = fit.resized_h;
  OIIO::ImageBuf source_image(source_spec, source_pixels.data());
  OIIO::ImageBuf crop_image(crop_spec, crop_pixels.data());
  if (!OIIO::ImageBufAlgo::resize(crop_image, source_image, kFilter))
    fail(ErrorKind::internal, "fit_to_size: OpenImageIO resize failed: ", crop_image.geterror());
  for (size_t p = 0; p < target_plane; ++p)
    for (size_t c = 0; c < 3; ++c)
      target[c * target_plane + p] = clamp_finite(crop_pixels[3 * p + c], -1.0f, 1.0f);
  return fit;
}

}  // namespace inf
