#include "model/infinity/random_weights.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "common/error.h"
#include "common/thread_pool.h"

namespace inf {
namespace {

// The sizes of spec §1.1. Ct5 and the text length are the released models' (Flan-T5-XL, 512
// tokens); "tiny" matches the golden files. block_chunks only changes key names, but it is
// kept as the reference trains each size, so the names match real checkpoints.
struct RandomConfig {
  const char* name;
  int depth, width, heads, mlp_hidden, bits, text_channels, text_max_length, block_chunks;
};

constexpr RandomConfig kConfigs[] = {
    {"tiny", 4, 128, 2, 512, 16, 512, 32, 2},
    {"125M", 12, 768, 8, 3072, 32, 2048, 512, 4},
    {"361M", 16, 1152, 12, 4608, 32, 2048, 512, 4},
    {"1B", 24, 1536, 16, 6144, 32, 2048, 512, 4},
    {"2B", 32, 2048, 16, 8192, 32, 2048, 512, 8},
    {"8B", 40, 3584, 28, 14336, 56, 2048, 512, 8},
    {"20B", 58, 4608, 36, 18432, 32, 2048, 512, 2},
};

constexpr int kScaleLevels = 15;  // rows of lvl_embed in every released model

// The attentive text pool (infinity.py:L38-50) uses 128-wide heads over the T5 channels up to
// D = 4096 (16 heads for Ct5 2048), and 64-wide ones above (the 20B: 32 heads of 144).
int pool_heads_of(const RandomConfig& c) { return c.text_channels / (c.width > 4096 ? 64 : 128); }

const RandomConfig& find_config(const std::string& name) {
  for (const auto& config : kConfigs)
    if (name == config.name) return config;
  std::string known;
  for (const auto& config : kConfigs) known += std::string(known.empty() ? "" : ", ") + config.name;
  fail(ErrorKind::invalid_argument, "unknown random-weight configuration '", name, "' (known: ", known, ")");
}

// How a tensor is initialised. Scales are chosen so that activations stay O(1) through the
// blocks and the bit logits are moderate, not to imitate training.
enum class Init {
  linear,       // N(0, 1) * gain / sqrt(fan_in): keeps each layer's output variance near its input's
  bias,         // 0.05 N
  norm_weight,  // 1 + 0.1 N
  ada_offset,   // 0.1 N: per-block AdaLN offsets (ada_gss)
  log_scale,    // ln 4 + 0.5 N: cosine-attention log temperature, the reference's init plus spread
  embedding,    // 0.5 N: pos_start, lvl_embed
  uncond_text,  // 0.3 N: cfg_uncond, roughly T5 feature magnitudes
  pool_query,   // N(0, 1): pooling logits q.k / sqrt(hd) of order 1 against unit-variance keys
  zeros,        // the zero_k_bias buffers
};

struct TensorSpec {
  std::string name;
  Shape shape;
  Init init;
  float gain = 1.0f;  // linear only
};

std::vector<TensorSpec> tensor_specs(const RandomConfig& c) {
  const int64_t width = c.width, cond = c.width, ct5 = c.text_channels, bits = c.bits, hidden = c.mlp_hidden;
  const int64_t pool_heads = pool_heads_of(c);
  std::vector<TensorSpec> specs;
  auto add = [&specs](std::string name, Shape shape, Init init, float gain = 1.0f) {
    specs.push_back({std::move(name), std::move(shape), init, gain});
  };
  auto linear = [&](const std::string& prefix, int64_t out, int64_t in, float gain = 1.0f, bool with_bias = true) {
    add(prefix + ".weight", {out, in}, Init::linear, gain);
    if (with_bias) add(prefix + ".bias", {out}, Init::bias);
  };

  add("cfg_uncond", {c.text_max_length, ct5}, Init::uncond_text);
  add("text_norm.weight", {ct5}, Init::norm_weight);
  add("text_proj_for_sos.ca.mat_q", {1, pool_heads, cond / pool_heads}, Init::pool_query);
  linear("text_proj_for_sos.ca.mat_kv", 2 * cond, ct5, 1.0f, false);
  add("text_proj_for_sos.ca.v_bias", {cond}, Init::bias);
  add("text_proj_for_sos.ca.zero_k_bias", {cond}, Init::zeros);
  linear("text_proj_for_sos.ca.proj", cond, cond);
  linear("text_proj_for_ca.0", cond, ct5);
  linear("text_proj_for_ca.2", cond, cond);
  add("pos_start", {1, 1, width}, Init::embedding);
  add("lvl_embed.weight", {kScaleLevels, width}, Init::embedding);
  linear("word_embed", width, bits);
  // Small AdaLN projections keep scale/shift/gate near their per-block offsets, as after training.
  linear("shared_ada_lin.1", 6 * width, cond, 0.5f);

  const int blocks_per_chunk = c.depth / c.block_chunks;
  for (int b = 0; b < c.depth; ++b) {
    const std::string p = "block_chunks." + std::to_string(b / blocks_per_chunk) + ".module." +
                          std::to_string(b % blocks_per_chunk) + ".";
    add(p + "ada_gss", {1, 1, 6, width}, Init::ada_offset);
    linear(p + "sa.mat_qkv", 3 * width, width, 1.0f, false);
    add(p + "sa.q_bias", {width}, Init::bias);
    add(p + "sa.v_bias", {width}, Init::bias);
    add(p + "sa.zero_k_bias", {width}, Init::zeros);
    add(p + "sa.scale_mul_1H11", {1, c.heads, 1, 1}, Init::log_scale);
    linear(p + "sa.proj", width, width);
    linear(p + "ca.mat_q", width, width);
    linear(p + "ca.mat_kv", 2 * width, cond, 1.0f, false);
    add(p + "ca.v_bias", {width}, Init::bias);
    add(p + "ca.zero_k_bias", {width}, Init::zeros);
    linear(p + "ca.proj", width, width);
    add(p + "ca_norm.weight", {width}, Init::norm_weight);
    add(p + "ca_norm.bias", {width}, Init::bias);
    linear(p + "ffn.fc1", hidden, width);
    linear(p + "ffn.fc2", width, hidden);
  }
  linear("head_nm.ada_lin.1", 2 * width, cond, 0.5f);
  // A slightly larger head spreads the bit logits so that both bit values get sampled.
  linear("head", 2 * bits, width, 1.5f);
  return specs;
}

// Stable across platforms and runs, unlike std::hash.
uint64_t fnv1a(const std::string& text) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (const char ch : text) {
    hash ^= static_cast<unsigned char>(ch);
    hash *= 0x100000001b3ull;
  }
  return hash;
}

// SplitMix64's finaliser: turns related inputs (consecutive chunk indices) into unrelated seeds.
uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Elements filled by one generator. Fixed, so the values do not depend on how parallel_for
// splits the work among threads.
constexpr int64_t kFillChunk = int64_t{1} << 16;

// Box-Muller on mt19937_64 (whose output the standard fixes, unlike std::normal_distribution's).
void fill_chunk(float* out, int64_t count, uint64_t chunk_seed, float mean, float stddev) {
  std::mt19937_64 generator(chunk_seed);
  constexpr double kTwoPi = 6.283185307179586;
  for (int64_t i = 0; i < count; i += 2) {
    const double u1 = static_cast<double>((generator() >> 11) + 1) * 0x1p-53;  // (0, 1]: log is finite
    const double u2 = static_cast<double>(generator() >> 11) * 0x1p-53;
    const double radius = std::sqrt(-2.0 * std::log(u1));
    out[i] = static_cast<float>(mean + stddev * radius * std::cos(kTwoPi * u2));
    if (i + 1 < count) out[i + 1] = static_cast<float>(mean + stddev * radius * std::sin(kTwoPi * u2));
  }
}

void fill_spec(const Tensor& tensor, const TensorSpec& spec, uint64_t seed) {
  switch (spec.init) {
    case Init::linear: {
      const auto fan_in = static_cast<float>(spec.shape[1]);
      fill_random_normal(tensor, seed, spec.name, 0.0f, spec.gain / std::sqrt(fan_in));
      return;
    }
    case Init::bias: return fill_random_normal(tensor, seed, spec.name, 0.0f, 0.05f);
    case Init::norm_weight: return fill_random_normal(tensor, seed, spec.name, 1.0f, 0.1f);
    case Init::ada_offset: return fill_random_normal(tensor, seed, spec.name, 0.0f, 0.1f);
    case Init::log_scale: return fill_random_normal(tensor, seed, spec.name, std::log(4.0f), 0.5f);
    case Init::embedding: return fill_random_normal(tensor, seed, spec.name, 0.0f, 0.5f);
    case Init::uncond_text: return fill_random_normal(tensor, seed, spec.name, 0.0f, 0.3f);
    case Init::pool_query: return fill_random_normal(tensor, seed, spec.name, 0.0f, 1.0f);
    case Init::zeros: return;  // Tensor::host is zero-filled
  }
}

}  // namespace

