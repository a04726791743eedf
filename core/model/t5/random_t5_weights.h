// Random T5 encoder weights under the Hugging Face names, for benchmarks and tests of shapes
// whose checkpoints are not at hand (Flan-T5-XL's encoder is 4.9 GB in f32), and the memory
// formula the T5 benchmark compares its measured peak with.
//
// Not a trained model: linears are N(0, 1) / sqrt(fan_in) (q also / sqrt(dk), as T5's own
// initialisation, so the unscaled logits stay O(1)), norm weights 1 + 0.1 N, the
// relative-position table 0.5 N, the embedding N(0, 1). Deterministic for a (name, seed) pair
// whatever INFINODE_THREADS is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/t5/t5_config.h"
#include "weights/weight_store.h"

namespace inf {

// "tiny" (the golden file's shape: d_model 64, 3 layers, 4 heads x 16, d_ff 96, gated-gelu,
// vocab 960), "tiny-c512" (d_model 512, 2 layers, 8 x 64, d_ff 1024, vocab 384: the width of
// the random "tiny" transformer's text input) and "flan-t5-xl" (2048, 24 layers, 32 x 64, d_ff 5120, vocab 32128).
std::vector<std::string> random_t5_config_names();

// The encoder's tensors (f32): "shared.weight", "encoder.block.{i}.*", "encoder.final_layer_norm.weight".
// Throws inf::Error(invalid_argument) naming the known configurations for an unknown name.
WeightStore make_random_t5_weights(const std::string& name, uint64_t seed = 0);

struct T5MemoryEstimate {
  uint64_t weights = 0;      // as the encoder holds them (matmul weights and embedding in weight_dtype)
  uint64_t activations = 0;  // the largest set of live tensors of one encode of `tokens` tokens
  uint64_t total() const { return weights + activations; }
};

// What encoding one prompt of `tokens` tokens needs on the CPU backend (formulas in the .cpp).
T5MemoryEstimate estimate_t5_memory(const T5Config& config, int64_t tokens, DType weight_dtype);

}  // namespace inf
