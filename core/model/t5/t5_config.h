// The T5 encoder's shape, read from a checkpoint's tensors (Hugging Face names, spec section 3).
//
// Everything but the relative-attention maximum distance is in the weights: d_model and the
// vocabulary from the embedding, the layer count from the block indices, heads from the
// relative-attention bias [buckets, heads], d_kv from q [heads * d_kv, d_model], d_ff and the
// FFN kind from layer 1 (wi_0 + wi_1: gated; wi: plain). Decoder tensors are ignored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "backend/backend.h"
#include "weights/weight_store.h"

namespace inf {

struct T5Config {
  int d_model = 0;
  int layers = 0;
  int heads = 0;
  int d_kv = 0;  // per head; heads * d_kv is the attention width, not necessarily d_model
  int d_ff = 0;
  bool gated = true;  // wo(act(wi_0 x) * wi_1 x) (T5 v1.1, Flan-T5) or wo(act(wi x)) (T5 v1.0)
  // The FFN activation is not in the weights. from_weights sets gelu_new (tanh) for gated
  // checkpoints (v1.1, Flan) and leaves it unset for plain ones: v1.0 uses ReLU, which no backend
  // op computes, so a plain FFN runs only when the caller names its activation.
  std::optional<UnaryOp> activation;
  int64_t vocab = 0;  // embedding rows (32128 for Flan-T5: 32000 pieces + 100 sentinels, padded)
  int buckets = 32;
  int max_distance = 128;  // HF relative_attention_max_distance; not stored in checkpoints
  float eps = 1e-6f;
  std::string embedding_name;  // "shared.weight" or "encoder.embed_tokens.weight"

  int inner() const { return heads * d_kv; }
  std::string describe() const;

  // Throws inf::Error(invalid_data) naming the tensor when one the encoder needs is missing or
  // has the wrong rank, or the sizes disagree.
  static T5Config from_weights(const WeightStore& weights, int max_distance = 128);
};

// T5's bucket for the key-minus-query offset `relative_position` (bidirectional: half the
// buckets for keys before the query, half for keys after). Offsets below half a direction's
// buckets get their own bucket; larger ones share log-spaced buckets up to max_distance, and
// everything beyond falls in the direction's last bucket.
int t5_relative_position_bucket(int64_t relative_position, int buckets, int max_distance);

}  // namespace inf
