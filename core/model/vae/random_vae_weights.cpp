#include "model/vae/random_vae_weights.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "model/infinity/random_weights.h"

namespace inf {
namespace {

// Spec section 7's tokenizers; "tiny" is the golden file's overridden base_ch / ch_mult.
struct RandomVaeConfig {
  const char* name;
  int bits, base;
  std::vector<int> ch_mult;
  int stride;
};

const std::vector<RandomVaeConfig>& configs() {
  static const std::vector<RandomVaeConfig> kConfigs = {
      {"tiny", 16, 32, {1, 1, 1, 2, 2}, 16},
      {"2B", 32, 128, {1, 2, 4, 4, 4}, 16},
      {"8B", 14, 128, {1, 2, 4, 4}, 8},
  };
  return kConfigs;
}

constexpr int kEncoderBlocks = 2, kDecoderBlocks = 3;  // num_res_blocks and num_res_blocks + 1

const RandomVaeConfig& find_config(const std::string& name) {
  for (const auto& config : configs())
    if (name == config.name) return config;
  std::string known;
  for (const auto& config : configs()) known += std::string(known.empty() ? "" : ", ") + config.name;
  fail(ErrorKind::invalid_argument, "unknown random VAE configuration '", name, "' (known: ", known, ")");
}

enum class Init { conv, bias, norm_weight, mask };

struct TensorSpec {
  std::string name;
  Shape shape;
  Init init;
  float gain = 1.0f;  // conv only
};

// The reference's state_dict order: encoder, decoder, quantizer buffers.
std::vector<TensorSpec> tensor_specs(const RandomVaeConfig& c) {
  std::vector<TensorSpec> specs;
  auto conv = [&specs](const std::string& module, int64_t out, int64_t in, int64_t kernel, float gain = 1.0f) {
    specs.push_back({module + ".conv.weight", {out, in, kernel, kernel}, Init::conv, gain});
    specs.push_back({module + ".conv.bias", {out}, Init::bias});
  };
  auto norm = [&specs](const std::string& module, int64_t channels) {
    specs.push_back({module + ".norm.weight", {channels}, Init::norm_weight});
    specs.push_back({module + ".norm.bias", {channels}, Init::bias});
  };
  auto block = [&](const std::string& module, int64_t in, int64_t out) {
    norm(module + ".norm1", in);
    conv(module + ".conv1", out, in, 3);
    norm(module + ".norm2", out);
    conv(module + ".conv2", out, out, 3);
    if (in != out) conv(module + ".nin_shortcut", out, in, 1);
  };
  int resamples = 0;
  while ((1 << resamples) < c.stride) ++resamples;
  const int levels = static_cast<int>(c.ch_mult.size());
  const int64_t mid = int64_t{c.base} * c.ch_mult.back();

  conv("encoder.conv_in", c.base, 3, 3);
  int64_t channels = c.base;
  for (int l = 0; l < levels; ++l) {
    const std::string level = "encoder.down." + std::to_string(l);
    const int64_t out = int64_t{c.base} * c.ch_mult[static_cast<size_t>(l)];
    for (int b = 0; b < kEncoderBlocks; ++b, channels = out) block(level + ".block." + std::to_string(b), channels, out);
    if (l < resamples) conv(level + ".downsample.conv", out, out, 3);
  }
  for (const char* name : {"encoder.mid.block_1", "encoder.mid.block_2"}) block(name, mid, mid);
  norm("encoder.norm_out", mid);
  conv("encoder.conv_out", c.bits, mid, 3, 0.5f);

  conv("decoder.conv_in", mid, c.bits, 3);
  for (const char* name : {"decoder.mid.block_1", "decoder.mid.block_2"}) block(name, mid, mid);
  channels = mid;
  for (int l = levels - 1; l >= 0; --l) {
    const std::string level = "decoder.up." + std::to_string(l);
    const int64_t out = int64_t{c.base} * c.ch_mult[static_cast<size_t>(l)];
    for (int b = 0; b < kDecoderBlocks; ++b, channels = out) block(level + ".block." + std::to_string(b), channels, out);
    if (l >= 1 && l <= resamples) conv(level + ".upsample.conv", out, out, 3);
  }
  norm("decoder.norm_out", channels);
  conv("decoder.conv_out", 3, channels, 3);

  // The LFQ bit weights, MSB first; the state dict holds them under both attribute names.
  for (const char* name : {"quantizer.lfq.mask", "quantize.lfq.mask"}) specs.push_back({name, {c.bits}, Init::mask});
  return specs;
}

Tensor make_tensor(const TensorSpec& spec, uint64_t seed) {
  if (spec.init == Init::mask) {
    Tensor mask = Tensor::host(DType::i64, spec.shape);  // [d]
    const int64_t bits = spec.shape[0];
    for (int64_t i = 0; i < bits; ++i) mask.data_as<int64_t>()[i] = int64_t{1} << (bits - 1 - i);
    return mask;
  }
  Tensor tensor = Tensor::host(DType::f32, spec.shape);
  switch (spec.init) {
    case Init::conv: {
      const auto fan_in = static_cast<float>(spec.shape[1] * spec.shape[2] * spec.shape[3]);
      fill_random_normal(tensor, seed, spec.name, 0.0f, spec.gain / std::sqrt(fan_in));
      break;
    }
    case Init::bias: fill_random_normal(tensor, seed, spec.name, 0.0f, 0.05f); break;
    case Init::norm_weight: fill_random_normal(tensor, seed, spec.name, 1.0f, 0.1f); break;
    case Init::mask: break;
  }
  return tensor;
}

// ---- cost walk ----
//
// Live backend tensors follow bsq_vae.cpp, where each op allocates its result and a tensor is
// freed when its last handle is reassigned. In units of one channel plane (batch x pixels):
// - ResNet block, x with Cin channels: GN1 then conv1 hold x, GN1 and conv1 (2 Cin + Cout);
//   GN2 and conv2 hold x and two Cout tensors; the sum holds x, conv2, the shortcut (when
//   Cin != Cout) and the result: Cin + 3 Cout (Cin + 2 Cout without a shortcut).
// - decoder upsample: the input, its x2 copy and the conv output: C + 4C + 4C in planes of the
//   input's size.
// - encoder downsample: C + C/4.
// - in and out convs and the last GN: input + output; the download copies the d or 3 channels.
// Every 3x3 conv adds its im2col scratch, at most 64 MiB (kScratchBudgetFloats in conv.cpp).
class CostWalk {
 public:
  CostWalk(int64_t batch, int64_t h, int64_t w) : batch_(batch), h_(h), w_(w) {}

