#include "model/infinity/scale_schedule.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <sstream>

#include "common/error.h"

namespace inf {
namespace {

constexpr int kTemplateScales = 13;
// Positions index a RoPE table of 2048/16 = 128 entries per axis in the reference.
constexpr int kMaxRopeGrid = 128;

struct BaseTemplate {
  double h_div_w;
  std::array<ScaleGrid, kTemplateScales> grids;  // the 1M schedule, (h, w) per scale
};

// The base templates of dynamic_resolution.py (spec §4), tall or square; each ratio r ≠ 1 is
// followed in the full list by its transpose, keyed int(1/r*1000)/1000.
const std::array<BaseTemplate, 8>& base_templates() {
  static const std::array<BaseTemplate, 8> templates = {{
      {1.0, {{{1, 1}, {2, 2}, {4, 4}, {6, 6}, {8, 8}, {12, 12}, {16, 16}, {20, 20}, {24, 24}, {32, 32},
              {40, 40}, {48, 48}, {64, 64}}}},
      {1.25, {{{1, 1}, {2, 2}, {3, 3}, {5, 4}, {10, 8}, {15, 12}, {20, 16}, {25, 20}, {30, 24}, {35, 28},
               {45, 36}, {55, 44}, {70, 56}}}},
      {1.333, {{{1, 1}, {2, 2}, {4, 3}, {8, 6}, {12, 9}, {16, 12}, {20, 15}, {24, 18}, {28, 21}, {36, 27},
                {48, 36}, {60, 45}, {72, 54}}}},
      {1.5, {{{1, 1}, {2, 2}, {3, 2}, {6, 4}, {9, 6}, {15, 10}, {21, 14}, {27, 18}, {33, 22}, {39, 26},
              {48, 32}, {63, 42}, {78, 52}}}},
      {1.75, {{{1, 1}, {2, 2}, {3, 3}, {7, 4}, {11, 6}, {14, 8}, {21, 12}, {28, 16}, {35, 20}, {42, 24},
               {56, 32}, {70, 40}, {84, 48}}}},
      {2.0, {{{1, 1}, {2, 2}, {4, 2}, {6, 3}, {10, 5}, {16, 8}, {22, 11}, {30, 15}, {38, 19}, {46, 23},
              {60, 30}, {74, 37}, {90, 45}}}},
      {2.5, {{{1, 1}, {2, 2}, {5, 2}, {10, 4}, {15, 6}, {20, 8}, {25, 10}, {30, 12}, {40, 16}, {50, 20},
              {65, 26}, {80, 32}, {100, 40}}}},
      {3.0, {{{1, 1}, {2, 2}, {6, 2}, {9, 3}, {15, 5}, {21, 7}, {27, 9}, {36, 12}, {45, 15}, {54, 18},
              {72, 24}, {90, 30}, {111, 37}}}},
  }};
  return templates;
}

struct Template {
  double h_div_w;
  std::vector<ScaleGrid> grids;  // 13 grids, the 1M schedule
};

// All 15 templates in the reference's dict order: 1.0, 1.25, 0.8, 1.333, 0.75, ...
const std::vector<Template>& all_templates() {
  static const std::vector<Template> templates = [] {
    std::vector<Template> list;
    for (const BaseTemplate& base : base_templates()) {
      list.push_back({base.h_div_w, std::vector<ScaleGrid>(base.grids.begin(), base.grids.end())});
      if (base.h_div_w == 1.0) continue;
      Template transposed;
      // Python's int(1/r*1000)/1000: truncation, not rounding (1/1.5 -> 0.666).
      transposed.h_div_w = std::trunc(1.0 / base.h_div_w * 1000.0) / 1000.0;
      for (const ScaleGrid& grid : base.grids) transposed.grids.push_back({grid.w, grid.h});
      list.push_back(std::move(transposed));
    }
    return list;
  }();
  return templates;
}

struct ResolutionKey {
  const char* name;
  int scales;
};
constexpr std::array<ResolutionKey, 4> kResolutionKeys = {{{"0.06M", 7}, {"0.25M", 10}, {"0.60M", 12}, {"1M", 13}}};

int scales_for_resolution(const std::string& resolution) {
  for (const ResolutionKey& key : kResolutionKeys)
    if (resolution == key.name) return key.scales;
  fail(ErrorKind::invalid_argument, "unknown resolution key '", resolution,
       "': expected one of 0.06M, 0.25M, 0.60M, 1M");
}

ScaleSchedule make_template_schedule(const Template& chosen, const std::string& resolution) {
  const int scales = scales_for_resolution(resolution);
  ScaleSchedule schedule;
  schedule.h_div_w = chosen.h_div_w;
  schedule.resolution = resolution;
  schedule.grids.assign(chosen.grids.begin(), chosen.grids.begin() + scales);
  schedule.rope_grid = chosen.grids.back();
  return schedule;
}

std::string ratio_label(const ScaleSchedule& schedule) {
  std::ostringstream out;
  if (schedule.resolution == "custom") out << "custom ";
  if (schedule.h_div_w == 1.0)
    out << "1:1";
  else
    out << "h/w " << schedule.h_div_w;
  return out.str();
}

std::string grid_label(const ScaleGrid& grid, bool square) {
  return square ? std::to_string(grid.h) : std::to_string(grid.h) + "x" + std::to_string(grid.w);
}

}  // namespace

int64_t ScaleSchedule::tokens(int scale) const {
  INF_CHECK(scale >= 0 && scale < num_scales(), ErrorKind::invalid_argument, "scale ", scale,
            " is out of range for a schedule of ", num_scales(), " scales");
  return grids[static_cast<size_t>(scale)].tokens();
}

int64_t ScaleSchedule::offset(int scale) const {
  INF_CHECK(scale >= 0 && scale <= num_scales(), ErrorKind::invalid_argument, "scale offset ", scale,
            " is out of range for a schedule of ", num_scales(), " scales");
  int64_t sum = 0;
  for (int k = 0; k < scale; ++k) sum += grids[static_cast<size_t>(k)].tokens();
  return sum;
}

int64_t ScaleSchedule::total_tokens() const { return offset(num_scales()); }

const ScaleGrid& ScaleSchedule::final_grid() const {
  INF_CHECK(!grids.empty(), ErrorKind::invalid_argument, "the scale schedule is empty");
  return grids.back();
}

int ScaleSchedule::image_height(int pixels_per_token) const { return final_grid().h * pixels_per_token; }
int ScaleSchedule::image_width(int pixels_per_token) const { return final_grid().w * pixels_per_token; }

std::string ScaleSchedule::describe(int pixels_per_token) const {
  if (grids.empty()) return "empty schedule";
  bool square = true;
  for (const ScaleGrid& grid : grids) square = square && grid.h == grid.w;
  std::ostringstream out;
  out << ratio_label(*this);
  if (resolution != "custom") out << " " << resolution;
  out << ", " << num_scales() << " scales " << grid_label(grids.front(), square) << ".."
      << grid_label(grids.back(), square) << (square ? "" : " (h x w)") << ", " << total_tokens() << " tokens";
  if (pixels_per_token > 0) out << ", " << image_width(pixels_per_token) << "x" << image_height(pixels_per_token);
  if (resolution == "custom") out << ", rope grid " << rope_grid.h << "x" << rope_grid.w;
  return out.str();
}

std::vector<double> template_ratios() {
  std::vector<double> ratios;
  for (const Template& entry : all_templates()) ratios.push_back(entry.h_div_w);
  return ratios;
}

ScaleSchedule schedule_for_ratio(double h_div_w, const std::string& resolution) {
  INF_CHECK(std::isfinite(h_div_w) && h_div_w > 0.0, ErrorKind::invalid_argument,
            "the aspect ratio h/w must be a positive finite number, got ", h_div_w);
  scales_for_resolution(resolution);  // report a bad key before anything else
  const Template* nearest = nullptr;
  double nearest_distance = std::numeric_limits<double>::infinity();
  for (const Template& entry : all_templates()) {
    const double distance = std::fabs(entry.h_div_w - h_div_w);
    if (distance < nearest_distance) {  // strict: ties keep the earlier template
      nearest = &entry;
      nearest_distance = distance;
    }
  }
  return make_template_schedule(*nearest, resolution);
}

ScaleSchedule schedule_for_size(int width, int height, const std::string& resolution) {
  INF_CHECK(width > 0 && height > 0, ErrorKind::invalid_argument, "image size must be positive, got ", width, "x",
            height);
  return schedule_for_ratio(static_cast<double>(height) / width, resolution);
}

ScaleSchedule schedule_from_grids(std::vector<ScaleGrid> grids, ScaleGrid rope_grid) {
  INF_CHECK(!grids.empty(), ErrorKind::invalid_argument, "a scale schedule needs at least one grid");
  INF_CHECK(grids.front() == (ScaleGrid{1, 1}), ErrorKind::invalid_argument,
            "the first grid of a scale schedule must be 1x1 (the start token), got ", grids.front().h, "x",
            grids.front().w);
  INF_CHECK(rope_grid.h >= 1 && rope_grid.w >= 1 && rope_grid.h <= kMaxRopeGrid && rope_grid.w <= kMaxRopeGrid,
            ErrorKind::invalid_argument, "the RoPE grid must be between 1x1 and ", kMaxRopeGrid, "x", kMaxRopeGrid,
            ", got ", rope_grid.h, "x", rope_grid.w);
  for (size_t k = 0; k < grids.size(); ++k) {
    const ScaleGrid& grid = grids[k];
    INF_CHECK(grid.h >= 1 && grid.w >= 1, ErrorKind::invalid_argument, "scale ", k, " has a non-positive grid ",
              grid.h, "x", grid.w);
    INF_CHECK(grid.h <= rope_grid.h && grid.w <= rope_grid.w, ErrorKind::invalid_argument, "scale ", k, " grid ",
              grid.h, "x", grid.w, " exceeds the RoPE grid ", rope_grid.h, "x", rope_grid.w);
    if (k > 0) {
      const ScaleGrid& previous = grids[k - 1];
      INF_CHECK(grid.h >= previous.h && grid.w >= previous.w, ErrorKind::invalid_argument, "scale ", k, " grid ",
                grid.h, "x", grid.w, " is smaller than scale ", k - 1, " grid ", previous.h, "x", previous.w,
                " (grids must not shrink)");
    }
  }
  // Label a template's own schedule as such, so logs say "1:1 0.06M" rather than "custom".
  for (const Template& entry : all_templates()) {
    if (entry.grids.back() != rope_grid) continue;
    for (const ResolutionKey& key : kResolutionKeys) {
      if (static_cast<size_t>(key.scales) != grids.size()) continue;
      if (std::equal(grids.begin(), grids.end(), entry.grids.begin())) return make_template_schedule(entry, key.name);
    }
  }
  ScaleSchedule schedule;
  schedule.h_div_w = static_cast<double>(rope_grid.h) / rope_grid.w;
  schedule.resolution = "custom";
  schedule.grids = std::move(grids);
  schedule.rope_grid = rope_grid;
  return schedule;
}

}  // namespace inf
