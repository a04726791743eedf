#include "model/vae/vae_config.h"

#include <set>
#include <sstream>

#include "common/error.h"

namespace inf {
namespace {

// Distinct values of the integer that follows `prefix` in the store's names.
std::set<int> indices_after(const WeightStore& weights, const std::string& prefix) {
  std::set<int> found;
  for (const auto& name : weights.names()) {
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    size_t position = prefix.size();
    int value = 0;
    bool any = false;
    while (position < name.size() && name[position] >= '0' && name[position] <= '9' && value < 100000) {
      value = value * 10 + (name[position++] - '0');
      any = true;
    }
    if (any && position < name.size() && name[position] == '.') found.insert(value);
  }
  return found;
}

int checked_count(const WeightStore& weights, const std::set<int>& indices, const std::string& what) {
  if (indices.empty()) return 0;
  INF_CHECK(*indices.begin() == 0 && *indices.rbegin() + 1 == static_cast<int>(indices.size()), ErrorKind::invalid_data,
            weights.source(), ": ", what, " are not numbered 0..", indices.size() - 1);
  return static_cast<int>(indices.size());
}

bool contains_prefix(const WeightStore& weights, const std::string& prefix) {
  for (const auto& name : weights.names())
    if (name.compare(0, prefix.size(), prefix) == 0) return true;
  return false;
}

}  // namespace

int VaeConfig::groups_for(int channels) { return channels % 32 == 0 ? 32 : 24; }

std::string VaeConfig::conv_key(const std::string& module, const char* parameter) const {
  return module + (wrapped_keys ? ".conv." : ".") + parameter;
}

std::string VaeConfig::norm_key(const std::string& module, const char* parameter) const {
  return module + (wrapped_keys ? ".norm." : ".") + parameter;
}

VaeConfig VaeConfig::from_weights(const WeightStore& weights) {
  VaeConfig config;
  const std::string& source = weights.source();
  const bool decoder = weights.contains("decoder.conv_in.conv.weight") || weights.contains("decoder.conv_in.weight");
  const bool encoder = weights.contains("encoder.conv_in.conv.weight") || weights.contains("encoder.conv_in.weight");
  INF_CHECK(decoder || encoder, ErrorKind::invalid_data, source,
            ": no 'decoder.conv_in' or 'encoder.conv_in' weights; is this a BSQ-VAE checkpoint (try --select vae)?");
  config.wrapped_keys = weights.contains("decoder.conv_in.conv.weight") || weights.contains("encoder.conv_in.conv.weight");
  auto dim = [&](const std::string& name, int axis) {
    const TensorRecord& record = weights.record(name);
    INF_CHECK(record.shape.size() == 4 || (record.shape.size() == 1 && axis == 0), ErrorKind::invalid_data, source,
              ": tensor '", name, "' has shape ", shape_string(record.shape), ", expected a conv weight");
    return static_cast<int>(record.shape[static_cast<size_t>(axis)]);
  };

  if (decoder) {
    config.bits = dim(config.conv_key("decoder.conv_in", "weight"), 1);
    config.mid_channels = dim(config.conv_key("decoder.conv_in", "weight"), 0);
    config.base_channels = dim(config.conv_key("decoder.conv_out", "weight"), 1);
    const int levels = checked_count(weights, indices_after(weights, "decoder.up."), "decoder levels");
    INF_CHECK(levels > 0, ErrorKind::invalid_data, source, ": decoder has no 'decoder.up.N' levels");
    config.decoder_blocks_per_level =
        checked_count(weights, indices_after(weights, "decoder.up.0.block."), "decoder level 0 blocks");
    int upsamples = 0;
    for (int l = 0; l < levels; ++l) {
      const std::string level = "decoder.up." + std::to_string(l);
      config.decoder_channels.push_back(dim(config.conv_key(level + ".block.0.conv1", "weight"), 0));
      const bool up = contains_prefix(weights, level + ".upsample.");
      config.decoder_upsample.push_back(up);
      upsamples += up ? 1 : 0;
    }
    config.patch = 1 << upsamples;
  }
  if (encoder) {
    const int bits = dim(config.conv_key("encoder.conv_out", "weight"), 0);
    INF_CHECK(!decoder || bits == config.bits, ErrorKind::invalid_data, source, ": encoder makes ", bits,
              " latent channels but the decoder takes ", config.bits);
    config.bits = bits;
    if (!decoder) {
      config.base_channels = dim(config.conv_key("encoder.conv_in", "weight"), 0);
      config.mid_channels = dim(config.conv_key("encoder.conv_out", "weight"), 1);
    }
    const int levels = checked_count(weights, indices_after(weights, "encoder.down."), "encoder levels");
    INF_CHECK(levels > 0, ErrorKind::invalid_data, source, ": encoder has no 'encoder.down.N' levels");
    config.encoder_blocks_per_level =
        checked_count(weights, indices_after(weights, "encoder.down.0.block."), "encoder level 0 blocks");
    int downsamples = 0;
    for (int l = 0; l < levels; ++l) {
      const std::string level = "encoder.down." + std::to_string(l);
      config.encoder_channels.push_back(dim(config.conv_key(level + ".block.0.conv1", "weight"), 0));
      const bool down = contains_prefix(weights, level + ".downsample.");
      config.encoder_downsample.push_back(down);
      downsamples += down ? 1 : 0;
    }
    INF_CHECK(!decoder || (1 << downsamples) == config.patch, ErrorKind::invalid_data, source, ": encoder stride ",
              1 << downsamples, " differs from decoder stride ", config.patch);
    config.patch = 1 << downsamples;
  }
  for (int channels : {config.base_channels, config.mid_channels})
    INF_CHECK(channels > 0 && channels % groups_for(channels) == 0, ErrorKind::invalid_data, source, ": ", channels,
              " channels cannot be split into GroupNorm groups of 32 or 24");
  return config;
}

std::string VaeConfig::describe() const {
  std::ostringstream out;
  out << "bits " << bits << ", stride " << patch << ", channels " << base_channels << ".." << mid_channels;
  if (has_decoder()) out << ", decoder " << decoder_channels.size() << " levels x " << decoder_blocks_per_level << " blocks";
  if (has_encoder()) out << ", encoder " << encoder_channels.size() << " levels x " << encoder_blocks_per_level << " blocks";
  out << (wrapped_keys ? "" : ", unwrapped keys");
  return out.str();
}

}  // namespace inf
