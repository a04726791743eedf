// Infinity's scale schedules (spec §4): the token grids generated coarse to fine for one
// aspect-ratio template and resolution key, plus the grid RoPE positions are normalised to.
//
// The reference (infinity/utils/dynamic_resolution.py) has 8 base templates; each ratio r ≠ 1
// also gets its transpose under the key int(1/r*1000)/1000, which is why 0.666, 0.571 and
// 0.333 are truncated. A template lists 13 grids (its 1M schedule); the keys "0.06M", "0.25M",
// "0.60M" and "1M" use its first 7, 10, 12 and 13.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace inf {

struct ScaleGrid {
  int h = 0, w = 0;
  int64_t tokens() const { return static_cast<int64_t>(h) * w; }
  bool operator==(const ScaleGrid& other) const { return h == other.h && w == other.w; }
  bool operator!=(const ScaleGrid& other) const { return !(*this == other); }
};

struct ScaleSchedule {
  double h_div_w = 1.0;        // the template's ratio (custom: rope_grid.h / rope_grid.w)
  std::string resolution;      // "0.06M", "0.25M", "0.60M", "1M" or "custom"
  std::vector<ScaleGrid> grids;  // token grids per scale, coarse to fine
  // The last grid of the template's 1M schedule. RoPE positions are rescaled to it whatever
  // the resolution key (rope2d_normalized_by_hw = 2), e.g. 64x64 for 1:1 even at 0.06M.
  ScaleGrid rope_grid;

  int num_scales() const { return static_cast<int>(grids.size()); }
  int64_t tokens(int scale) const;          // h*w of one scale
  int64_t offset(int scale) const;          // tokens of the scales before `scale` (0..num_scales)
  int64_t total_tokens() const;             // = offset(num_scales())
  const ScaleGrid& final_grid() const;      // grids.back()
  int image_height(int pixels_per_token = 16) const;
  int image_width(int pixels_per_token = 16) const;
  // One line for logs, e.g. "1:1 0.06M, 7 scales 1..16, 521 tokens, 256x256" (image W x H at
  // pixels_per_token; 0 leaves the image size out, for callers that do not know the VAE).
  std::string describe(int pixels_per_token = 16) const;
};

// The 15 template ratios in the reference's order (1.0, 1.25, 0.8, 1.333, 0.75, ...). Ties in
// the nearest-template search go to the earlier one, as numpy's argmin does.
std::vector<double> template_ratios();

// The schedule of the template nearest to h_div_w (by |template - h_div_w|). Throws
// inf::Error(invalid_argument) for an unknown resolution key or a ratio that is not a positive
// finite number.
ScaleSchedule schedule_for_ratio(double h_div_w, const std::string& resolution);
// Same, with the ratio height / width of the requested image size in pixels.
ScaleSchedule schedule_for_size(int width, int height, const std::string& resolution);

// A schedule given explicitly (e.g. by a golden file), checked: at least one grid, the first
// 1x1, positive dims, h and w non-decreasing, every grid within rope_grid, and rope_grid at
// most 128 per side (the reference's RoPE table covers positions 0..127). When the grids and
// rope grid are exactly a template's schedule, the result is labelled with that template and
// key; otherwise resolution is "custom".
ScaleSchedule schedule_from_grids(std::vector<ScaleGrid> grids, ScaleGrid rope_grid);

}  // namespace inf
