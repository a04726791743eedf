// InfinityConfig: the transformer's hyper-parameters, read off the weights. The 125M..8.8B
// research sizes, the released 2B and 8B, and the registered 20B are all data: nothing here
// names a model size.
#pragma once

#include <string>

#include "weights/weight_store.h"

namespace inf {

struct InfinityConfig {
  int depth = 0;               // transformer blocks
  int width = 0;               // C, the residual stream
  int heads = 0;               // self- and cross-attention heads
  int head_dim = 0;            // C / heads
  int mlp_hidden = 0;          // FFN hidden width (4C rounded to 256)
  int bits_per_token = 0;      // d: the head predicts 2 logits per bit
  int text_channels = 0;       // Ct5, the T5 feature width
  int text_max_length = 0;     // rows of cfg_uncond
  int condition_width = 0;     // D, width of the pooled condition
  int pool_heads = 0;          // attentive text pool heads (Ct5 // 128 in the reference)
  int pool_head_dim = 0;       // D / pool_heads
  int scale_levels = 0;        // rows of lvl_embed: the most scales a schedule may have
  float norm_eps = 1e-6f;      // every LayerNorm/RMSNorm of the released models
  // How block weights are named: "block_chunks.{k}.module.{j}." (blocks_per_chunk > 0) or "blocks.{i}.".
  int blocks_per_chunk = 0;

  // Reads every size from tensor shapes and checks they agree; throws inf::Error naming the
  // tensor that is missing or inconsistent.
  static InfinityConfig from_weights(const WeightStore& weights);

  // Official key prefix of block `index`, e.g. "block_chunks.1.module.0." or "blocks.2.".
  std::string block_prefix(int index) const;
  std::string describe() const;
};

}  // namespace inf