std::vector<std::string> random_infinity_config_names() {
  std::vector<std::string> names;
  for (const auto& config : kConfigs) names.emplace_back(config.name);
  return names;
}

void fill_random_normal(const Tensor& host_f32, uint64_t seed, const std::string& stream, float mean, float stddev) {
  INF_CHECK(host_f32.defined() && host_f32.device().is_cpu() && host_f32.dtype() == DType::f32 &&
                host_f32.is_contiguous(),
            ErrorKind::invalid_argument, "fill_random_normal needs a contiguous f32 host tensor, got ",
            host_f32.describe());
  float* data = host_f32.data_as<float>();
  const int64_t count = host_f32.numel();
  const uint64_t stream_seed = mix64(seed ^ mix64(fnv1a(stream)));
  const int64_t chunks = (count + kFillChunk - 1) / kFillChunk;
  parallel_for(chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t chunk = begin; chunk < end; ++chunk) {
      const int64_t first = chunk * kFillChunk;
      fill_chunk(data + first, std::min(kFillChunk, count - first), mix64(stream_seed ^ static_cast<uint64_t>(chunk)),
                 mean, stddev);
    }
  });
}

WeightStore make_random_infinity_weights(const std::string& config_name, uint64_t seed) {
  const RandomConfig& config = find_config(config_name);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& spec : tensor_specs(config)) {
    Tensor tensor = Tensor::host(DType::f32, spec.shape);
    fill_spec(tensor, spec, seed);
    tensors.emplace_back(std::move(spec.name), std::move(tensor));
  }
  return WeightStore::from_host_tensors("random:" + config_name + ":seed" + std::to_string(seed), std::move(tensors));
}

