#include "model/t5/t5_config.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "common/error.h"
#include "common/log.h"

namespace inf {
namespace {

// Dims of `name`, which must exist with `ndim` dims; the error names the tensor and the file.
const Shape& shape_of(const WeightStore& weights, const std::string& name, size_t ndim) {
  INF_CHECK(weights.contains(name), ErrorKind::invalid_data, weights.source(), ": missing T5 tensor '", name, "'");
  const Shape& shape = weights.record(name).shape;
  INF_CHECK(shape.size() == ndim, ErrorKind::invalid_data, weights.source(), ": T5 tensor '", name, "' has shape ",
            shape_string(shape), ", expected ", ndim, " dims");
  return shape;
}

int as_int(int64_t value) { return static_cast<int>(std::min<int64_t>(value, 1 << 30)); }

}  // namespace

int t5_relative_position_bucket(int64_t relative_position, int buckets, int max_distance) {
  INF_CHECK(buckets >= 4 && buckets % 2 == 0 && max_distance > buckets / 4, ErrorKind::invalid_argument,
            "T5 relative buckets ", buckets, " with max distance ", max_distance, " make no bucket layout");
  // Keys after the query use the upper half of the buckets, keys before it (and itself) the lower.
  const int per_direction = buckets / 2;
  const int first = relative_position > 0 ? per_direction : 0;
  const int64_t distance = relative_position < 0 ? -relative_position : relative_position;
  const int exact = per_direction / 2;
  if (distance < exact) return first + static_cast<int>(distance);
  // Distances exact..max_distance map logarithmically onto the remaining per_direction - exact
  // buckets: bucket exact + k starts at exact * (max_distance / exact)^(k / (per_direction - exact)).
  // Truncation, as the reference's cast to long. Double precision reproduces its fp32 buckets
  // for every offset up to 600 (checked with transformers 4.40).
  const double position = std::log(static_cast<double>(distance) / exact) /
                          std::log(static_cast<double>(max_distance) / exact) * (per_direction - exact);
  const double capped = std::min(position, static_cast<double>(per_direction - exact - 1));
  return first + exact + static_cast<int>(capped);
}

std::string T5Config::describe() const {
  std::ostringstream out;
  out << "d_model " << d_model << ", " << layers << " layers, heads " << heads << " x " << d_kv << ", d_ff " << d_ff
      << (gated ? " gated-" : " ") << (activation ? unary_op_name(*activation) : "(activation unset)") << ", vocab "
      << vocab << ", " << buckets << " buckets up to " << max_distance;
  return out.str();
}

T5Config T5Config::from_weights(const WeightStore& weights, int max_distance) {
  const std::string& source = weights.source();
  T5Config config;
  config.max_distance = max_distance;

  config.embedding_name = weights.contains("shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight";
  INF_CHECK(weights.contains(config.embedding_name), ErrorKind::invalid_data, source,
            ": no T5 token embedding ('shared.weight' or 'encoder.embed_tokens.weight'); is this a T5 checkpoint?");
  const Shape& embedding = shape_of(weights, config.embedding_name, 2);
  config.vocab = embedding[0];
  config.d_model = as_int(embedding[1]);

  // Layers: the indices of "encoder.block.<i>." must be 0..n-1.
  std::set<int> blocks;
  const std::string prefix = "encoder.block.";
  for (const auto& name : weights.names()) {
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    size_t position = prefix.size();
    int index = 0;
    bool digits = false;
    while (position < name.size() && name[position] >= '0' && name[position] <= '9' && index < 100000) {
      index = index * 10 + (name[position++] - '0');
      digits = true;
    }
    if (digits && position < name.size() && name[position] == '.') blocks.insert(index);
  }
  INF_CHECK(!blocks.empty(), ErrorKind::invalid_data, source, ": no 'encoder.block.<i>.*' tensors");
  INF_CHECK(*blocks.rbegin() + 1 == static_cast<int>(blocks.size()), ErrorKind::invalid_data, source,
            ": encoder blocks are not numbered 0..", blocks.size() - 1, " (highest is ", *blocks.rbegin(), ")");
  config.layers = static_cast<int>(blocks.size());

  const std::string attention = "encoder.block.0.layer.0.SelfAttention.";
  const Shape& bias = shape_of(weights, attention + "relative_attention_bias.weight", 2);
  config.buckets = as_int(bias[0]);
  config.heads = as_int(bias[1]);
  const Shape& q = shape_of(weights, attention + "q.weight", 2);
  INF_CHECK(config.heads > 0 && q[0] % config.heads == 0, ErrorKind::invalid_data, source, ": ", config.heads,
            " heads (relative_attention_bias) do not divide the attention width ", q[0]);
  config.d_kv = as_int(q[0] / config.heads);

  const std::string ffn = "encoder.block.0.layer.1.DenseReluDense.";
  config.gated = weights.contains(ffn + "wi_0.weight");
  config.d_ff = as_int(shape_of(weights, ffn + (config.gated ? "wi_0.weight" : "wi.weight"), 2)[0]);
  if (config.gated) config.activation = UnaryOp::gelu_tanh;

  INF_CHECK(config.d_model > 0 && config.d_kv > 0 && config.d_ff > 0 && config.vocab > 0, ErrorKind::invalid_data,
            source, ": empty T5 dims (", config.describe(), ")");
  INF_CHECK(config.buckets >= 4 && config.buckets % 2 == 0 && max_distance > config.buckets / 4,
            ErrorKind::invalid_data, source, ": ", config.buckets, " relative-attention buckets with max distance ",
            max_distance, " is not a T5 bucket layout");
  log_debug("t5 config from ", source, ": ", config.describe());
  return config;
}

}  // namespace inf
