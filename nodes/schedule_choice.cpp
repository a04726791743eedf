#include "schedule_choice.h"

#include <cmath>
#include <limits>

#include "common/error.h"

namespace inf::nodes {
namespace {

bool is_auto(const std::string& resolution) { return resolution == kResolutionChoices[0]; }

// The resolution key whose schedule for this image covers a pixel count nearest the image's.
std::string nearest_resolution_key(int width, int height, int pixels_per_token) {
  INF_CHECK(pixels_per_token >= 1, ErrorKind::internal, "pixels per token must be positive, got ", pixels_per_token);
  const double image_pixels = static_cast<double>(width) * height;
  std::string best;
  double best_distance = std::numeric_limits<double>::infinity();
  for (uint32_t k = 1; k < kResolutionChoiceCount; ++k) {  // keys in increasing size
    const ScaleSchedule schedule = schedule_for_size(width, height, kResolutionChoices[k]);
    const double schedule_pixels = static_cast<double>(schedule.image_width(pixels_per_token)) *
                                   schedule.image_height(pixels_per_token);
    const double distance = std::fabs(std::log(schedule_pixels / image_pixels));
    if (distance <= best_distance) {  // <=: a tie goes to the larger key
      best = kResolutionChoices[k];
      best_distance = distance;
    }
  }
  return best;
}

}  // namespace

ScaleSchedule choose_schedule(const ModelDefaults& defaults, const std::string& resolution, int width, int height,
                              int pixels_per_token) {
  INF_CHECK(width > 0 && height > 0, ErrorKind::invalid_argument, "the image size must be positive, got ", width, "x",
            height);
  if (!is_auto(resolution)) return schedule_for_size(width, height, resolution);
  if (defaults.schedule) return *defaults.schedule;
  if (!defaults.resolution.empty()) return schedule_for_size(width, height, defaults.resolution);
  return schedule_for_size(width, height, nearest_resolution_key(width, height, pixels_per_token));
}

ScaleSchedule choose_schedule(SharedModels& models, const std::string& resolution, int width, int height) {
  const ModelDefaults& defaults = models.manifest().defaults;
  const bool needs_pixel_size = is_auto(resolution) && !defaults.schedule && defaults.resolution.empty();
  return choose_schedule(defaults, resolution, width, height, needs_pixel_size ? pixels_per_token(models) : 1);
}

ScaleSchedule choose_schedule_for_ratio(const ModelDefaults& defaults, const std::string& resolution, double h_div_w) {
  if (!is_auto(resolution)) return schedule_for_ratio(h_div_w, resolution);
  if (defaults.schedule) return *defaults.schedule;
  return schedule_for_ratio(h_div_w, defaults.resolution.empty() ? "1M" : defaults.resolution);
}

int token_spatial_patch(SharedModels& models) {
  return models.manifest().transformer.empty() ? 1 : models.spatial_patch();
}

int pixels_per_token(SharedModels& models) { return models.vae()->vae.config().patch * token_spatial_patch(models); }

}  // namespace inf::nodes
