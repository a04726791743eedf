// VaeConfig: the BSQ-VAE's shape, read off its weights (spec section 7). The 2B tokenizer
// (d = 32, stride 16), the 8B one (d = 14, stride 8) and the small golden model are all data.
#pragma once

#include <string>
#include <vector>

#include "weights/weight_store.h"

namespace inf {

struct VaeConfig {
  int bits = 0;           // d: latent channels = bits per latent position
  int base_channels = 0;  // channels at full resolution
  int mid_channels = 0;   // channels of the middle blocks (deepest level)
  float norm_eps = 1e-6f;
  // Per level (0 = full resolution). Empty when the part is absent from the weights.
  std::vector<int> decoder_channels, encoder_channels;
  std::vector<bool> decoder_upsample, encoder_downsample;
  int decoder_blocks_per_level = 0, encoder_blocks_per_level = 0;
  int patch = 1;  // pixels per latent position along each side (2^number of resampling steps)
  // Official checkpoints wrap nn.Conv2d / nn.GroupNorm as ".conv." / ".norm."; the reference
  // loader also accepts keys without the wrappers. Which one this store uses:
  bool wrapped_keys = true;

  bool has_decoder() const { return !decoder_channels.empty(); }
  bool has_encoder() const { return !encoder_channels.empty(); }
  // GroupNorm groups the reference uses for `channels`: 32, or 24 when 32 does not divide.
  static int groups_for(int channels);

  static VaeConfig from_weights(const WeightStore& weights);
  // The store key of a conv or norm parameter, e.g. conv_key("decoder.conv_in", "weight").
  std::string conv_key(const std::string& module, const char* parameter) const;
  std::string norm_key(const std::string& module, const char* parameter) const;
  std::string describe() const;
};

}  // namespace inf
