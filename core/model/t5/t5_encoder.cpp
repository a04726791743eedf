#include "model/t5/t5_encoder.h"

#include <cstring>
#include <string>

#include "common/error.h"
#include "model/compute.h"

namespace inf {
namespace {

// Places host tensors on the backend in the dtype asked for. On the CPU backend a tensor that
// is already right (a mapped f32 weight, or a converted copy) is used as is: a second copy
// would only double the resident weights (4.9 GB for Flan-T5-XL in f32).
class T5Loader {
 public:
  T5Loader(Backend& backend, Backend& host, const WeightStore& weights)
      : backend_(backend), host_(host), weights_(weights) {}

  // `host` converted to `dtype`, contiguous, on the host.
  Tensor converted(const Tensor& host, DType dtype) {
    if (host.dtype() == dtype && host.is_contiguous()) return host;
    Tensor copy = Tensor::host(dtype, host.shape());
    host_.convert(copy, host);
    return copy;
  }

  Tensor place(const Tensor& host, DType dtype) {
    Tensor ready = converted(host, dtype);
    if (backend_.device().is_cpu()) return ready;
    Tensor placed = backend_.alloc(dtype, ready.shape());
    backend_.upload(placed, ready);
    staged_.push_back(ready);  // the upload may read it until synchronize()
    return placed;
  }

  Tensor get(const std::string& name, const Shape& shape) const { return weights_.get(name, shape); }
  Tensor tensor(const std::string& name, const Shape& shape, DType dtype) { return place(get(name, shape), dtype); }

  // Several [rows_i, cols] weights stacked along the rows into one [sum rows_i, cols] weight of
  // `dtype`, so one GEMM computes every projection.
  Tensor stacked(const std::vector<std::string>& names, int64_t rows, int64_t cols, DType dtype) {
    Tensor all = Tensor::host(dtype, {rows * static_cast<int64_t>(names.size()), cols});  // [n * rows, cols]
    for (size_t i = 0; i < names.size(); ++i)
      host_.convert(all.narrow(0, static_cast<int64_t>(i) * rows, rows), get(names[i], {rows, cols}));
    return place(all, dtype);
  }

  // Bounds the staging copies to one layer's worth.
  void flush() {
    backend_.synchronize();
    staged_.clear();
  }

 private:
  Backend& backend_;
  Backend& host_;
  const WeightStore& weights_;
  std::vector<Tensor> staged_;
};

// Embedding row `row` of `table` (f32 or bf16, contiguous [vocab, D]) widened into `out`.
void gather_row(const Tensor& table, int64_t row, float* out) {
  const int64_t width = table.dim(1);
  if (table.dtype() == DType::f32) {
    std::memcpy(out, static_cast<const float*>(table.data()) + row * width, static_cast<size_t>(width) * 4);
    return;
  }
  const uint16_t* halves = static_cast<const uint16_t*>(table.data()) + row * width;
  for (int64_t c = 0; c < width; ++c) out[c] = bf16_to_f32(halves[c]);
}

}  // namespace

T5Encoder::T5Encoder(Backend& backend, const WeightStore& weights, DType weight_dtype)
    : T5Encoder(backend, weights, T5Config::from_weights(weights), weight_dtype) {}

T5Encoder::T5Encoder(Backend& backend, const WeightStore& weights, const T5Config& config, DType weight_dtype)
    : backend_(backend), host_(create_backend("cpu")), config_(config), weight_dtype_(weight_dtype) {
  INF_CHECK(weight_dtype == DType::f32 || weight_dtype == DType::bf16, ErrorKind::invalid_argument,
            "T5 weights must be f32 or bf16, not ", dtype_name(weight_dtype),
            " (T5's activations overflow fp16's range)");
  INF_CHECK(config_.activation.has_value(), ErrorKind::unsupported, weights.source(),
            ": a plain (T5 v1.0) FFN uses ReLU, which no backend op computes; set T5Config::activation to "
            "run it with another activation");
  INF_CHECK(config_.layers > 0 && config_.heads > 0 && config_.d_kv > 0, ErrorKind::invalid_argument,
            "T5 config without layers or heads: ", config_.describe());
  load(weights);
}

void T5Encoder::load(const WeightStore& weights) {
  T5Loader loader(backend_, *host_, weights);
  const int64_t d = config_.d_model, inner = config_.inner(), ff = config_.d_ff;
  embedding_ = loader.converted(loader.get(config_.embedding_name, {config_.vocab, d}), weight_dtype_);
  const std::string bias_name = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
  relative_bias_ = loader.converted(loader.get(bias_name, {config_.buckets, config_.heads}), DType::f32);
  final_norm_ = loader.tensor("encoder.final_layer_norm.weight", {d}, DType::f32);

  for (int i = 0; i < config_.layers; ++i) {
    const std::string block = "encoder.block." + std::to_string(i) + ".";
    const std::string attention = block + "layer.0.SelfAttention.";
    const std::string ffn = block + "layer.1.DenseReluDense.";
    T5LayerWeights layer;
    layer.attention_norm = loader.tensor(block + "layer.0.layer_norm.weight", {d}, DType::f32);
    layer.qkv.weight = loader.stacked({attention + "q.weight", attention + "k.weight", attention + "v.weight"}, inner,
                                      d, weight_dtype_);
    layer.out.weight = loader.tensor(attention + "o.weight", {d, inner}, weight_dtype_);
    layer.ffn_norm = loader.tensor(block + "layer.1.layer_norm.weight", {d}, DType::f32);
    layer.wi.weight = config_.gated ? loader.stacked({ffn + "wi_0.weight", ffn + "wi_1.weight"}, ff, d, weight_dtype_)
                                    : loader.tensor(ffn + "wi.weight", {ff, d}, weight_dtype_);
    layer.wo.weight = loader.tensor(ffn + "wo.weight", {d, ff}, weight_dtype_);
    layers_.push_back(std::move(layer));
    loader.flush();
  }
}

Tensor T5Encoder::position_bias(int64_t length) const {
  const int64_t heads = config_.heads;
  // One bucket per offset j - i in [-(L-1), L-1], shared by every (i, j) pair with that offset.
  std::vector<int> bucket_of(static_cast<size_t>(2 * length - 1 > 0 ? 2 * length - 1 : 0));
  for (int64_t offset = -(length - 1); offset <= length - 1; ++offset)
    bucket_of[static_cast<size_t>(offset + length - 1)] =
        t5_relative_position_bucket(offset, config_.buckets, config_.max_distance);
  Tensor bias = Tensor::host(DType::f32, {heads, length, length});  // [H, L, L]
  const float* table = relative_bias_.data_as<float>();             // [buckets, H]
  float* out = bias.data_as<float>();
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < length; ++i)
      for (int64_t j = 0; j < length; ++j)
        out[(h * length + i) * length + j] = table[bucket_of[static_cast<size_t>(j - i + length - 1)] * heads + h];
  return bias;
}

