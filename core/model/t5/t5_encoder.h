// The T5 encoder (Flan-T5-XL for Infinity, spec section 3) on the backend ops.
//
// Per layer: x += o(attn(rms_norm(x))), then x += wo(act(wi_0 h) * wi_1 h) with h = rms_norm(x);
// a final RMS norm gives the features. T5's particulars: RMS norms without mean or bias, in
// fp32; attention logits not scaled by 1/sqrt(d_kv); one relative-position bias [H, L, L],
// computed from layer 0's table and added in every layer. Activations are always f32: T5
// overflows fp16 (the reference needs HF's clamps and fp32 `wo` to survive it).
//
// One prompt is encoded at a time, unpadded: T5 masks padded keys, so the features of the
// real tokens are those of a padded batch's first `len` rows.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "model/infinity/weights.h"
#include "model/t5/t5_config.h"
#include "weights/weight_store.h"

namespace inf {

struct T5LayerWeights {
  Tensor attention_norm;  // [D] f32
  Linear qkv;             // [3 * H * dk, D]: q, k and v stacked, one GEMM
  Linear out;             // [D, H * dk]
  Tensor ffn_norm;        // [D] f32
  Linear wi;              // [2F, D] gated (wi_0 then wi_1) or [F, D] plain
  Linear wo;              // [D, F]
};

class T5Encoder {
 public:
  // Loads the encoder's tensors under their Hugging Face names (decoder.* and lm_head are left
  // alone). weight_dtype: storage of the matmul weights and the embedding (f32 or bf16; f16
  // is refused: T5's activations overflow it). Norms and the position-bias table stay f32.
  T5Encoder(Backend& backend, const WeightStore& weights, DType weight_dtype = DType::f32);
  T5Encoder(Backend& backend, const WeightStore& weights, const T5Config& config, DType weight_dtype = DType::f32);

  const T5Config& config() const { return config_; }
  DType weight_dtype() const { return weight_dtype_; }

  // Token ids (as the tokenizer gives them, EOS included) -> f32 [L, d_model] host features.
  // Throws inf::Error(invalid_argument) for an empty list or an id outside the vocabulary.
  // Not reentrant: one encode at a time per backend.
  Tensor encode(const std::vector<int32_t>& ids) const;

  // The relative-position bias of a prompt of `length` tokens, f32 host [H, L, L]:
  // bias[h, i, j] = table[bucket(j - i), h].
  Tensor position_bias(int64_t length) const;

 private:
  void load(const WeightStore& weights);

  Backend& backend_;
  std::unique_ptr<Backend> host_;  // CPU ops for the embedding gather and the bias table
  T5Config config_;
  DType weight_dtype_;
  Tensor embedding_;        // [vocab, D] host, weight_dtype: gathered on the host, one row per token
  Tensor relative_bias_;    // [buckets, H] host f32
  Tensor final_norm_;       // [D] f32
  std::vector<T5LayerWeights> layers_;
};

}  // namespace inf
