// The BSQ-VAE (spec section 7): a conv encoder and decoder (ResNet blocks with GroupNorm and
// swish, no attention) around the multi-scale bitwise quantizer. The decoder turns summed bit
// codes into pixels; the encoder and quantizer turn an image into per-scale bits.
#pragma once

#include <vector>

#include "backend/backend.h"
#include "model/infinity/scale_schedule.h"
#include "model/vae/vae_config.h"
#include "model/vae/vae_tiling.h"

namespace inf {

struct VaeConv {
  Tensor weight;  // [Cout, Cin, kh, kw]
  Tensor bias;    // [Cout]
};

struct VaeNorm {
  Tensor weight, bias;  // [C]
  int groups = 32;
};

struct VaeResBlock {
  VaeNorm norm1, norm2;
  VaeConv conv1, conv2;
  VaeConv shortcut;  // 1x1, only when the block changes the channel count
};

struct VaeLevel {
  std::vector<VaeResBlock> blocks;
  VaeConv resample;  // decoder: conv after nearest x2; encoder: stride-2 conv. Undefined when absent.
};

struct VaeImage {
  Tensor pixels;      // [B, 3, H, W] f32 host, clamped to [-1, 1]
  Tensor unclamped;   // the decoder's raw output
};

// The multi-scale quantizer's output for one image batch.
struct VaeTokens {
  std::vector<Tensor> bits;  // per scale [B, h_k * w_k, d] u8, raster order, channel j = bit j
  Tensor summed_codes;       // [B, d, H, W] f32 host: the sum of upsampled codes (the decoder's input)
};

class BsqVae {
 public:
  // conv_dtype: storage of the conv weights (f32 or bf16); norms and biases stay f32.
  BsqVae(Backend& backend, const WeightStore& weights, DType conv_dtype = DType::f32);

  const VaeConfig& config() const { return config_; }
  // Names these weights in bit-token files, so tokens are never decoded by another tokenizer:
  // "bsq-vae d<bits> s<stride> " + a 64-bit FNV-1a fingerprint of the decoder's input conv
  // (the encoder's output conv for encoder-only weights).
  const std::string& identity() const { return identity_; }

  // latent [B, d, h, w] (host or backend) -> image [B, 3, h*patch, w*patch].
  VaeImage decode(const Tensor& latent) const;
  // image [B, 3, H, W] in [-1, 1] (host) -> continuous latent z [B, d, H/patch, W/patch] (host).
  Tensor encode(const Tensor& image) const;
  // The same in overlapping tiles (see VaeTiling); a latent no larger than one tile, or
  // tiling.tile == 0, takes the untiled path.
  VaeImage decode(const Tensor& latent, const VaeTiling& tiling) const;
  Tensor encode(const Tensor& image, const VaeTiling& tiling) const;
  // z [B, d, H, W] host -> bits for each scale of `schedule` (its last grid must be H x W) and
  // the summed codes: residual quantization with area downsampling (spec 7.5).
  VaeTokens quantize(const Tensor& latent, const ScaleSchedule& schedule) const;

 private:
  // stats == nullptr: every GroupNorm normalises by its input's own statistics.
  Tensor norm_swish(const VaeNorm& norm, const Tensor& x, VaeNormStats* stats) const;
  Tensor run_block(const VaeResBlock& block, const Tensor& x, VaeNormStats* stats) const;
  // Stages [first_stage, end_stage) (end -1: to the last) of the decoder (0: conv_in and the
  // middle blocks; 1..L: the levels, deepest first, each with its upsample; L+1: norm_out and
  // conv_out) or encoder (0..L-1: the levels, conv_in first; L: the middle blocks and the
  // output). The decoder ends in [B, 3, H, W], unclamped; the encoder in [B, d, h, w].
  Tensor run_decoder(const Tensor& input, VaeNormStats* stats, int first_stage, int end_stage) const;
  Tensor run_encoder(const Tensor& input, VaeNormStats* stats, int first_stage, int end_stage) const;
  // Floats per image of the largest tensor each stage holds, for an h x w latent.
  std::vector<double> stage_sizes(bool encoder, int64_t h, int64_t w) const;
  int untiled_split(bool encoder, int64_t h, int64_t w, const VaeTiling& tiling) const;
  void check_image(const Tensor& image) const;
  Tensor place(const Tensor& host) const;

  Backend& backend_;
  VaeConfig config_;
  std::string identity_;
  VaeConv decoder_in_, decoder_out_, encoder_in_, encoder_out_;
  VaeNorm decoder_norm_out_, encoder_norm_out_;
  std::vector<VaeResBlock> decoder_mid_, encoder_mid_;
  std::vector<VaeLevel> decoder_levels_, encoder_levels_;
};

// Sum of bilinearly upsampled codes of given bits (the decoder's input for bit tokens):
// bits per scale [B, h_k*w_k, d] -> [B, d, H, W] with H x W the schedule's last grid.
Tensor summed_codes_from_bits(const std::vector<Tensor>& bits, const ScaleSchedule& schedule);

}  // namespace inf
