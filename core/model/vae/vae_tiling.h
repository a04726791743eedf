// Tiled VAE passes (BsqVae::decode / encode with a VaeTiling): the tile layout, the feathered
// blend, and the GroupNorm statistics that tiles share.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "model/compute.h"

namespace inf {

struct VaeNorm;

// How tiles get the statistics of the GroupNorms, which normalise over the whole image: a
// tile alone sees only its part of it, and the decoder and encoder are sensitive to them
// (tests/test_vae.cpp lists the measured effect).
enum class VaeTileNorm {
  tile,     // each tile's own statistics, as plain overlap-blend tiling does
  preview,  // statistics from one pass over every k-th input position of the tiled stages,
            // k the smallest that keeps the preview within one tile's crop (so within the
            // memory bound); every tile then normalises with them. One crop's work more.
};

// Overlapping tiles bound the memory of decode and encode: the peak is the weights, one tile's
// activations and the output, whatever the image size. Neighbouring tiles share `overlap`
// latent positions, where their outputs are blended with linear (feathered) weights. Each tile
// is computed with `margin` more latent positions of context on every side that has a
// neighbour, cropped away afterwards, so the zero padding at a crop's border stays out of the
// kept pixels. The low-resolution stages (decoder: conv_in, the middle and the deepest levels;
// encoder: the deepest levels, the middle and conv_out) run untiled on the whole image as long
// as their largest tensor is no larger than the largest of a tile's crop in the tiled stages:
// those stages are then exact, and their margins are not recomputed per tile.
//
// Results differ from the untiled pass: the GroupNorm statistics of the tiled stages, and the
// finite margin. tests/test_vae.cpp checks the documented size of the difference.
struct VaeTiling {
  static constexpr int kDefaultMargin = 2;
  int tile = 0;     // latent positions per tile side (decode; pixels / stride for encode); 0 = no tiling
  int overlap = 0;  // latent positions shared by neighbouring tiles, 0 <= overlap < tile
  int margin = -1;  // context positions per inner side; -1: kDefaultMargin
  VaeTileNorm norm = VaeTileNorm::preview;
  bool untiled_low_res = true;  // false: every stage is tiled (to measure what this gains)
};

// One tile along one axis, in latent positions.
struct VaeTileSpan {
  int64_t start = 0, end = 0;                  // its output is kept here (blended where tiles overlap)
  int64_t context_start = 0, context_end = 0;  // what is computed: the tile plus the margin, clipped
};

// Tiles of at most `tile` positions covering [0, size): the fewest whose neighbours can share
// at least `overlap`, all of one length, spread evenly (one tile when size <= tile). Throws
// invalid_argument for a bad tiling.
std::vector<VaeTileSpan> plan_vae_tiles(int64_t size, int tile, int overlap, int margin);

// The margin `tiling` asks for (kDefaultMargin for -1).
int vae_tile_margin(const VaeTiling& tiling);

// Blend weights of tile `index` at its output positions [start * scale, end * scale): a linear
// ramp across each overlap with a neighbour, normalised so that the tiles' weights sum to 1 at
// every position. The 2-D weight of a tile is the product of its row and column weights.
std::vector<float> vae_tile_weights(const std::vector<VaeTileSpan>& spans, size_t index, int64_t scale);

// GroupNorm statistics gathered over one or more passes and applied in later ones. Each
// GroupNorm of a pass is one layer, numbered in call order, so every pass must run the same
// network.
class VaeNormStats {
 public:
  // The region of a pass's input whose positions count, in positions of an input crop_h x
  // crop_w (latent positions; a GroupNorm at s times that resolution sums over the region
  // scaled by s).
  struct Region {
    int64_t crop_h = 0, crop_w = 0, top = 0, left = 0, height = 0, width = 0;
  };
  // Starts a pass. use_stored: every GroupNorm normalises by the committed statistics instead
  // of its own input's. record (optional): sums, per (image, group), each GroupNorm's input
  // over the region into the pending statistics. Passes over several regions (tiles) that
  // partition an image would sum to whole-image statistics.
  void begin_pass(bool use_stored, const Region* record);
  // The pending sums become the committed statistics.
  void commit();
  // swish(GroupNorm(x)) under the current pass's settings.
  Tensor norm_swish(const Compute& compute, const VaeNorm& norm, const Tensor& x, float eps);

 private:
  struct Layer {
    int64_t batch = 0, channels = 0, groups = 0;
    std::vector<double> sum, sum_sq;  // pending, [B * groups]
    double count = 0;                 // pending elements per (image, group)
    std::vector<double> mean, variance;  // committed, [B * groups]
    Tensor scale, shift;              // [B, C, 1, 1] on the backend, from the committed statistics
  };
  void add_region(const Compute& compute, Layer& layer, const Tensor& x) const;
  void make_affine(const Compute& compute, Layer& layer, const VaeNorm& norm, float eps) const;

  std::vector<Layer> layers_;
  size_t next_ = 0;
  bool use_stored_ = false, recording_ = false;
  Region region_;
};

// net(crop, stats): the network on an input crop [B, C, h * in_scale, w * in_scale] (contiguous,
// on the backend), returning its output on the backend, [B, C', h * out_scale, w * out_scale].
using VaeTileNet = std::function<Tensor(const Tensor& crop, VaeNormStats* stats)>;

// Runs `net` on the tiles of `input` [B, C, H, W] (H and W multiples of in_scale; one latent
// position = in_scale input positions = out_scale output positions) and blends the results
// into a host f32 tensor [B, C', H / in_scale * out_scale, W / in_scale * out_scale].
// tiling.norm == preview runs `net` once more first, on the downscaled input.
Tensor run_vae_tiled(const Compute& compute, const Tensor& input, int in_scale, int out_scale,
                     const VaeTiling& tiling, const VaeTileNet& net);

}  // namespace inf
