// Random Infinity weights under the official tensor names, for benchmarks and tests of sizes
// whose checkpoints are not at hand (125M..20B), and the memory formula the benchmark compares
// its measured peak with.
//
// The values are not a trained model; they are scaled so that activations stay O(1) through
// every block and the head's bit logits are moderate, which keeps sampling (top-p, CFG) on its
// ordinary paths. Generation is deterministic for a (config, seed) pair whatever
// INFINODE_THREADS is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/infinity/config.h"
#include "model/infinity/scale_schedule.h"
#include "tensor/tensor.h"
#include "weights/weight_store.h"

namespace inf {

// "tiny", "125M", "361M", "1B", "2B", "8B", "20B".
std::vector<std::string> random_infinity_config_names();

// Every tensor of the named configuration (f32, official names, blocks under
// "block_chunks.{k}.module.{j}."), filled deterministically from `seed`. Throws inf::Error
// (invalid_argument) naming the known configurations for an unknown name.
WeightStore make_random_infinity_weights(const std::string& config_name, uint64_t seed = 0);

// The same names and shapes without the bytes: every tensor is a stride-0 view of a single
// zero, so InfinityConfig::from_weights and total_bytes() work for sizes that would not fit
// in memory (8B, 20B). Loading it gives an all-zero model.
WeightStore make_infinity_weight_shapes(const std::string& config_name);

// Fills a contiguous f32 host tensor with mean + stddev * N(0, 1). The numbers depend only on
// (seed, stream, the tensor's size): `stream` names the use (a tensor name, "text features")
// so different tensors get independent values. Runs on inf::parallel_for.
void fill_random_normal(const Tensor& host_f32, uint64_t seed, const std::string& stream, float mean, float stddev);

struct InfinityMemoryEstimate {
  uint64_t weights = 0;      // parameters and buffers as loaded
  uint64_t kv_cache = 0;     // self-attention keys and values of every block, every scale
  uint64_t activations = 0;  // the largest scale's live tensors plus the text condition
  uint64_t total() const { return weights + kv_cache + activations; }
};

// What generating one batch of `prompts` images on the CPU backend needs (formulas in the
// .cpp). text_length: tokens per prompt for the cross-attention keys (0: the model's maximum).
InfinityMemoryEstimate estimate_infinity_memory(const InfinityConfig& config, const ScaleSchedule& schedule,
                                                int prompts, DType block_dtype, int text_length = 0);

}  // namespace inf
