// Per-scale host steps of Infinity's sampling loop (spec §5.7 and §6): classifier-free guidance
// on the logits, sampling one bit per logit pair, and turning bits into the summed codes and
// the next scale's word_embed input. Everything here is f32/u8 on the host.
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace inf {

// out = cfg * (cond * (1/tau)) + (1 - cfg) * (uncond * (1/tau)), in that order in fp32, with
// 1/tau and 1 - cfg formed in double and rounded to fp32 as the reference's Python scalars are.
// cond, uncond and out are f32 [B, n, 2d] contiguous host tensors; out may alias cond or uncond.
void mix_cfg_logits(const Tensor& cond, const Tensor& uncond, float cfg, float tau, const Tensor& out);

struct SamplingParams {
  // Keep the classes whose ascending cumulative probability exceeds 1 - top_p: with two classes
  // a bit whose smaller probability is <= 1 - top_p becomes deterministic. top_p <= 0 or >= 1
  // turns the filter off.
  float top_p = 0.97f;
  // Over two classes: k >= 2 (or <= 0) changes nothing, k = 1 is greedy.
  int top_k = 900;
  uint64_t seed = 0;
};

// The uniform in [0, 1) that decides bit `bit` of token `token` at scale `scale` of image
// `image` (the image's index in the whole run, so a batch split differently draws the same
// numbers). Philox4x32-10 keyed by the seed; counter (token, bit / 4, scale, image), word bit % 4.
float bit_uniform(uint64_t seed, int64_t image, int scale, int64_t token, int bit);

// One bit from its logit pair (logit0 = class 0 = bit 0, logit1 = class 1 = bit 1): bit 1 with
// probability softmax(logit0, logit1)[1] after the top-k / top-p filters, i.e. when uniform < p1.
// Exact ties are broken towards class 0 (greedy, and top-p when top_p <= 0.5). Throws
// inf::Error(invalid_data) for a NaN logit.
uint8_t sample_bit(float logit0, float logit1, const SamplingParams& params, float uniform);

// bits_out[b, t, j] = sample_bit(l[b, t, 2j], l[b, t, 2j+1], params,
//                                bit_uniform(seed, first_image_index + b, scale_index, t, j))
// mixed_logits: f32 [B, n, 2d] contiguous host; bits_out: u8 [B, n, d] contiguous host.
// Runs on inf::parallel_for; the result does not depend on INFINODE_THREADS.
void sample_bits(const Tensor& mixed_logits, const SamplingParams& params, int scale_index, int first_image_index,
                 const Tensor& bits_out);

// bits u8 [B, h*w, d] (raster order, channel j = bit j) -> codes f32 [B, d, h, w] with value
// ±1/sqrt(d) (+ for bit 1), L2-normalised per token as the reference does: a no-op for d = 16 or
// 64, one ulp for d = 32 (see code_magnitude in the .cpp). For a patchified model (8B) unshuffle
// the bits first: here d is the VAE's channel count.
Tensor bits_to_codes(const Tensor& bits, int h, int w);

// summed[B, d, HL, WL] += bilinear_up(codes[B, d, h, w]) (align_corners = false), or += codes
// when the grid is already HL x WL (the last scale). summed is updated in place. The resize
// rounds as the reference's CPU kernel does (bit-identical on the golden files).
void add_upsampled(Tensor& summed, const Tensor& codes);

// Bilinear resize (align_corners = false, no antialias) of summed [B, d, HL, WL] to the next
// scale's grid -> new f32 [B, d, h, w].
Tensor downsample_for_next_scale(const Tensor& summed, int h, int w);

// [B, d, h, w] -> new f32 [B, h*w, d], tokens in raster order: the word_embed input.
Tensor flatten_tokens(const Tensor& nchw);

// Spatial patchify (the 8B: a 14-bit VAE at stride 8, 2x2 latents per transformer token).
// Token channel c*p*p + i*p + j is VAE channel c at sub-pixel (p*y + i, p*x + j) (spec 6).
// bits u8 [B, h*w, p*p*dv] -> u8 [B, (p*h)*(p*w), dv], raster order on the VAE grid.
Tensor unpatchify_bits(const Tensor& bits, int h, int w, int patch);
// Pixel-unshuffle of f32 [B, dv, p*h, p*w] -> [B, p*p*dv, h, w].
Tensor patchify_latent(const Tensor& nchw, int patch);

}  // namespace inf
