// Bit-token files: the multi-scale bits of one or more images, as a safetensors file that any
// safetensors tool can open. The image tokenizer writes them; the decoder and the sampler read
// them (editing keeps the coarse scales of a file's bits).
//
// Layout (docs/bit-tokens.md):
//   tensors   "bits.s{k}"  u8 [B, h_k * w_k, d]: scale k, tokens in raster order, channel j = bit j
//   metadata  "format" = "infinode.bit_tokens", "version" = "1",
//             "schedule" = JSON [[h, w], ...] token grids, "rope_grid" = JSON [h, w],
//             "bits_per_token" = d, "spatial_patch" = p (VAE latents per token side),
//             "tokenizer" = identity of the VAE that made them ("" when unknown), plus any
//             caller metadata under keys that do not clash (prompt, seed, source image, ...).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "model/infinity/scale_schedule.h"
#include "tensor/tensor.h"

namespace inf {

struct BitTokens {
  ScaleSchedule schedule;
  std::vector<Tensor> bits;  // per scale [B, h_k*w_k, d] u8 host; may hold fewer scales than the schedule
  int spatial_patch = 1;
  std::string tokenizer;                     // VAE identity, "" when unknown
  std::map<std::string, std::string> extra;  // free-form metadata

  int images() const { return bits.empty() ? 0 : static_cast<int>(bits[0].dim(0)); }
  int bits_per_token() const { return bits.empty() ? 0 : static_cast<int>(bits[0].dim(2)); }
  // Throws inf::Error naming `what` when the bits do not fit the schedule or hold values other than 0/1.
  void validate(const std::string& what) const;
};

void write_bit_tokens(const std::string& path, const BitTokens& tokens);
BitTokens read_bit_tokens(const std::string& path);

// The schedule on the VAE's latent grid: every token grid times the spatial patch.
ScaleSchedule vae_schedule(const ScaleSchedule& token_schedule, int spatial_patch);
// Inverse of unpatchify_bits: VAE-grid bits [B, (p*h)*(p*w), dv] -> token bits [B, h*w, p*p*dv].
Tensor patchify_bits(const Tensor& vae_bits, int h, int w, int patch);

}  // namespace inf