WeightStore make_infinity_weight_shapes(const std::string& config_name) {
  const RandomConfig& config = find_config(config_name);
  const Tensor zero = Tensor::host(DType::f32, {1});
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& spec : tensor_specs(config)) {
    std::vector<int64_t> strides(spec.shape.size(), 0);  // every element is the one zero
    tensors.emplace_back(std::move(spec.name), Tensor(zero.buffer(), DType::f32, spec.shape, std::move(strides), 0));
  }
  return WeightStore::from_host_tensors("shapes:" + config_name, std::move(tensors));
}

// The formulas follow what the CPU path holds (model/infinity/weights.cpp and transformer.cpp);
// per-op allocator slack and the process baseline (code, BLAS, thread stacks) are not in them.
// With C = width, D = condition width (= C), H = heads, F = MLP hidden, d = bits, Ct5, Lt =
// text_max_length, R = 2B rows (conditional and unconditional halves of CFG), n = the largest
// scale's tokens, T = the schedule's total tokens, L = the prompt length:
//
// weights: every parameter and buffer once. The seven block matmul weights (3C^2 + C^2 + C^2 +
//   2CD + C^2 + 2FC per block) are stored in block_dtype, everything else in f32: per block
//   17C + H + F more floats (biases, norms, ada_gss, scale_mul, the zero K biases, which the
//   loader keeps as the K slice of the fused biases), and outside the blocks cfg_uncond Lt*Ct5,
//   the text norm and pool (Ct5 + D + 2D*Ct5 + 2D + D^2 + D), the two text projections
//   (D*Ct5 + D + D^2 + D), pos_start and 15 level rows (16C), word_embed (C*d + C), the AdaLN
//   projections (6C*D + 6C + 2C*D + 2C) and the head (2d*C + 2d).
// kv_cache: keys and values of every block for every token, f32: 2 * depth * T * R * C * 4.
// activations: the largest scale. In a block, every tensor of the iteration stays alive until
//   it ends, so the FFN is the peak: qkv (3C), the block input and x (2C), q after l2/scale,
//   q and k after RoPE, the attention output, the cross-attention norm, query and output (7C),
//   the FFN input h and output (2C), and both the fc1 output and its GELU (2F):
//   n * R * (14C + 2F) * 4. Beside it: the attention scores of one chunk of query rows (at most
//   4 Mi floats, the CPU kernel's budget), the logits (downloaded and mixed: n * R * 2d * 4 * 2),
//   the RoPE tables (host and backend: T * hd * 4 * 2), and the text condition held for the
//   whole image: per block the AdaLN rows (6C + 2C for the scale+1 copies) and the cross-attention
//   keys and values (2C * L) of every row: depth * R * (8C + 2C * L) * 4.
InfinityMemoryEstimate estimate_infinity_memory(const InfinityConfig& config, const ScaleSchedule& schedule,
                                                int prompts, DType block_dtype, int text_length) {
  INF_CHECK(prompts > 0, ErrorKind::invalid_argument, "memory estimate: prompts must be positive, got ", prompts);
  INF_CHECK(schedule.num_scales() > 0, ErrorKind::invalid_argument, "memory estimate: empty schedule");
  const auto u = [](int64_t value) { return static_cast<uint64_t>(value); };
  const uint64_t c = u(config.width), cond = u(config.condition_width), heads = u(config.heads);
  const uint64_t hidden = u(config.mlp_hidden), bits = u(config.bits_per_token), ct5 = u(config.text_channels);
  const uint64_t depth = u(config.depth), levels = u(config.scale_levels), f32 = 4;
  const uint64_t block_bytes = dtype_size(block_dtype);

  InfinityMemoryEstimate estimate;
  const uint64_t block_matmul = 3 * c * c + c * c + c * c + 2 * c * cond + c * c + 2 * hidden * c;
  const uint64_t block_f32 = 17 * c + heads + hidden;
  const uint64_t outside_blocks = u(config.text_max_length) * ct5 + ct5 + cond + 2 * cond * ct5 + 2 * cond +
                                  cond * cond + cond + cond * ct5 + cond + cond * cond + cond + c + levels * c +
                                  c * bits + c + 6 * c * cond + 6 * c + 2 * c * cond + 2 * c + 2 * bits * c + 2 * bits;
  estimate.weights = depth * (block_matmul * block_bytes + block_f32 * f32) + outside_blocks * f32;

  const uint64_t rows = 2 * u(prompts), total_tokens = u(schedule.total_tokens());
  estimate.kv_cache = 2 * depth * total_tokens * rows * c * f32;

  uint64_t largest = 0;
  for (int k = 0; k < schedule.num_scales(); ++k) largest = std::max(largest, u(schedule.tokens(k)));
  const uint64_t text = u(text_length > 0 ? text_length : config.text_max_length);
  const uint64_t block_peak = largest * rows * (14 * c + 2 * hidden) * f32;
  const uint64_t score_budget = uint64_t{1} << 22;  // floats; kScoreBudget in backend/cpu/attention.cpp
  const uint64_t scores = std::min(largest * total_tokens, std::max(total_tokens, score_budget)) * f32;
  const uint64_t logits = largest * rows * 2 * bits * f32 * 2;
  const uint64_t rope = total_tokens * u(config.head_dim) * f32 * 2;
  const uint64_t text_condition = depth * rows * (8 * c + 2 * c * text) * f32;
  estimate.activations = block_peak + scores + logits + rope + text_condition;
  return estimate;
}

}  // namespace inf
