#include "model/vae/bsq_vae.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "common/error.h"
#include "model/compute.h"
#include "model/infinity/bit_sampler.h"

namespace inf {
namespace {

// The VAE's downsample: zero-pad right and bottom by one, then a 3x3 stride-2 conv.
constexpr Conv2dParams kDownsample{2, 0, 1, 0, 1};

class VaeLoader {
 public:
  VaeLoader(Backend& backend, const WeightStore& store, const VaeConfig& config, DType conv_dtype)
      : backend_(backend), store_(store), config_(config), conv_dtype_(conv_dtype) {}

  VaeConv conv(const std::string& module, int64_t in_channels, int64_t kernel) {
    VaeConv layer;
    const std::string weight = config_.conv_key(module, "weight");
    const TensorRecord& record = store_.record(weight);
    INF_CHECK(record.shape.size() == 4 && record.shape[1] == in_channels && record.shape[2] == kernel &&
                  record.shape[3] == kernel,
              ErrorKind::invalid_data, store_.source(), ": tensor '", weight, "' has shape ",
              shape_string(record.shape), ", expected [*, ", in_channels, ", ", kernel, ", ", kernel, "]");
    layer.weight = place(store_.get(weight), conv_dtype_);
    layer.bias = place(store_.get(config_.conv_key(module, "bias"), {record.shape[0]}), DType::f32);
    return layer;
  }

  VaeNorm norm(const std::string& module, int64_t channels) {
    VaeNorm layer;
    layer.weight = place(store_.get(config_.norm_key(module, "weight"), {channels}), DType::f32);
    layer.bias = place(store_.get(config_.norm_key(module, "bias"), {channels}), DType::f32);
    layer.groups = VaeConfig::groups_for(static_cast<int>(channels));
    INF_CHECK(channels % layer.groups == 0, ErrorKind::invalid_data, store_.source(), ": ", module, " has ", channels,
              " channels, not divisible into GroupNorm groups of 32 or 24");
    return layer;
  }

  // Returns the block and sets `channels` to its output channel count.
  VaeResBlock block(const std::string& module, int64_t& channels, int64_t out_channels) {
    VaeResBlock b;
    b.norm1 = norm(module + ".norm1", channels);
    b.conv1 = conv(module + ".conv1", channels, 3);
    INF_CHECK(b.conv1.weight.dim(0) == out_channels, ErrorKind::invalid_data, store_.source(), ": ", module,
              ".conv1 makes ", b.conv1.weight.dim(0), " channels, expected ", out_channels);
    b.norm2 = norm(module + ".norm2", out_channels);
    b.conv2 = conv(module + ".conv2", out_channels, 3);
    if (channels != out_channels) b.shortcut = conv(module + ".nin_shortcut", channels, 1);
    channels = out_channels;
    return b;
  }

  void finish() {
    backend_.synchronize();
    staged_.clear();
  }

 private:
  Tensor place(const Tensor& host, DType dtype) {
    Tensor converted = Tensor::host(dtype, host.shape());
    create_backend("cpu")->convert(converted, host);
    Tensor placed = backend_.alloc(dtype, host.shape());
    backend_.upload(placed, converted);
    staged_.push_back(converted);  // alive until the uploads are done
    return placed;
  }

