// The VAE tiling parameters that image.encode and image.decode share: `tile` and `overlap`, in
// latent positions (one position = the VAE's stride in pixels, 16 for the released models).
#pragma once

#include <cstdint>

#include "infinode.h"
#include "model/vae/vae_tiling.h"
#include "provider_support.h"

namespace inf::nodes {

// 1024 positions are 16384 pixels at stride 16, the largest image side the ABI accepts.
inline constexpr int64_t kMaxTileLatents = 1024;

inline const inf_param_desc kTileParam = {
    static_cast<uint32_t>(sizeof(inf_param_desc)), INF_PARAM_INT, "tile", "Tile size",
    "VAE tile side in latent positions (pixels / the VAE's stride). 0: the whole image at once. Tiles bound the "
    "memory of large images; the result differs slightly from the untiled pass.",
    INF_PARAM_FLAG_ADVANCED, 0, nullptr, 0, kMaxTileLatents, 0, 0.0, 0.0, 0.0, nullptr};
inline const inf_param_desc kOverlapParam = {
    static_cast<uint32_t>(sizeof(inf_param_desc)), INF_PARAM_INT, "overlap", "Tile overlap",
    "Latent positions that neighbouring tiles share and blend; must be smaller than tile. Unused when tile is 0.",
    INF_PARAM_FLAG_ADVANCED, 0, nullptr, 0, kMaxTileLatents - 1, 0, 0.0, 0.0, 0.0, nullptr};

// The tiling the two parameters ask for; overlap >= tile (with tiling on) is INVALID_ARGUMENT.
inline VaeTiling tiling_from_params(const inf_run_args* args, uint32_t tile_index, uint32_t overlap_index) {
  VaeTiling tiling;
  const int64_t tile = param_at(args, tile_index, INF_PARAM_INT).int_value;
  const int64_t overlap = param_at(args, overlap_index, INF_PARAM_INT).int_value;
  if (tile == 0) return tiling;
  if (overlap >= tile)
    node_fail(INF_STATUS_INVALID_ARGUMENT, "overlap ", overlap, " must be smaller than tile ", tile,
              " (both in latent positions)");
  tiling.tile = static_cast<int>(tile);
  tiling.overlap = static_cast<int>(overlap);
  return tiling;
}

}  // namespace inf::nodes
