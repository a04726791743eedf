#include "model/t5/random_t5_weights.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "common/error.h"
#include "model/infinity/random_weights.h"

namespace inf {
namespace {

struct RandomT5Config {
  const char* name;
  int d_model, layers, heads, d_kv, d_ff;
  int64_t vocab;
};

// flan-t5-xl: spec section 3 (HF config.json). tiny: tools/make_t5_golden.py's model.
// tiny-c512: 512 channels, as the random "tiny" transformer expects, with a vocabulary that
// holds the built-in byte tokenizer's ids (random pipelines, model_manifest.h).
constexpr RandomT5Config kConfigs[] = {
    {"tiny", 64, 3, 4, 16, 96, 960},
    {"tiny-c512", 512, 2, 8, 64, 1024, 384},
    {"flan-t5-xl", 2048, 24, 32, 64, 5120, 32128},
};
constexpr int kBuckets = 32;

const RandomT5Config& find_config(const std::string& name) {
  for (const auto& config : kConfigs)
    if (name == config.name) return config;
  std::string known;
  for (const auto& config : kConfigs) known += std::string(known.empty() ? "" : ", ") + config.name;
  fail(ErrorKind::invalid_argument, "unknown random T5 configuration '", name, "' (known: ", known, ")");
}

}  // namespace

std::vector<std::string> random_t5_config_names() {
  std::vector<std::string> names;
  for (const auto& config : kConfigs) names.emplace_back(config.name);
  return names;
}

WeightStore make_random_t5_weights(const std::string& name, uint64_t seed) {
  const RandomT5Config& c = find_config(name);
  const int64_t d = c.d_model, inner = int64_t{c.heads} * c.d_kv, ff = c.d_ff;
  std::vector<std::pair<std::string, Tensor>> tensors;
  // Each tensor's values depend only on (seed, its name, its size): fill_random_normal's streams.
  auto add = [&](const std::string& tensor_name, const Shape& shape, float mean, float stddev) {
    Tensor tensor = Tensor::host(DType::f32, shape);
    fill_random_normal(tensor, seed, "t5:" + tensor_name, mean, stddev);
    tensors.emplace_back(tensor_name, std::move(tensor));
  };
  auto linear = [&](const std::string& tensor_name, int64_t out, int64_t in, float gain = 1.0f) {
    add(tensor_name, {out, in}, 0.0f, gain / std::sqrt(static_cast<float>(in)));
  };

  add("shared.weight", {c.vocab, d}, 0.0f, 1.0f);
  for (int i = 0; i < c.layers; ++i) {
    const std::string block = "encoder.block." + std::to_string(i) + ".";
    const std::string attention = block + "layer.0.SelfAttention.";
    const std::string ffn = block + "layer.1.DenseReluDense.";
    add(block + "layer.0.layer_norm.weight", {d}, 1.0f, 0.1f);
    linear(attention + "q.weight", inner, d, 1.0f / std::sqrt(static_cast<float>(c.d_kv)));
    linear(attention + "k.weight", inner, d);
    linear(attention + "v.weight", inner, d);
    linear(attention + "o.weight", d, inner);
    if (i == 0) add(attention + "relative_attention_bias.weight", {kBuckets, c.heads}, 0.0f, 0.5f);
    add(block + "layer.1.layer_norm.weight", {d}, 1.0f, 0.1f);
    linear(ffn + "wi_0.weight", ff, d);
    linear(ffn + "wi_1.weight", ff, d);
    linear(ffn + "wo.weight", d, ff);
  }
  add("encoder.final_layer_norm.weight", {d}, 1.0f, 0.1f);
  return WeightStore::from_host_tensors("random-t5:" + name + ":seed" + std::to_string(seed), std::move(tensors));
}

// With D = d_model, I = heads * d_kv, F = d_ff (2F for gated wi), H = heads, L = tokens and w
// the weight dtype's bytes (f32 throughout otherwise):
// weights: the embedding vocab * D * w; per layer the stacked qkv 3ID, o DI, wi (2)FD and wo DF
//   in w, the two norms 2D in f32; the final norm D and the bucket table buckets * H.
// activations: the residual x [L, D] and the bias [H, L, L] (host copy too, while uploading)
//   live for the whole encode, beside the larger of the two sublayers' live tensors:
//   attention: h [L, D], qkv [L, 3I], scores and probs 2 [H, L, L], context and merged 2 [L, I],
//   the projection [L, D];
//   FFN: h [L, D], wi's output [L, 2F], the activation and the product 2 [L, F], wo's output [L, D].
//   The embedding gather [L, D] and the final norm and its download 2 [L, D] are smaller than a
//   sublayer. bf16 weights are widened whole into f32 scratch for each GEMM: the largest weight
//   (wi, 2F x D) in f32 is live beside the FFN.
T5MemoryEstimate estimate_t5_memory(const T5Config& config, int64_t tokens, DType weight_dtype) {
  const auto u = [](int64_t value) { return static_cast<uint64_t>(value); };
  const uint64_t d = u(config.d_model), inner = u(config.inner()), heads = u(config.heads), f32 = 4;
  const uint64_t wi_rows = u(config.d_ff) * (config.gated ? 2 : 1), ff = u(config.d_ff), length = u(tokens);
  const uint64_t w = dtype_size(weight_dtype);
  T5MemoryEstimate estimate;
  const uint64_t per_layer = (3 * inner * d + d * inner + wi_rows * d + d * ff) * w + 2 * d * f32;
  estimate.weights = u(config.vocab) * d * w + u(config.layers) * per_layer + d * f32 +
                     u(config.buckets) * heads * f32;
  const uint64_t resident = length * d + 2 * heads * length * length;
  const uint64_t attention = length * (d + 3 * inner + 2 * inner + d) + 2 * heads * length * length;
  const uint64_t widened = weight_dtype == DType::f32 ? 0 : wi_rows * d;
  const uint64_t ffn = length * (d + wi_rows + 2 * ff + d) + widened;
  estimate.activations = (resident + std::max(attention, ffn)) * f32;
  return estimate;
}

}  // namespace inf