  Backend& backend_;
  const WeightStore& store_;
  const VaeConfig& config_;
  DType conv_dtype_;
  std::vector<Tensor> staged_;
};

// Area resize on the host, as PyTorch's adaptive average pooling computes it: output cell i
// averages input rows [floor(i*H/h), ceil((i+1)*H/h)), summing in float row by row.
Tensor area_resize_host(const Tensor& x, int64_t out_h, int64_t out_w) {
  const int64_t batch = x.dim(0), channels = x.dim(1), in_h = x.dim(2), in_w = x.dim(3);
  Tensor out = Tensor::host(DType::f32, {batch, channels, out_h, out_w});  // [B, C, h, w]
  const float* in = x.data_as<float>();
  float* result = out.data_as<float>();
  for (int64_t plane = 0; plane < batch * channels; ++plane)
    for (int64_t i = 0; i < out_h; ++i) {
      const int64_t top = i * in_h / out_h, bottom = ((i + 1) * in_h + out_h - 1) / out_h;
      for (int64_t j = 0; j < out_w; ++j) {
        const int64_t left = j * in_w / out_w, right = ((j + 1) * in_w + out_w - 1) / out_w;
        float sum = 0.0f;
        for (int64_t y = top; y < bottom; ++y)
          for (int64_t xx = left; xx < right; ++xx) sum += in[(plane * in_h + y) * in_w + xx];
        result[(plane * out_h + i) * out_w + j] = sum / static_cast<float>(bottom - top) / static_cast<float>(right - left);
      }
    }
  return out;
}

// BSQ: each token's residual vector projected onto the unit sphere, one bit per channel
// (positive -> 1). r is [B, d, h, w]; bits come out [B, h*w, d].
Tensor sign_bits(const Tensor& r) {
  const int64_t batch = r.dim(0), bits = r.dim(1), tokens = r.dim(2) * r.dim(3);
  Tensor out = Tensor::host(DType::u8, {batch, tokens, bits});
  const float* values = r.data_as<float>();
  uint8_t* result = out.data_as<uint8_t>();
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t c = 0; c < bits; ++c)
        // Dividing by the positive norm never changes a sign, so the sign of r decides.
        result[(b * tokens + t) * bits + c] = values[(b * bits + c) * tokens + t] > 0.0f ? 1 : 0;
  return out;
}

std::string fingerprint(const WeightStore& store, const std::string& name) {
  const Tensor view = store.get(name);
  Tensor packed = Tensor::host(view.dtype(), view.shape());
  create_backend("cpu")->convert(packed, view);
  uint64_t hash = 1469598103934665603ull;  // FNV-1a, 64-bit
  const auto* bytes = static_cast<const uint8_t*>(packed.data());
  for (size_t i = 0; i < packed.nbytes(); ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

}  // namespace

BsqVae::BsqVae(Backend& backend, const WeightStore& weights, DType conv_dtype)
    : backend_(backend), config_(VaeConfig::from_weights(weights)) {
  INF_CHECK(dtype_is_float(conv_dtype), ErrorKind::invalid_argument, "VAE conv weights must be a float dtype");
  VaeLoader load(backend, weights, config_, conv_dtype);
  const int64_t mid = config_.mid_channels;
  if (config_.has_decoder()) {
    decoder_in_ = load.conv("decoder.conv_in", config_.bits, 3);
    int64_t channels = decoder_in_.weight.dim(0);
    for (int i = 1; i <= 2; ++i) decoder_mid_.push_back(load.block("decoder.mid.block_" + std::to_string(i), channels, mid));
    decoder_levels_.resize(config_.decoder_channels.size());
    for (int l = static_cast<int>(decoder_levels_.size()) - 1; l >= 0; --l) {
      const std::string level = "decoder.up." + std::to_string(l);
      for (int b = 0; b < config_.decoder_blocks_per_level; ++b)
        decoder_levels_[static_cast<size_t>(l)].blocks.push_back(
            load.block(level + ".block." + std::to_string(b), channels, config_.decoder_channels[static_cast<size_t>(l)]));
      if (config_.decoder_upsample[static_cast<size_t>(l)])
        decoder_levels_[static_cast<size_t>(l)].resample = load.conv(level + ".upsample.conv", channels, 3);
    }
    decoder_norm_out_ = load.norm("decoder.norm_out", channels);
    decoder_out_ = load.conv("decoder.conv_out", channels, 3);
  }
  if (config_.has_encoder()) {
    encoder_in_ = load.conv("encoder.conv_in", 3, 3);
    int64_t channels = encoder_in_.weight.dim(0);
    encoder_levels_.resize(config_.encoder_channels.size());
    for (size_t l = 0; l < encoder_levels_.size(); ++l) {
      const std::string level = "encoder.down." + std::to_string(l);
      for (int b = 0; b < config_.encoder_blocks_per_level; ++b)
        encoder_levels_[l].blocks.push_back(
            load.block(level + ".block." + std::to_string(b), channels, config_.encoder_channels[l]));
      if (config_.encoder_downsample[l]) encoder_levels_[l].resample = load.conv(level + ".downsample.conv", channels, 3);
    }
    for (int i = 1; i <= 2; ++i) encoder_mid_.push_back(load.block("encoder.mid.block_" + std::to_string(i), channels, channels));
    encoder_norm_out_ = load.norm("encoder.norm_out", channels);
    encoder_out_ = load.conv("encoder.conv_out", channels, 3);
  }
  load.finish();
  const std::string fingerprinted = config_.has_decoder() ? config_.conv_key("decoder.conv_in", "weight")
                                                          : config_.conv_key("encoder.conv_out", "weight");
  identity_ = "bsq-vae d" + std::to_string(config_.bits) + " s" + std::to_string(config_.patch) + " " +
              fingerprint(weights, fingerprinted);
}

Tensor BsqVae::place(const Tensor& host) const {
  if (host.device() == backend_.device()) return host;
  Tensor contiguous = host;
  if (!host.is_contiguous()) {
    contiguous = Tensor::host(host.dtype(), host.shape());
    create_backend("cpu")->convert(contiguous, host);
  }
  Tensor placed = backend_.alloc(contiguous.dtype(), contiguous.shape());
  backend_.upload(placed, contiguous);
  backend_.synchronize();  // the host tensor may be a temporary of the caller
  return placed;
}

Tensor BsqVae::norm_swish(const VaeNorm& norm, const Tensor& x, VaeNormStats* stats) const {
  const Compute compute(backend_);
  if (stats != nullptr) return stats->norm_swish(compute, norm, x, config_.norm_eps);
  return compute.group_norm(x, norm.groups, &norm.weight, &norm.bias, config_.norm_eps, /*swish=*/true);
}

Tensor BsqVae::run_block(const VaeResBlock& block, const Tensor& x, VaeNormStats* stats) const {
  const Compute compute(backend_);
  const Conv2dParams same = Conv2dParams::same(1);
  Tensor h = norm_swish(block.norm1, x, stats);
  h = compute.conv2d(h, block.conv1.weight, &block.conv1.bias, same);
  h = norm_swish(block.norm2, h, stats);
  h = compute.conv2d(h, block.conv2.weight, &block.conv2.bias, same);
  const Tensor skip = block.shortcut.weight.defined()
                          ? compute.conv2d(x, block.shortcut.weight, &block.shortcut.bias, Conv2dParams{})
                          : x;
  return compute.add(skip, h);
}

Tensor BsqVae::run_decoder(const Tensor& input, VaeNormStats* stats, int first_stage, int end_stage) const {
  const Compute compute(backend_);
  const Conv2dParams same = Conv2dParams::same(1);
  const int levels = static_cast<int>(decoder_levels_.size());
  if (end_stage < 0) end_stage = levels + 2;
  Tensor h = place(input);
  for (int stage = first_stage; stage < end_stage; ++stage) {
    if (stage == 0) {
      h = compute.conv2d(h, decoder_in_.weight, &decoder_in_.bias, same);  // [B, mid, h, w]
      for (const auto& block : decoder_mid_) h = run_block(block, h, stats);
    } else if (stage <= levels) {
      const VaeLevel& level = decoder_levels_[static_cast<size_t>(levels - stage)];
      for (const auto& block : level.blocks) h = run_block(block, h, stats);
      if (level.resample.weight.defined())
        h = compute.conv2d(compute.upsample_nearest(h, 2), level.resample.weight, &level.resample.bias,
                           same);  // [B, C, 2h, 2w]
    } else {
      h = norm_swish(decoder_norm_out_, h, stats);
      h = compute.conv2d(h, decoder_out_.weight, &decoder_out_.bias, same);  // [B, 3, H, W]
    }
  }
  return h;
}

// Encoder stages: 0..L-1 the levels (conv_in first), L the middle blocks and the output.
Tensor BsqVae::run_encoder(const Tensor& input, VaeNormStats* stats, int first_stage, int end_stage) const {
  const Compute compute(backend_);
  const Conv2dParams same = Conv2dParams::same(1);
  const int levels = static_cast<int>(encoder_levels_.size());
  if (end_stage < 0) end_stage = levels + 1;
  Tensor h = place(input);
  for (int stage = first_stage; stage < end_stage; ++stage) {
    if (stage < levels) {
      if (stage == 0) h = compute.conv2d(h, encoder_in_.weight, &encoder_in_.bias, same);  // [B, base, H, W]
      const VaeLevel& level = encoder_levels_[static_cast<size_t>(stage)];
      for (const auto& block : level.blocks) h = run_block(block, h, stats);
      if (level.resample.weight.defined())
        h = compute.conv2d(h, level.resample.weight, &level.resample.bias, kDownsample);  // [B, C, H/2, W/2]
    } else {
      for (const auto& block : encoder_mid_) h = run_block(block, h, stats);
      h = norm_swish(encoder_norm_out_, h, stats);
      h = compute.conv2d(h, encoder_out_.weight, &encoder_out_.bias, same);  // [B, d, h, w]
    }
  }
  return h;
}

std::vector<double> BsqVae::stage_sizes(bool encoder, int64_t h, int64_t w) const {
  const auto pixels = static_cast<double>(h * w);  // latent positions
  std::vector<double> sizes;
  if (!encoder) {
    double scale = 1;  // pixels per latent position, squared
    int64_t channels = config_.mid_channels;
    sizes.push_back(static_cast<double>(channels) * pixels);
    for (size_t l = config_.decoder_channels.size(); l-- > 0;) {
      const int64_t out = config_.decoder_channels[l];
      double largest = static_cast<double>(std::max(channels, out)) * scale * pixels;
      channels = out;
      if (config_.decoder_upsample[l]) largest = std::max(largest, static_cast<double>(out) * (scale *= 4) * pixels);
      sizes.push_back(largest);
    }
    sizes.push_back(static_cast<double>(channels) * scale * pixels);
  } else {
    auto scale = static_cast<double>(config_.patch * config_.patch);
    int64_t channels = config_.base_channels;
    for (size_t l = 0; l < config_.encoder_channels.size(); ++l) {
      sizes.push_back(static_cast<double>(std::max<int64_t>(channels, config_.encoder_channels[l])) * scale * pixels);
      channels = config_.encoder_channels[l];
      if (config_.encoder_downsample[l]) scale /= 4;
    }
    sizes.push_back(static_cast<double>(channels) * scale * pixels);
  }
  return sizes;
}

// Which stages run on the whole image: the decoder's first `split`, the encoder's from `split`
// on. The largest tensor of the whole-image stages (stage_sizes) may not exceed the largest of
// a tile's crop in the tiled stages, so the untiled part does not raise the memory bound.
int BsqVae::untiled_split(bool encoder, int64_t h, int64_t w, const VaeTiling& tiling) const {
  const int64_t margin = vae_tile_margin(tiling);
  const std::vector<double> whole = stage_sizes(encoder, h, w);
  const std::vector<double> crop = stage_sizes(encoder, std::min<int64_t>(h, tiling.tile + 2 * margin),
                                               std::min<int64_t>(w, tiling.tile + 2 * margin));
  const int stages = static_cast<int>(whole.size());
  auto largest = [](const std::vector<double>& sizes, int begin, int end) {
    double value = 0;
    for (int s = begin; s < end; ++s) value = std::max(value, sizes[static_cast<size_t>(s)]);
    return value;
  };
  if (!tiling.untiled_low_res) return encoder ? stages : 0;
  if (encoder) {
    int split = stages;  // tiled [0, split), whole [split, stages)
    while (split > 1 && largest(whole, split - 1, stages) <= largest(crop, 0, split - 1)) --split;
    return split;
  }
  int split = 0;  // whole [0, split), tiled [split, stages)
  while (split + 1 < stages && largest(whole, 0, split + 1) <= largest(crop, split + 1, stages)) ++split;
  return split;
}

VaeImage BsqVae::decode(const Tensor& latent) const { return decode(latent, VaeTiling{}); }

VaeImage BsqVae::decode(const Tensor& latent, const VaeTiling& tiling) const {
  INF_CHECK(config_.has_decoder(), ErrorKind::invalid_argument, "these VAE weights have no decoder");
  INF_CHECK(latent.ndim() == 4 && latent.dim(1) == config_.bits, ErrorKind::invalid_argument, "VAE decode: latent ",
            latent.describe(), " should be [B, ", config_.bits, ", h, w]");
  const Compute compute(backend_);
  VaeImage image;
  if (tiling.tile <= 0 || (latent.dim(2) <= tiling.tile && latent.dim(3) <= tiling.tile)) {
    image.unclamped = compute.download(run_decoder(latent, nullptr, 0, -1));
  } else {
    const int split = untiled_split(false, latent.dim(2), latent.dim(3), tiling);
    const Tensor features = split > 0 ? run_decoder(latent, nullptr, 0, split) : latent;  // [B, C, h*f, w*f]
    const auto scale = static_cast<int>(features.dim(2) / latent.dim(2));
    image.unclamped = run_vae_tiled(compute, features, scale, config_.patch, tiling,
                                    [this, split](const Tensor& crop, VaeNormStats* stats) {
                                      return run_decoder(crop, stats, split, -1);
                                    });
  }
  image.pixels = Tensor::host(DType::f32, image.unclamped.shape());  // [B, 3, H, W]
  const float* raw = image.unclamped.data_as<float>();
  float* clamped = image.pixels.data_as<float>();
  for (int64_t i = 0; i < image.pixels.numel(); ++i) clamped[i] = std::clamp(raw[i], -1.0f, 1.0f);
  return image;
}

void BsqVae::check_image(const Tensor& image) const {
  INF_CHECK(config_.has_encoder(), ErrorKind::invalid_argument, "these VAE weights have no encoder");
  INF_CHECK(image.ndim() == 4 && image.dim(1) == 3, ErrorKind::invalid_argument, "VAE encode: image ",
            image.describe(), " should be [B, 3, H, W]");
  INF_CHECK(image.dim(2) % config_.patch == 0 && image.dim(3) % config_.patch == 0 && image.dim(2) > 0 &&
                image.dim(3) > 0,
            ErrorKind::invalid_argument, "VAE encode: image ", image.dim(3), "x", image.dim(2),
            " is not a multiple of the VAE stride ", config_.patch);
}

Tensor BsqVae::encode(const Tensor& image) const { return encode(image, VaeTiling{}); }

Tensor BsqVae::encode(const Tensor& image, const VaeTiling& tiling) const {
  check_image(image);
  const Compute compute(backend_);
  const int64_t latent_h = image.dim(2) / config_.patch, latent_w = image.dim(3) / config_.patch;
  if (tiling.tile <= 0 || (latent_h <= tiling.tile && latent_w <= tiling.tile))
    return compute.download(run_encoder(image, nullptr, 0, -1));
  const int split = untiled_split(true, latent_h, latent_w, tiling);
  int scale = config_.patch;  // feature positions per latent position after the tiled stages
  for (int l = 0; l < split && l < static_cast<int>(encoder_levels_.size()); ++l)
    if (encoder_levels_[static_cast<size_t>(l)].resample.weight.defined()) scale /= 2;
  const Tensor features = run_vae_tiled(compute, image, config_.patch, scale, tiling,
                                        [this, split](const Tensor& crop, VaeNormStats* stats) {
                                          return run_encoder(crop, stats, 0, split);
                                        });  // host [B, C, h*scale, w*scale]
  const int stages = static_cast<int>(encoder_levels_.size()) + 1;
  return split == stages ? features : compute.download(run_encoder(features, nullptr, split, stages));
}

VaeTokens BsqVae::quantize(const Tensor& latent, const ScaleSchedule& schedule) const {
  INF_CHECK(latent.ndim() == 4 && latent.dim(1) == config_.bits && latent.device().is_cpu() &&
                latent.dtype() == DType::f32,
            ErrorKind::invalid_argument, "VAE quantize: latent ", latent.describe(), " should be f32 [B, ",
            config_.bits, ", H, W] on the host");
  const ScaleGrid& last = schedule.final_grid();
  INF_CHECK(last.h == latent.dim(2) && last.w == latent.dim(3), ErrorKind::invalid_argument,
            "VAE quantize: the schedule ends at ", last.h, "x", last.w, " but the latent is ", latent.dim(2), "x",
            latent.dim(3));
  Tensor residual = Tensor::host(DType::f32, latent.shape());
  create_backend("cpu")->convert(residual, latent);
  VaeTokens tokens;
  tokens.summed_codes = Tensor::host(DType::f32, latent.shape());
  float* remaining = residual.data_as<float>();
  float* summed = tokens.summed_codes.data_as<float>();
  for (int k = 0; k < schedule.num_scales(); ++k) {
    const ScaleGrid grid = schedule.grids[static_cast<size_t>(k)];
    const bool full = grid.h == last.h && grid.w == last.w;
    const Tensor scaled = full ? residual : area_resize_host(residual, grid.h, grid.w);  // [B, d, h, w]
    Tensor bits = sign_bits(scaled);
    // This scale's codes at full resolution: the amount the residual gives up.
    Tensor upsampled = Tensor::host(DType::f32, latent.shape());
    add_upsampled(upsampled, bits_to_codes(bits, grid.h, grid.w));
    const float* step = upsampled.data_as<float>();
    for (int64_t i = 0; i < residual.numel(); ++i) {
      remaining[i] -= step[i];
      summed[i] += step[i];
    }
    tokens.bits.push_back(std::move(bits));
  }
  return tokens;
}

Tensor summed_codes_from_bits(const std::vector<Tensor>& bits, const ScaleSchedule& schedule) {
  INF_CHECK(!bits.empty() && static_cast<int>(bits.size()) <= schedule.num_scales(), ErrorKind::invalid_argument,
            bits.size(), " scales of bits for a ", schedule.num_scales(), "-scale schedule");
  const ScaleGrid last = schedule.final_grid();
  Tensor summed = Tensor::host(DType::f32, {bits[0].dim(0), bits[0].dim(2), last.h, last.w});  // [B, d, H, W]
  for (size_t k = 0; k < bits.size(); ++k) {
    const ScaleGrid grid = schedule.grids[k];
    add_upsampled(summed, bits_to_codes(bits[k], grid.h, grid.w));
  }
  return summed;
}

}  // namespace inf
