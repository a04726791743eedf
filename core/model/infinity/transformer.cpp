#include "model/infinity/transformer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "common/error.h"
#include "model/compute.h"
#include "model/infinity/rope_table.h"

namespace inf {

// Everything that depends on the text and stays fixed for the whole image (spec 5.1).
struct InfinityTransformer::TextCondition {
  int prompts = 0;                     // B; activations have 2B rows: [0, B) cond, [B, 2B) uncond
  std::vector<int32_t> lengths;        // 2B text lengths
  Tensor cond;                         // [2B, D] pooled condition (start token, AdaLN input)
  struct Modulation {
    Tensor gamma1, gamma2;             // [2B, 1, C] views: gates of the self-attention and FFN branches
    Tensor scale1_plus_one, scale2_plus_one;  // [2B, 1, C]
    Tensor shift1, shift2;             // [2B, 1, C] views
  };
  std::vector<Modulation> blocks;
  std::vector<Tensor> cross_keys, cross_values;  // per block [2B, Lmax, H, hd] views of the text projections
  Tensor head_scale_plus_one, head_shift;        // [2B, 1, C]
};

// Per-image state that grows scale by scale: keys and values of every block for every token
// generated so far, laid out [L, 2B, H, hd] so one scale's tokens are one contiguous slice.
struct InfinityTransformer::KvCache {
  std::vector<Tensor> keys, values;
  Tensor rope_cos, rope_sin;  // [total tokens, hd/2] on the backend
};

namespace {

constexpr float kL2NormEps = 1e-12f;  // F.normalize's default, used by cosine attention

std::vector<float> per_scale(const std::vector<float>& values, int scales, const char* what) {
  if (values.size() == 1) return std::vector<float>(static_cast<size_t>(scales), values[0]);
  INF_CHECK(static_cast<int>(values.size()) == scales, ErrorKind::invalid_argument, what, " has ", values.size(),
            " values; the schedule has ", scales, " scales (give one value or one per scale)");
  return values;
}

int32_t total_length(const PromptFeatures& prompts) {
  int64_t total = 0;
  for (int32_t length : prompts.lengths) total += length;
  return static_cast<int32_t>(total);
}

void check_prompts(const PromptFeatures& prompts, const InfinityConfig& config, const char* what) {
  INF_CHECK(!prompts.lengths.empty(), ErrorKind::invalid_argument, what, ": no prompts");
  for (int32_t length : prompts.lengths)
    INF_CHECK(length > 0, ErrorKind::invalid_argument, what, ": a prompt has no tokens (empty text)");
  INF_CHECK(prompts.features.defined() && prompts.features.device().is_cpu() && prompts.features.ndim() == 2,
            ErrorKind::invalid_argument, what, ": features must be a host [tokens, channels] tensor, got ",
            prompts.features.describe());
  INF_CHECK(prompts.features.dim(0) == total_length(prompts), ErrorKind::invalid_argument, what, ": features have ",
            prompts.features.dim(0), " rows but the lengths add up to ", total_length(prompts));
  INF_CHECK(prompts.features.dim(1) == config.text_channels, ErrorKind::invalid_argument, what, ": features are ",
            prompts.features.dim(1), " wide; the model's text encoder width is ", config.text_channels);
}

// Row range [first, first + count) of a host [rows, C] tensor copied into `out` at row `at`.
void copy_rows(const Tensor& source, int64_t first, int64_t count, float* out) {
  Tensor rows = Tensor::host(DType::f32, {count, source.dim(1)});
  create_backend("cpu")->convert(rows, source.narrow(0, first, count));
  std::memcpy(out, rows.data(), rows.nbytes());
}

// bits [B, n, d] u8 takes given[b, t, :] wherever keep[b, t] is 1 (region editing).
void keep_given_bits(const Tensor& given, const Tensor& keep, Tensor& bits) {
  const Tensor source = packed_host_copy(given);
  const int64_t tokens = bits.dim(0) * bits.dim(1), width = bits.dim(2);
  const auto* flags = static_cast<const uint8_t*>(keep.data());
  const auto* from = static_cast<const uint8_t*>(source.data());
  auto* to = static_cast<uint8_t*>(bits.data());
  for (int64_t t = 0; t < tokens; ++t)
    if (flags[t] != 0) std::memcpy(to + t * width, from + t * width, static_cast<size_t>(width));
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

InfinityTransformer::InfinityTransformer(Backend& backend, const WeightStore& weights, const InfinityOptions& options)
    : backend_(backend),
      config_(InfinityConfig::from_weights(weights)),
      weights_(InfinityWeights::load(backend, weights, config_, options.block_weight_dtype)) {}

void InfinityTransformer::validate(const GenerateRequest& request) const {
  check_prompts(request.prompts, config_, "prompts");
  const int prompts = static_cast<int>(request.prompts.lengths.size());
  if (request.negative) {
    check_prompts(*request.negative, config_, "negative prompt");
    const auto count = static_cast<int>(request.negative->lengths.size());
    INF_CHECK(count == 1 || count == prompts, ErrorKind::invalid_argument, "give one negative prompt or one per prompt (",
              prompts, "), not ", count);
  } else {
    for (int32_t length : request.prompts.lengths)
      INF_CHECK(length <= config_.text_max_length, ErrorKind::invalid_argument, "a prompt has ", length,
                " tokens; the model's learned unconditional text covers ", config_.text_max_length);
  }
  const ScaleSchedule& schedule = request.schedule;
  INF_CHECK(schedule.num_scales() > 0, ErrorKind::invalid_argument, "empty scale schedule");
  INF_CHECK(schedule.num_scales() <= config_.scale_levels, ErrorKind::invalid_argument, "the schedule has ",
            schedule.num_scales(), " scales; the model has level embeddings for ", config_.scale_levels);
  per_scale(request.cfg, schedule.num_scales(), "cfg");
  per_scale(request.tau, schedule.num_scales(), "tau");
  for (float tau : request.tau)
    INF_CHECK(tau > 0 && std::isfinite(tau), ErrorKind::invalid_argument, "tau must be positive, got ", tau);
  const int patch = request.spatial_patch;
  INF_CHECK(patch >= 1 && patch <= 4 && config_.bits_per_token % (patch * patch) == 0, ErrorKind::invalid_argument,
            "spatial patch ", patch, " does not divide the model's ", config_.bits_per_token, " bits per token");
  INF_CHECK(static_cast<int>(request.forced_bits.size()) <= schedule.num_scales(), ErrorKind::invalid_argument,
            request.forced_bits.size(), " scales of given bits for a ", schedule.num_scales(), "-scale schedule");
  for (size_t k = 0; k < request.forced_bits.size(); ++k) {
    const Tensor& bits = request.forced_bits[k];
    const Shape expected{prompts, schedule.tokens(static_cast<int>(k)), config_.bits_per_token};
    INF_CHECK(bits.defined() && bits.dtype() == DType::u8 && bits.shape() == expected && bits.device().is_cpu(),
              ErrorKind::invalid_argument, "given bits for scale ", k, " are ", bits.describe(), ", expected u8",
              shape_string(expected), " on the host");
  }
  INF_CHECK(request.forced_keep.size() <= request.forced_bits.size(), ErrorKind::invalid_argument,
            request.forced_keep.size(), " keep masks for ", request.forced_bits.size(), " scales of given bits");
  for (size_t k = 0; k < request.forced_keep.size(); ++k) {
    const Tensor& keep = request.forced_keep[k];
    if (!keep.defined()) continue;
    const Shape expected{prompts, schedule.tokens(static_cast<int>(k))};
    INF_CHECK(keep.dtype() == DType::u8 && keep.shape() == expected && keep.device().is_cpu() && keep.is_contiguous(),
              ErrorKind::invalid_argument, "keep mask for scale ", k, " is ", keep.describe(), ", expected u8",
              shape_string(expected), " on the host");
  }
}

InfinityTransformer::TextCondition InfinityTransformer::encode_text(const GenerateRequest& request) const {
  const Compute compute(backend_);
  const InfinityConfig& c = config_;
  TextCondition text;
  const PromptFeatures& prompts = request.prompts;
  text.prompts = static_cast<int>(prompts.lengths.size());
  const int rows = 2 * text.prompts;

  // Unconditional rows use the learned cfg_uncond[:L] for prompt length L (spec 11.7), or the
  // negative prompt's features.
  text.lengths = prompts.lengths;
  for (int b = 0; b < text.prompts; ++b) {
    const auto& negative = request.negative;
    text.lengths.push_back(negative ? negative->lengths[negative->lengths.size() == 1 ? 0 : static_cast<size_t>(b)]
                                    : prompts.lengths[static_cast<size_t>(b)]);
  }
  const int64_t longest = *std::max_element(text.lengths.begin(), text.lengths.end());

  // Padded text [2B, Lmax, Ct5]: attention masks the padding through the per-row lengths.
  Tensor padded = Tensor::host(DType::f32, {rows, longest, c.text_channels});
  float* out = padded.data_as<float>();
  const int64_t row_stride = longest * c.text_channels;
  int64_t offset = 0;
  for (int b = 0; b < text.prompts; ++b) {
    const int32_t length = prompts.lengths[static_cast<size_t>(b)];
    copy_rows(prompts.features, offset, length, out + b * row_stride);
    offset += length;
  }
  for (int b = 0; b < text.prompts; ++b) {
    float* destination = out + (text.prompts + b) * row_stride;
    const int32_t length = text.lengths[static_cast<size_t>(text.prompts + b)];
    if (!request.negative) {
      copy_rows(weights_.cfg_uncond, 0, length, destination);
      continue;
    }
    const auto& negative = *request.negative;
    int64_t first = 0;
    if (negative.lengths.size() > 1)
      for (int i = 0; i < b; ++i) first += negative.lengths[static_cast<size_t>(i)];
    copy_rows(negative.features, first, length, destination);
  }

  const Tensor normed = compute.rms_norm(compute.upload(padded), weights_.text_norm_weight, c.norm_eps);

  // Attentive pool: one learned query per head attends over each sequence's own tokens.
  const Tensor pool_kv = compute.linear(normed, weights_.pool_kv);  // [2B, Lmax, 2D]
  const int64_t d_cond = c.condition_width;
  const Tensor pool_keys = pool_kv.narrow(-1, 0, d_cond).unflatten(-1, {c.pool_heads, c.pool_head_dim});
  const Tensor pool_values = pool_kv.narrow(-1, d_cond, d_cond).unflatten(-1, {c.pool_heads, c.pool_head_dim});
  // The same query for every row: a stride-0 view, no copies.
  const Tensor& query = weights_.pool_query;
  const Tensor queries(query.buffer(), query.dtype(), {rows, 1, c.pool_heads, c.pool_head_dim},
                       {0, 0, c.pool_head_dim, 1}, query.byte_offset());
  const float pool_scale = 1.0f / std::sqrt(static_cast<float>(c.pool_head_dim));
  const Tensor pooled = compute.attention(queries, pool_keys, pool_values, pool_scale, &text.lengths);
  text.cond = compute.linear(pooled.reshape({rows, d_cond}), weights_.pool_proj);  // [2B, D]
  trace("pooled_cond", text.cond);

  // Cross-attention source: Linear -> GELU(tanh) -> Linear of the normalised text.
  const Tensor ca_src = compute.linear(compute.unary(UnaryOp::gelu_tanh, compute.linear(normed, weights_.text_proj_in)),
                                       weights_.text_proj_out);  // [2B, Lmax, D]
  if (trace_) {
    // The reference packs the valid rows of every sequence: [sum of 2B lengths, D].
    const Tensor host = compute.download(ca_src);
    int64_t total = 0;
    for (int32_t length : text.lengths) total += length;
    Tensor packed = Tensor::host(DType::f32, {total, d_cond});
    int64_t row = 0;
    for (int r = 0; r < rows; ++r) {
      const int32_t length = text.lengths[static_cast<size_t>(r)];
      std::memcpy(packed.data_as<float>() + row * d_cond, host.data_as<float>() + r * longest * d_cond,
                  static_cast<size_t>(length * d_cond) * sizeof(float));
      row += length;
    }
    trace("ca_src", packed);
  }

  // AdaLN: one [6, C] modulation per row for the whole image, plus each block's offsets.
  const Tensor condition_act = compute.unary(UnaryOp::silu, text.cond);
  const Tensor shared = compute.linear(condition_act, weights_.shared_ada).reshape({rows, 6, c.width});
  trace("shared_ada", shared);
  for (const auto& block : weights_.blocks) {
    const Tensor ada = compute.add(shared, block.ada_gss);  // [2B, 6, C]
    TextCondition::Modulation m;
    m.gamma1 = ada.narrow(1, 0, 1);
    m.gamma2 = ada.narrow(1, 1, 1);
    m.scale1_plus_one = compute.scale(ada.narrow(1, 2, 1), 1.0f, 1.0f);
    m.scale2_plus_one = compute.scale(ada.narrow(1, 3, 1), 1.0f, 1.0f);
    m.shift1 = ada.narrow(1, 4, 1);
    m.shift2 = ada.narrow(1, 5, 1);
    text.blocks.push_back(m);
    // Text keys and values do not change across scales: project them once per image.
    const Tensor kv = compute.linear(ca_src, block.cross_kv);  // [2B, Lmax, 2C]
    text.cross_keys.push_back(kv.narrow(-1, 0, c.width).unflatten(-1, {c.heads, c.head_dim}));
    text.cross_values.push_back(kv.narrow(-1, c.width, c.width).unflatten(-1, {c.heads, c.head_dim}));
  }
  const Tensor head_ada = compute.linear(condition_act, weights_.head_ada).reshape({rows, 2, c.width});
  text.head_scale_plus_one = compute.scale(head_ada.narrow(1, 0, 1), 1.0f, 1.0f);
  text.head_shift = head_ada.narrow(1, 1, 1);
  return text;
}

}  // namespace inf

namespace inf {

Tensor InfinityTransformer::run_blocks(const Tensor& input, int scale, const ScaleSchedule& schedule,
                                       const TextCondition& text, KvCache& cache) const {
  const Compute compute(backend_);
  const InfinityConfig& c = config_;
  const int64_t tokens = schedule.tokens(scale), first = schedule.offset(scale);
  const int64_t seen = first + tokens;  // keys visible to this scale: every token so far
  const Tensor cos = cache.rope_cos.narrow(0, first, tokens);  // [n, hd/2]
  const Tensor sin = cache.rope_sin.narrow(0, first, tokens);
  const float cross_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  const Shape merged{input.dim(0), tokens, c.width};  // [2B, n, C]

  Tensor x = input;
  for (int j = 0; j < c.depth; ++j) {
    const InfinityBlockWeights& w = weights_.blocks[static_cast<size_t>(j)];
    const TextCondition::Modulation& m = text.blocks[static_cast<size_t>(j)];

    // Self-attention: cosine attention (unit q and k, per-head learned temperature on q) with
    // 2-D RoPE; the softmax scale is 1.
    Tensor h = compute.add(compute.mul(compute.layer_norm(x, nullptr, nullptr, c.norm_eps), m.scale1_plus_one), m.shift1);
    const Tensor qkv = compute.linear(h, w.self_qkv);  // [2B, n, 3C]
    const Tensor q = qkv.narrow(-1, 0, c.width).unflatten(-1, {c.heads, c.head_dim});  // [2B, n, H, hd]
    const Tensor k = qkv.narrow(-1, c.width, c.width).unflatten(-1, {c.heads, c.head_dim});
    const Tensor v = qkv.narrow(-1, 2 * c.width, c.width).unflatten(-1, {c.heads, c.head_dim});
    const Tensor q_unit = compute.mul(compute.l2_normalize(q, kL2NormEps), w.self_head_scale);
    const Tensor q_rotated = compute.rope(q_unit, cos, sin);
    const Tensor k_rotated = compute.rope(compute.l2_normalize(k, kL2NormEps), cos, sin);
    const Tensor& keys = cache.keys[static_cast<size_t>(j)];
    const Tensor& values = cache.values[static_cast<size_t>(j)];
    compute.copy_into(keys.narrow(0, first, tokens), k_rotated.permute({1, 0, 2, 3}));
    compute.copy_into(values.narrow(0, first, tokens), v.permute({1, 0, 2, 3}));
    const Tensor attended = compute.attention(q_rotated, keys.narrow(0, 0, seen).permute({1, 0, 2, 3}),
                                              values.narrow(0, 0, seen).permute({1, 0, 2, 3}), 1.0f);
    x = compute.add(x, compute.mul(compute.linear(attended.reshape(merged), w.self_proj), m.gamma1));

    // Cross-attention to this row's own text (variable length), plain softmax scaling.
    const Tensor normed = compute.layer_norm(x, &w.cross_norm_weight, &w.cross_norm_bias, c.norm_eps);
    const Tensor cross_q = compute.linear(normed, w.cross_q).unflatten(-1, {c.heads, c.head_dim});
    const Tensor cross = compute.attention(cross_q, text.cross_keys[static_cast<size_t>(j)],
                                           text.cross_values[static_cast<size_t>(j)], cross_scale, &text.lengths);
    x = compute.add(x, compute.linear(cross.reshape(merged), w.cross_proj));

    // FFN: Linear -> GELU(tanh) -> Linear, gated.
    h = compute.add(compute.mul(compute.layer_norm(x, nullptr, nullptr, c.norm_eps), m.scale2_plus_one), m.shift2);
    const Tensor ffn = compute.linear(compute.unary(UnaryOp::gelu_tanh, compute.linear(h, w.ffn_up)), w.ffn_down);
    x = compute.add(x, compute.mul(ffn, m.gamma2));
    if (trace_) trace("block_out.s" + std::to_string(scale) + ".b" + std::to_string(j), x);
  }
  return x;
}

Tensor InfinityTransformer::head_logits(const Tensor& x, const TextCondition& text) const {
  const Compute compute(backend_);
  const Tensor y = compute.add(
      compute.mul(compute.layer_norm(x, nullptr, nullptr, config_.norm_eps), text.head_scale_plus_one), text.head_shift);
  return compute.linear(y, weights_.head);  // [2B, n, 2d]
}

GenerateResult InfinityTransformer::generate(const GenerateRequest& request) {
  validate(request);
  const Compute compute(backend_);
  const InfinityConfig& c = config_;
  const ScaleSchedule& schedule = request.schedule;
  const int scales = schedule.num_scales();
  const std::vector<float> cfg = per_scale(request.cfg, scales, "cfg");
  const std::vector<float> tau = per_scale(request.tau, scales, "tau");

  const TextCondition text = encode_text(request);
  const int prompts = text.prompts, rows = 2 * prompts;

  KvCache cache;
  const RopeTable rope = make_rope_table(schedule, c.head_dim);
  if (trace_) {
    trace("rope_cos", rope.cos);
    trace("rope_sin", rope.sin);
    trace("rope_pos", rope.positions);
  }
  cache.rope_cos = compute.upload(rope.cos);
  cache.rope_sin = compute.upload(rope.sin);
  for (int j = 0; j < c.depth; ++j) {
    cache.keys.push_back(compute.alloc({schedule.total_tokens(), rows, c.heads, c.head_dim}));
    cache.values.push_back(compute.alloc({schedule.total_tokens(), rows, c.heads, c.head_dim}));
  }

  const ScaleGrid final_grid = schedule.grids.back();
  const int patch = request.spatial_patch;
  GenerateResult result;
  result.summed_codes = Tensor::host(DType::f32, {prompts, c.bits_per_token / (patch * patch), final_grid.h * patch,
                                                  final_grid.w * patch});  // [B, dv, p H_L, p W_L]

  // Scale 0 is the start token: the pooled condition plus a learned position.
  Tensor x = compute.add(text.cond.reshape({rows, 1, c.width}), weights_.pos_start);  // [2B, 1, C]
  for (int k = 0; k < scales; ++k) {
    const auto start = std::chrono::steady_clock::now();
    const std::string suffix = ".s" + std::to_string(k);
    const ScaleGrid grid = schedule.grids[static_cast<size_t>(k)];
    compute.add_into(x, weights_.level_embed.narrow(0, k, 1));
    trace("scale_input" + suffix, x);
    x = run_blocks(x, k, schedule, text, cache);

    const Tensor logits = compute.download(head_logits(x, text));  // [2B, n, 2d]
    const Tensor cond_logits = logits.narrow(0, 0, prompts), uncond_logits = logits.narrow(0, prompts, prompts);
    trace("logits_cond" + suffix, cond_logits);
    trace("logits_uncond" + suffix, uncond_logits);
    Tensor mixed = Tensor::host(DType::f32, cond_logits.shape());
    mix_cfg_logits(cond_logits, uncond_logits, cfg[static_cast<size_t>(k)], tau[static_cast<size_t>(k)], mixed);
    trace("logits_mixed" + suffix, mixed);

    Tensor bits;
    const bool forced = k < static_cast<int>(request.forced_bits.size());
    const bool partly_forced = forced && static_cast<size_t>(k) < request.forced_keep.size() &&
                               request.forced_keep[static_cast<size_t>(k)].defined();
    if (forced && !partly_forced) {
      bits = request.forced_bits[static_cast<size_t>(k)];
    } else if (partly_forced) {
      bits = Tensor::host(DType::u8, {prompts, schedule.tokens(k), c.bits_per_token});
      sample_bits(mixed, request.sampling, k, 0, bits);
      keep_given_bits(request.forced_bits[static_cast<size_t>(k)], request.forced_keep[static_cast<size_t>(k)], bits);
    } else {
      bits = Tensor::host(DType::u8, {prompts, schedule.tokens(k), c.bits_per_token});
      sample_bits(mixed, request.sampling, k, 0, bits);
    }
    result.bits.push_back(bits);
    add_upsampled(result.summed_codes,
                  bits_to_codes(unpatchify_bits(bits, grid.h, grid.w, patch), grid.h * patch, grid.w * patch));

    if (k + 1 < scales) {
      // Next input: the running sum of codes, bilinearly downsampled to the next grid.
      const ScaleGrid next = schedule.grids[static_cast<size_t>(k + 1)];
      const Tensor latent = downsample_for_next_scale(result.summed_codes, next.h * patch, next.w * patch);
      const Tensor tokens = flatten_tokens(patchify_latent(latent, patch));  // [B, n', d]
      trace("word_embed_in.s" + std::to_string(k + 1), tokens);
      const Tensor embedded = compute.linear(compute.upload(tokens), weights_.word_embed);  // [B, n', C]
      x = compute.alloc({rows, next.tokens(), c.width});
      compute.copy_into(x.narrow(0, 0, prompts), embedded);  // both CFG halves see the same input
      compute.copy_into(x.narrow(0, prompts, prompts), embedded);
    }
    if (request.on_scale) {
      ScaleProgress progress;
      progress.scale = k;
      progress.num_scales = scales;
      progress.seconds = seconds_since(start);
      progress.bits = &result.bits.back();
      if (!request.on_scale(progress)) {
        result.cancelled = true;
        return result;
      }
    }
  }
  trace("summed_codes", result.summed_codes);
  return result;
}

}  // namespace inf
