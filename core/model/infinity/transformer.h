// The Infinity transformer and its next-scale sampling loop (spec sections 5 and 6).
//
// generate() encodes the text condition once, then for each scale of the schedule runs every
// block over that scale's tokens (self-attention sees all earlier scales through a KV cache
// that grows scale by scale), predicts 2 logits per bit, mixes the conditional and
// unconditional halves (CFG), samples bits (or takes given ones: teacher forcing) and feeds
// the bilinearly downsampled running sum of codes to the next scale.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "model/infinity/bit_sampler.h"
#include "model/infinity/config.h"
#include "model/infinity/scale_schedule.h"
#include "model/infinity/weights.h"

namespace inf {

// T5 features of several prompts, concatenated without padding.
struct PromptFeatures {
  Tensor features;               // [sum of lengths, Ct5] f32, host
  std::vector<int32_t> lengths;  // one per prompt, each > 0
};

struct ScaleProgress {
  int scale = 0;           // 0-based
  int num_scales = 0;
  double seconds = 0;      // time spent on this scale
  const Tensor* bits = nullptr;  // [B, n, d] u8 host: this scale's bits
};

struct GenerateRequest {
  PromptFeatures prompts;
  // Unconditional rows: the learned cfg_uncond rows by default, or a negative prompt's
  // features (one for every prompt, or one per prompt).
  std::optional<PromptFeatures> negative;
  ScaleSchedule schedule;
  std::vector<float> cfg;  // one per scale, or a single value for all
  std::vector<float> tau;  // logit temperature, same rule
  SamplingParams sampling;
  // Latents per token side: 1 for the 2B (d-bit VAE at stride 16), 2 for the 8B (14-bit VAE at
  // stride 8, 2x2 latents per 56-bit token). The summed codes then live on the VAE's grid.
  int spatial_patch = 1;
  // Teacher forcing: bits [B, n_k, d] u8 for the first forced_bits.size() scales are used
  // instead of sampling (image editing keeps the coarse scales of a given image this way).
  std::vector<Tensor> forced_bits;
  // Optional region editing: for a scale k < forced_bits.size() with forced_keep[k] defined
  // (u8 [B, n_k]), only tokens whose flag is 1 take the given bits; the others are sampled. So
  // a mask can regenerate one region while the rest follows the source image at every scale.
  // Empty, or an undefined entry: every token of the forced scale takes the given bits.
  std::vector<Tensor> forced_keep;
  // Called after each scale; returning false stops generation (GenerateResult.cancelled).
  std::function<bool(const ScaleProgress&)> on_scale;
};

struct GenerateResult {
  std::vector<Tensor> bits;  // per scale [B, n_k, d] u8 host
  Tensor summed_codes;       // [B, d / p^2, p H_L, p W_L] f32 host (p = spatial_patch): the VAE decoder's input
  bool cancelled = false;
};

// Receives named intermediates (golden names: "pooled_cond", "scale_input.s3", ...). Tensors
// may live on the device; the hook downloads what it needs. Tracing is off when unset.
using TraceHook = std::function<void(const std::string& name, const Tensor& value)>;

struct InfinityOptions {
  DType block_weight_dtype = DType::f32;  // bf16 halves memory and bandwidth of the blocks
};

class InfinityTransformer {
 public:
  InfinityTransformer(Backend& backend, const WeightStore& weights, const InfinityOptions& options = {});

  const InfinityConfig& config() const { return config_; }
  void set_trace(TraceHook hook) { trace_ = std::move(hook); }

  GenerateResult generate(const GenerateRequest& request);

 private:
  struct TextCondition;
  struct KvCache;

  TextCondition encode_text(const GenerateRequest& request) const;
  Tensor run_blocks(const Tensor& x, int scale, const ScaleSchedule& schedule, const TextCondition& text,
                    KvCache& cache) const;
  Tensor head_logits(const Tensor& x, const TextCondition& text) const;
  void validate(const GenerateRequest& request) const;
  void trace(const std::string& name, const Tensor& value) const {
    if (trace_) trace_(name, value);
  }

  Backend& backend_;
  InfinityConfig config_;
  InfinityWeights weights_;
  TraceHook trace_;
};

}  // namespace inf