  // cin -> cout channels, output h_ x w_ after any resize the caller applied; live_planes at
  // this resolution and `other` bytes at another one are held meanwhile.
  void conv(int64_t cin, int64_t cout, int64_t kernel, int64_t live_planes, uint64_t other = 0) {
    const double pixels = static_cast<double>(batch_ * h_ * w_);
    flops_ += 2.0 * static_cast<double>(cout * cin * kernel * kernel) * pixels;
    const uint64_t scratch =
        kernel > 1 ? std::min<uint64_t>(uint64_t{64} << 20, static_cast<uint64_t>(cin * kernel * kernel) * plane()) : 0;
    live(live_planes, scratch + other);
  }
  void block(int64_t cin, int64_t cout) {
    conv(cin, cout, 3, 2 * cin + cout);
    conv(cout, cout, 3, cin + 2 * cout);
    if (cin != cout) conv(cin, cout, 1, cin + 3 * cout);
    else live(cin + 2 * cout, 0);
  }
  void resize(int64_t h, int64_t w) { h_ = h, w_ = w; }
  void live(int64_t planes, uint64_t extra) { peak_ = std::max(peak_, static_cast<uint64_t>(planes) * plane() + extra); }
  uint64_t plane() const { return static_cast<uint64_t>(batch_ * h_ * w_) * 4; }
  uint64_t peak() const { return peak_; }
  double flops() const { return flops_; }

 private:
  int64_t batch_, h_, w_;
  uint64_t peak_ = 0;
  double flops_ = 0;
};

uint64_t conv_bytes(int64_t cin, int64_t cout, int64_t kernel, DType dtype) {
  return static_cast<uint64_t>(cout * cin * kernel * kernel) * dtype_size(dtype) + static_cast<uint64_t>(cout) * 4;
}

uint64_t block_bytes(int64_t cin, int64_t cout, DType dtype) {
  return 2 * static_cast<uint64_t>(cin + cout) * 4 + conv_bytes(cin, cout, 3, dtype) + conv_bytes(cout, cout, 3, dtype) +
         (cin != cout ? conv_bytes(cin, cout, 1, dtype) : 0);
}

}  // namespace

std::vector<std::string> random_vae_config_names() {
  std::vector<std::string> names;
  for (const auto& config : configs()) names.emplace_back(config.name);
  return names;
}

WeightStore make_random_vae_weights(const std::string& name, uint64_t seed) {
  const RandomVaeConfig& config = find_config(name);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& spec : tensor_specs(config)) {
    Tensor tensor = make_tensor(spec, seed);
    tensors.emplace_back(std::move(spec.name), std::move(tensor));
  }
  return WeightStore::from_host_tensors("random-vae:" + name + ":seed" + std::to_string(seed), std::move(tensors));
}

