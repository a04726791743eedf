// Which scale schedule a node uses for an image: the "resolution" parameter of image.encode and
// the sampler ("auto" or a resolution key), the model's defaults (manifest "defaults"), and the
// image's size. Shared so that a picture encoded with "auto" and one generated with "auto" at
// the same size get the same token grids.
#pragma once

#include <cstdint>
#include <string>

#include "model/infinity/scale_schedule.h"
#include "model/model_manifest.h"
#include "shared_models.h"

namespace inf::nodes {

// The choices of a "resolution" ENUM parameter, "auto" first (index 0, the default).
inline constexpr const char* kResolutionChoices[] = {"auto", "0.06M", "0.25M", "0.60M", "1M"};
inline constexpr uint32_t kResolutionChoiceCount = 5;

// The schedule for an image of width x height pixels (both > 0):
//   a resolution key: that key's schedule on the aspect template nearest height / width;
//   "auto": defaults.schedule (fixed grids) if the model has one, else defaults.resolution if
//   set, else the key whose final grid at pixels_per_token pixels per token has the pixel count
//   nearest the image's (nearest in ratio, so 0.12M sits between 0.06M and 0.25M fairly; a tie
//   goes to the larger key, which keeps more detail).
// Throws inf::Error(invalid_argument) for an unknown key or a size that is not positive.
ScaleSchedule choose_schedule(const ModelDefaults& defaults, const std::string& resolution, int width, int height,
                              int pixels_per_token);

// The same with the engine's models: their defaults, and pixels per token (below) computed only
// when "auto" has to compare pixel counts.
ScaleSchedule choose_schedule(SharedModels& models, const std::string& resolution, int width, int height);

// For a requested aspect ratio without a size (height / width > 0): "auto" is defaults.schedule,
// else defaults.resolution, else "1M".
ScaleSchedule choose_schedule_for_ratio(const ModelDefaults& defaults, const std::string& resolution, double h_div_w);

// VAE latents per token side for the engine's models: the transformer's bits over the VAE's
// (SharedModels::spatial_patch) when the manifest names a transformer; 1 without one, where the
// tokens belong to the VAE alone (encode -> decode needs no transformer).
int token_spatial_patch(SharedModels& models);

// Image pixels per token side: the VAE's downsampling times token_spatial_patch.
int pixels_per_token(SharedModels& models);

}  // namespace inf::nodes
