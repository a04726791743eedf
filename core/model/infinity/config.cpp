#include "model/infinity/config.h"

#include <map>
#include <set>
#include <sstream>

#include "common/error.h"
#include "common/log.h"

namespace inf {
namespace {

int64_t dim_of(const WeightStore& weights, const std::string& name, int axis, int expected_ndim) {
  const TensorRecord& record = weights.record(name);
  INF_CHECK(static_cast<int>(record.shape.size()) == expected_ndim, ErrorKind::invalid_data, weights.source(),
            ": tensor '", name, "' has shape ", shape_string(record.shape), ", expected ", expected_ndim, " dims");
  return record.shape[static_cast<size_t>(axis)];
}

// Parses "<prefix><number>." at the start of `name`; returns -1 when it does not match.
int leading_index(const std::string& name, const std::string& prefix, size_t& after) {
  if (name.compare(0, prefix.size(), prefix) != 0) return -1;
  size_t position = prefix.size();
  int value = 0;
  bool any = false;
  while (position < name.size() && name[position] >= '0' && name[position] <= '9' && value < 100000) {
    value = value * 10 + (name[position] - '0');
    ++position;
    any = true;
  }
  if (!any || position >= name.size() || name[position] != '.') return -1;
  after = position + 1;
  return value;
}

}  // namespace

std::string InfinityConfig::block_prefix(int index) const {
  if (blocks_per_chunk == 0) return "blocks." + std::to_string(index) + ".";
  return "block_chunks." + std::to_string(index / blocks_per_chunk) + ".module." +
         std::to_string(index % blocks_per_chunk) + ".";
}

InfinityConfig InfinityConfig::from_weights(const WeightStore& weights) {
  InfinityConfig config;
  const std::string& source = weights.source();

  // Blocks: either chunked (checkpoints trained with block_chunks > 1) or flat.
  std::map<int, std::set<int>> chunks;
  std::set<int> flat;
  for (const auto& name : weights.names()) {
    size_t after = 0;
    const int chunk = leading_index(name, "block_chunks.", after);
    if (chunk >= 0) {
      size_t inner_after = 0;
      const int inner = leading_index(name.substr(after), "module.", inner_after);
      INF_CHECK(inner >= 0, ErrorKind::invalid_data, source, ": unexpected block key '", name, "'");
      chunks[chunk].insert(inner);
      continue;
    }
    const int block = leading_index(name, "blocks.", after);
    if (block >= 0) flat.insert(block);
  }
  INF_CHECK(chunks.empty() || flat.empty(), ErrorKind::invalid_data, source,
            ": has both 'block_chunks.*' and 'blocks.*' keys");
  if (!chunks.empty()) {
    config.blocks_per_chunk = static_cast<int>(chunks.begin()->second.size());
    int expected_chunk = 0;
    for (const auto& [chunk, inner] : chunks) {
      INF_CHECK(chunk == expected_chunk++, ErrorKind::invalid_data, source, ": block chunk ", expected_chunk - 1,
                " is missing");
      INF_CHECK(static_cast<int>(inner.size()) == config.blocks_per_chunk && *inner.rbegin() == config.blocks_per_chunk - 1,
                ErrorKind::invalid_data, source, ": block chunk ", chunk, " has ", inner.size(), " blocks, chunk 0 has ",
                config.blocks_per_chunk);
    }
    config.depth = static_cast<int>(chunks.size()) * config.blocks_per_chunk;
  } else {
    INF_CHECK(!flat.empty(), ErrorKind::invalid_data, source,
              ": no transformer blocks ('block_chunks.K.module.J.*' or 'blocks.I.*'); is this an Infinity checkpoint?");
    INF_CHECK(*flat.rbegin() + 1 == static_cast<int>(flat.size()), ErrorKind::invalid_data, source,
              ": blocks are not numbered 0..", flat.size() - 1);
    config.depth = static_cast<int>(flat.size());
  }

  config.width = static_cast<int>(dim_of(weights, "pos_start", 2, 3));
  config.bits_per_token = static_cast<int>(dim_of(weights, "word_embed.weight", 1, 2));
  config.text_channels = static_cast<int>(dim_of(weights, "text_norm.weight", 0, 1));
  config.text_max_length = static_cast<int>(dim_of(weights, "cfg_uncond", 0, 2));
  config.condition_width = static_cast<int>(dim_of(weights, "text_proj_for_ca.0.weight", 0, 2));
  config.pool_heads = static_cast<int>(dim_of(weights, "text_proj_for_sos.ca.mat_q", 1, 3));
  config.pool_head_dim = static_cast<int>(dim_of(weights, "text_proj_for_sos.ca.mat_q", 2, 3));
  config.scale_levels = static_cast<int>(dim_of(weights, "lvl_embed.weight", 0, 2));
  const std::string first = config.block_prefix(0);
  config.heads = static_cast<int>(dim_of(weights, first + "sa.scale_mul_1H11", 1, 4));
  config.mlp_hidden = static_cast<int>(dim_of(weights, first + "ffn.fc1.weight", 0, 2));

  INF_CHECK(config.heads > 0 && config.width % config.heads == 0, ErrorKind::invalid_data, source, ": ",
            config.heads, " heads do not divide the width ", config.width);
  config.head_dim = config.width / config.heads;
  INF_CHECK(config.head_dim % 4 == 0, ErrorKind::invalid_data, source, ": head dim ", config.head_dim,
            " is not a multiple of 4, which 2-D RoPE needs");
  INF_CHECK(config.pool_heads > 0 && config.pool_heads * config.pool_head_dim == config.condition_width,
            ErrorKind::invalid_data, source, ": attentive pool ", config.pool_heads, " x ", config.pool_head_dim,
            " does not match the condition width ", config.condition_width);
  INF_CHECK(config.condition_width == config.width, ErrorKind::invalid_data, source, ": condition width ",
            config.condition_width, " differs from the block width ", config.width,
            " (the pooled condition is the start token, so they must match)");
  INF_CHECK(dim_of(weights, "head.weight", 0, 2) == 2 * config.bits_per_token, ErrorKind::invalid_data, source,
            ": head.weight has ", dim_of(weights, "head.weight", 0, 2), " outputs, expected 2 x ",
            config.bits_per_token, " bits (word_embed.weight)");
  INF_CHECK(dim_of(weights, "cfg_uncond", 1, 2) == config.text_channels, ErrorKind::invalid_data, source,
            ": cfg_uncond width differs from text_norm.weight");
  log_debug("infinity config from ", source, ": ", config.describe());
  return config;
}

std::string InfinityConfig::describe() const {
  std::ostringstream out;
  out << "depth " << depth << ", width " << width << ", heads " << heads << " x " << head_dim << ", mlp "
      << mlp_hidden << ", bits " << bits_per_token << ", text " << text_channels << " (max " << text_max_length
      << " tokens), pool " << pool_heads << " x " << pool_head_dim << ", levels " << scale_levels;
  return out.str();
}

}  // namespace inf