VaeCost estimate_vae_cost(const VaeConfig& config, bool encode, int64_t latent_h, int64_t latent_w, int64_t batch,
                          DType conv_dtype) {
  INF_CHECK(encode ? config.has_encoder() : config.has_decoder(), ErrorKind::invalid_argument,
            "VAE cost: these weights have no ", encode ? "encoder" : "decoder");
  INF_CHECK(latent_h > 0 && latent_w > 0 && batch > 0, ErrorKind::invalid_argument, "VAE cost: empty latent ",
            latent_h, "x", latent_w);
  const int64_t bits = config.bits, mid = config.mid_channels;
  VaeCost cost;
  if (config.has_decoder()) {
    int64_t channels = mid;
    cost.weights += conv_bytes(bits, mid, 3, conv_dtype) + 2 * block_bytes(mid, mid, conv_dtype);
    for (size_t l = config.decoder_channels.size(); l-- > 0;) {
      for (int b = 0; b < config.decoder_blocks_per_level; ++b, channels = config.decoder_channels[l])
        cost.weights += block_bytes(channels, config.decoder_channels[l], conv_dtype);
      if (config.decoder_upsample[l]) cost.weights += conv_bytes(channels, channels, 3, conv_dtype);
    }
    cost.weights += 2 * static_cast<uint64_t>(channels) * 4 + conv_bytes(channels, 3, 3, conv_dtype);
  }
  if (config.has_encoder()) {
    int64_t channels = config.base_channels;
    cost.weights += conv_bytes(3, channels, 3, conv_dtype);
    for (size_t l = 0; l < config.encoder_channels.size(); ++l) {
      for (int b = 0; b < config.encoder_blocks_per_level; ++b, channels = config.encoder_channels[l])
        cost.weights += block_bytes(channels, config.encoder_channels[l], conv_dtype);
      if (config.encoder_downsample[l]) cost.weights += conv_bytes(channels, channels, 3, conv_dtype);
    }
    cost.weights += 2 * block_bytes(channels, channels, conv_dtype) + 2 * static_cast<uint64_t>(channels) * 4 +
                    conv_bytes(channels, bits, 3, conv_dtype);
  }

  if (!encode) {
    CostWalk walk(batch, latent_h, latent_w);
    walk.conv(bits, mid, 3, mid);
    int64_t channels = mid, h = latent_h, w = latent_w;
    for (int i = 0; i < 2; ++i) walk.block(mid, mid);
    for (size_t l = config.decoder_channels.size(); l-- > 0;) {
      for (int b = 0; b < config.decoder_blocks_per_level; ++b, channels = config.decoder_channels[l])
        walk.block(channels, config.decoder_channels[l]);
      if (!config.decoder_upsample[l]) continue;
      const uint64_t input = static_cast<uint64_t>(channels) * walk.plane();
      h *= 2, w *= 2;
      walk.resize(h, w);
      walk.conv(channels, channels, 3, 2 * channels, input);  // upsampled copy and conv output at 2x, the input
    }
    walk.live(2 * channels, 0);             // norm_out
    walk.conv(channels, 3, 3, channels + 3);  // conv_out
    cost.activations = walk.peak();
    cost.conv_flops = walk.flops();
  } else {
    int64_t downsamples = 0;
    for (const bool down : config.encoder_downsample) downsamples += down ? 1 : 0;
    int64_t h = latent_h << downsamples, w = latent_w << downsamples, channels = config.base_channels;
    CostWalk walk(batch, h, w);
    walk.conv(3, channels, 3, channels);
    for (size_t l = 0; l < config.encoder_channels.size(); ++l) {
      for (int b = 0; b < config.encoder_blocks_per_level; ++b, channels = config.encoder_channels[l])
        walk.block(channels, config.encoder_channels[l]);
      if (!config.encoder_downsample[l]) continue;
      const uint64_t input = static_cast<uint64_t>(channels) * walk.plane();
      h /= 2, w /= 2;
      walk.resize(h, w);
      walk.conv(channels, channels, 3, channels, input);
    }
    for (int i = 0; i < 2; ++i) walk.block(channels, channels);
    walk.live(2 * channels, 0);
    walk.conv(channels, bits, 3, channels + 2 * bits);  // conv_out and its downloaded copy
    cost.activations = walk.peak();
    cost.conv_flops = walk.flops();
  }
  return cost;
}

}  // namespace inf
