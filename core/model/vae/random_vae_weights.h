// Random BSQ-VAE weights under the official tensor names (spec section 7.4), for benchmarks and
// tests of tokenizer shapes whose checkpoints are not at hand, and the cost formulas (conv
// FLOPs, weight and activation bytes) the VAE benchmark compares its measurements with.
//
// Initialised like tests/data/golden/vae_tiny.safetensors: convs N(0, 1) / sqrt(fan_in) (the
// encoder's conv_out x 0.5), biases 0.05 N, GroupNorm weights 1 + 0.1 N. Not a trained
// tokenizer, but activations stay O(1) through every block. Deterministic for a (name, seed)
// pair whatever INFINODE_THREADS is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/vae/bsq_vae.h"
#include "weights/weight_store.h"

namespace inf {

// "tiny" (the golden file's shape: d 16, base 32, ch_mult [1,1,1,2,2], stride 16), "2B" (the
// d32 tokenizer: base 128, ch_mult [1,2,4,4,4], stride 16) and "8B" (d14, ch_mult [1,2,4,4],
// stride 8). Encoders have 2 ResNet blocks per level, decoders 3.
std::vector<std::string> random_vae_config_names();

// Encoder, decoder and the quantizer's mask buffers (f32, except the i64 masks), with the
// ".conv." / ".norm." wrappers of the official modules. Throws inf::Error (invalid_argument)
// naming the known configurations for an unknown name.
WeightStore make_random_vae_weights(const std::string& name, uint64_t seed = 0);

struct VaeCost {
  uint64_t weights = 0;      // every loaded conv and norm parameter, both halves
  uint64_t activations = 0;  // the largest set of live backend tensors of one pass, plus conv scratch
  double conv_flops = 0;     // 2 * multiply-adds of every conv of the pass
};

// The cost of one decode (latent h x w -> image) or encode (image -> latent h x w) of `batch`
// images on the CPU backend, untiled, with conv weights stored as `conv_dtype`. The activation
// walk follows bsq_vae.cpp op by op (formulas in the .cpp); the caller's input and the host
// output are not in it.
VaeCost estimate_vae_cost(const VaeConfig& config, bool encode, int64_t latent_h, int64_t latent_w, int64_t batch = 1,
                          DType conv_dtype = DType::f32);

}  // namespace inf
