#include "model/infinity/weights.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace inf {
namespace {

// float32(ln 100): the reference clamps the learned log-temperature here (max_scale_mul).
constexpr float kMaxScaleMul = 4.605170249938965f;

class Loader {
 public:
  Loader(Backend& backend, const WeightStore& store) : backend_(backend), store_(store) {}

  // The tensor `name`, shape-checked, converted to `dtype` and placed on the backend.
  Tensor tensor(const std::string& name, const Shape& shape, DType dtype = DType::f32) {
    return place(store_.get(name, shape), dtype);
  }

  Tensor place(const Tensor& host, DType dtype) {
    Tensor converted = host;
    if (host.dtype() != dtype || !host.is_contiguous()) {
      converted = Tensor::host(dtype, host.shape());
      create_backend("cpu")->convert(converted, host);
    }
    Tensor placed = backend_.alloc(dtype, converted.shape());
    backend_.upload(placed, converted);
    staged_.push_back(converted);  // uploads may still read it until synchronize()
    return placed;
  }

  Linear linear(const std::string& prefix, int64_t out, int64_t in, DType dtype, bool with_bias = true) {
    Linear layer;
    layer.weight = tensor(prefix + ".weight", {out, in}, dtype);
    if (with_bias) layer.bias = tensor(prefix + ".bias", {out});
    return layer;
  }

  // A fused K/V (or Q/K/V) projection whose reference bias is assembled from pieces with zeros
  // for K: concat(q_bias?, zeros, v_bias).
  Linear linear_with_zero_k_bias(const std::string& weight_name, int64_t out, int64_t in, DType dtype,
                                 const std::string& q_bias, const std::string& v_bias, int64_t width) {
    Linear layer;
    layer.weight = tensor(weight_name, {out, in}, dtype);
    Tensor bias = Tensor::host(DType::f32, {out});  // zero-filled: the K slice stays 0
    float* values = bias.data_as<float>();
    int64_t slot = 0;
    if (!q_bias.empty()) copy_vector(q_bias, width, values + (slot++) * width);
    ++slot;  // K
    copy_vector(v_bias, width, values + slot * width);
    layer.bias = place(bias, DType::f32);
    return layer;
  }

  Tensor host_f32(const std::string& name, const Shape& shape) {
    Tensor result = Tensor::host(DType::f32, shape);
    create_backend("cpu")->convert(result, store_.get(name, shape));
    return result;
  }

  void finish() {
    backend_.synchronize();
    staged_.clear();
  }

 private:
  void copy_vector(const std::string& name, int64_t width, float* out) {
    const Tensor values = host_f32(name, {width});
    std::copy(values.data_as<float>(), values.data_as<float>() + width, out);
  }

  Backend& backend_;
  const WeightStore& store_;
  std::vector<Tensor> staged_;
};

}  // namespace

InfinityWeights InfinityWeights::load(Backend& backend, const WeightStore& store, const InfinityConfig& config,
                                      DType block_dtype) {
  INF_CHECK(dtype_is_float(block_dtype), ErrorKind::invalid_argument, "block weights must be a float dtype");
  Loader load(backend, store);
  const int64_t c = config.width, d_cond = config.condition_width, ct5 = config.text_channels;
  const int64_t bits = config.bits_per_token, hidden = config.mlp_hidden;
  InfinityWeights w;
  w.cfg_uncond = load.host_f32("cfg_uncond", {config.text_max_length, ct5});
  w.text_norm_weight = load.tensor("text_norm.weight", {ct5});
  w.pool_query = load.place(load.host_f32("text_proj_for_sos.ca.mat_q", {1, config.pool_heads, config.pool_head_dim})
                                .reshape({config.pool_heads, config.pool_head_dim}),
                            DType::f32);
  w.pool_kv = load.linear_with_zero_k_bias("text_proj_for_sos.ca.mat_kv.weight", 2 * d_cond, ct5, DType::f32, "",
                                           "text_proj_for_sos.ca.v_bias", d_cond);
  w.pool_proj = load.linear("text_proj_for_sos.ca.proj", d_cond, d_cond, DType::f32);
  w.text_proj_in = load.linear("text_proj_for_ca.0", d_cond, ct5, DType::f32);
  w.text_proj_out = load.linear("text_proj_for_ca.2", d_cond, d_cond, DType::f32);
  w.pos_start = load.place(load.host_f32("pos_start", {1, 1, c}).reshape({c}), DType::f32);
  w.level_embed = load.tensor("lvl_embed.weight", {config.scale_levels, c});
  w.word_embed = load.linear("word_embed", c, bits, DType::f32);
  w.shared_ada = load.linear("shared_ada_lin.1", 6 * c, d_cond, DType::f32);
  w.head_ada = load.linear("head_nm.ada_lin.1", 2 * c, d_cond, DType::f32);
  w.head = load.linear("head", 2 * bits, c, DType::f32);

  for (int b = 0; b < config.depth; ++b) {
    const std::string p = config.block_prefix(b);
    InfinityBlockWeights block;
    block.ada_gss = load.place(load.host_f32(p + "ada_gss", {1, 1, 6, c}).reshape({6, c}), DType::f32);
    block.self_qkv = load.linear_with_zero_k_bias(p + "sa.mat_qkv.weight", 3 * c, c, block_dtype, p + "sa.q_bias",
                                                  p + "sa.v_bias", c);
    Tensor head_scale = load.host_f32(p + "sa.scale_mul_1H11", {1, config.heads, 1, 1}).reshape({config.heads, 1});
    for (int h = 0; h < config.heads; ++h) {
      float& value = head_scale.data_as<float>()[h];
      value = std::exp(std::min(value, kMaxScaleMul));
    }
    block.self_head_scale = load.place(head_scale, DType::f32);
    block.self_proj = load.linear(p + "sa.proj", c, c, block_dtype);
    block.cross_norm_weight = load.tensor(p + "ca_norm.weight", {c});
    block.cross_norm_bias = load.tensor(p + "ca_norm.bias", {c});
    block.cross_q = load.linear(p + "ca.mat_q", c, c, block_dtype);
    block.cross_kv =
        load.linear_with_zero_k_bias(p + "ca.mat_kv.weight", 2 * c, d_cond, block_dtype, "", p + "ca.v_bias", c);
    block.cross_proj = load.linear(p + "ca.proj", c, c, block_dtype);
    block.ffn_up = load.linear(p + "ffn.fc1", hidden, c, block_dtype);
    block.ffn_down = load.linear(p + "ffn.fc2", c, hidden, block_dtype);
    w.blocks.push_back(std::move(block));
  }
  load.finish();
  return w;
}

}  // namespace inf