Tensor T5Encoder::encode(const std::vector<int32_t>& ids) const {
  INF_CHECK(!ids.empty(), ErrorKind::invalid_argument, "T5 encode: no token ids (an empty prompt is just EOS, id 1)");
  for (size_t i = 0; i < ids.size(); ++i)
    INF_CHECK(ids[i] >= 0 && ids[i] < config_.vocab, ErrorKind::invalid_argument, "T5 encode: token ", i, " has id ",
              ids[i], ", outside the vocabulary [0, ", config_.vocab, ")");
  const Compute c(backend_);
  const auto length = static_cast<int64_t>(ids.size());
  const int64_t d = config_.d_model, heads = config_.heads, d_kv = config_.d_kv, ff = config_.d_ff;

  Tensor embedded = Tensor::host(DType::f32, {length, d});  // [L, D]
  for (int64_t t = 0; t < length; ++t)
    gather_row(embedding_, ids[static_cast<size_t>(t)], embedded.data_as<float>() + t * d);
  // Both host tensors stay alive until download() synchronises: a device backend's upload may
  // still be reading them.
  const Tensor host_bias = position_bias(length);  // [H, L, L]
  Tensor x = c.upload(embedded);                   // [L, D]: the residual stream
  const Tensor bias = c.upload(host_bias);         // [H, L, L]

  for (const T5LayerWeights& layer : layers_) {
    {
      const Tensor h = c.rms_norm(x, layer.attention_norm, config_.eps);  // [L, D]
      const Tensor qkv = c.linear(h, layer.qkv);                          // [L, 3 * H * dk]
      const Tensor split = qkv.unflatten(1, {3, heads, d_kv}).permute({1, 2, 0, 3});  // [3, H, L, dk] view
      // [1, H, L, dk] views: batch dims (1, H), each head's rows strided through qkv.
      const Tensor q = split.narrow(0, 0, 1), k = split.narrow(0, 1, 1), v = split.narrow(0, 2, 1);
      // T5 does not scale the logits by 1/sqrt(dk): its q projection was trained to absorb it.
      const Tensor scores = c.matmul(q, k, true);  // [1, H, L, L]
      c.add_into(scores, bias);
      const Tensor probs = c.alloc(scores.shape());  // [1, H, L, L]
      backend_.softmax(probs, scores, 1.0f);
      const Tensor context = c.matmul(probs, v, false);  // [1, H, L, dk]
      const Tensor merged =
          c.contiguous(context.permute({0, 2, 1, 3})).reshape({length, heads * d_kv});  // [L, H * dk]
      c.add_into(x, c.linear(merged, layer.out));
    }
    {
      const Tensor h = c.rms_norm(x, layer.ffn_norm, config_.eps);  // [L, D]
      const Tensor up = c.linear(h, layer.wi);                      // [L, 2F] gated, [L, F] plain
      const UnaryOp act = *config_.activation;
      const Tensor hidden = config_.gated ? c.mul(c.unary(act, up.narrow(1, 0, ff)), up.narrow(1, ff, ff))
                                          : c.unary(act, up);  // [L, F]
      c.add_into(x, c.linear(hidden, layer.wo));
    }
  }
  return c.download(c.rms_norm(x, final_norm_, config_.eps));
}

}  // namespace inf
