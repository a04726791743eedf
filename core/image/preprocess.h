// Fitting an image to the model's pixel grid the way the reference does (run_infinity.transform,
// spec §7.3): resize with Lanczos so the image covers the target, then crop the centre. Done in
// the open, so a host can show the user what happened to their picture.
#pragma once

#include <string>

#include "tensor/tensor.h"

namespace inf {

struct FitResult {
  Tensor rgb;  // f32 [3, target_h, target_w], same range as the input
  int source_w = 0, source_h = 0;
  int target_w = 0, target_h = 0;
  int resized_w = 0, resized_h = 0;  // the (virtual) resized image the crop is taken from
  int crop_x = 0, crop_y = 0;        // top-left of the crop in the resized image
  bool resized() const { return resized_w != source_w || resized_h != source_h; }
  // "1000x750 -> resized 1365x1024 (lanczos3) -> centre crop 1024x1024 at (170, 0)"
  std::string describe() const;
};

// The reference's geometry, in the same double arithmetic as its Python (so the same int()
// truncations): with aspect = w / h,
//   aspect <= target_w / target_h:  resized = (target_w, int(target_w / aspect))
//   otherwise:                      resized = (int(aspect * target_h), target_h)
//   crop = ((resized_w - target_w) / 2, (resized_h - target_h) / 2)   (integer division)
// Only the geometry is computed here; fit_to_size does the pixels.
FitResult fit_geometry(int source_w, int source_h, int target_w, int target_h);

// rgb: f32 [3, H, W] on the host. Resizes with OpenImageIO's lanczos3 (the filter widens when
// shrinking, as PIL's LANCZOS does) and computes only the cropped pixels. The result is clamped
// to [-1, 1]: Lanczos overshoots at sharp edges, and the reference, resizing 8-bit pixels, clips
// there too (unlike it, nothing is rounded to 8 bits). When the sizes already match, nothing is
// resampled.
FitResult fit_to_size(const Tensor& rgb, int target_w, int target_h);

}  // namespace inf
