// The Infinity transformer's parameters on a backend, loaded by their official names.
// Block matmul weights may be stored in a lower precision (bf16); everything the reference
// keeps in fp32 (embeddings, text projections, AdaLN, head, norms, biases) stays fp32.
#pragma once

#include <vector>

#include "backend/backend.h"
#include "model/infinity/config.h"

namespace inf {

struct Linear {
  Tensor weight;  // [out, in], PyTorch layout
  Tensor bias;    // [out] or undefined
};

struct InfinityBlockWeights {
  Tensor ada_gss;          // [6, C]: per-block offsets of gamma1, gamma2, scale1, scale2, shift1, shift2
  Linear self_qkv;         // [3C, C], bias = concat(q_bias, 0, v_bias)
  Tensor self_head_scale;  // [H, 1] f32: exp(min(scale_mul_1H11, ln 100)), the cosine-attention temperature
  Linear self_proj;        // [C, C]
  Tensor cross_norm_weight, cross_norm_bias;  // [C] affine LayerNorm before cross-attention
  Linear cross_q;          // [C, C]
  Linear cross_kv;         // [2C, D], bias = concat(0, v_bias)
  Linear cross_proj;       // [C, C]
  Linear ffn_up;           // [hidden, C]
  Linear ffn_down;         // [C, hidden]
};

struct InfinityWeights {
  Tensor cfg_uncond;        // [text_max_length, Ct5] host f32: learned "empty prompt" features
  Tensor text_norm_weight;  // [Ct5]
  Tensor pool_query;        // [pool_heads, pool_head_dim]
  Linear pool_kv;           // [2D, Ct5], bias = concat(0, v_bias)
  Linear pool_proj;         // [D, D]
  Linear text_proj_in;      // [D, Ct5]
  Linear text_proj_out;     // [D, D]
  Tensor pos_start;         // [C]
  Tensor level_embed;       // [levels, C]
  Linear word_embed;        // [C, d]
  Linear shared_ada;        // [6C, D]
  std::vector<InfinityBlockWeights> blocks;
  Linear head_ada;          // [2C, D]
  Linear head;              // [2d, C]

  // block_dtype: storage of the block linears (f32, bf16 or f16).
  static InfinityWeights load(Backend& backend, const WeightStore& store, const InfinityConfig& config,
                              DType block_dtype);
};

}  // namespace inf
