// Attention cases: single query and single key, long key runs (769), head dims 16..256, 1 and 3
// heads and batch rows, key_lengths with 0 and full rows, q/k/v as views of a packed qkv
// activation and of a [L, B, H, hd] KV cache (narrowed and permuted, as the model passes them),
// mixed dtypes, and cosine attention at temperature 100 where logits reach ~+-100, so a softmax
// without max subtraction overflows.
#include <cmath>
#include <random>

#include "ops/op_case.h"

namespace inf::ops_test {
namespace {

enum class Layout {
  contiguous,  // q, k, v are plain [B, L, H, hd] tensors
  packed,      // q, k, v are views of one [B, L, 3, H, hd] qkv activation (self-attention, Lq == Lk)
  kv_cache,    // q is a view of a packed qkv; k and v are cache[0:Lk].permute(1, 0, 2, 3) of [Lmax, B, H, hd]
};

struct AttentionShape {
  int64_t batch, q_len, k_len, heads, head_dim;
  DType q_dtype, k_dtype, v_dtype, out_dtype;
  float scale;
  Layout layout;
  bool cosine;                       // unit q and k in clusters: sharp logits near +scale
  std::vector<int32_t> key_lengths;  // empty: every row sees all k_len keys
};

// A view of `t` without its size-1 axis `axis` (a "select" of index 0 after a narrow).
Tensor drop_axis(const Tensor& t, int axis) {
  Shape shape = t.shape();
  std::vector<int64_t> strides = t.strides();
  shape.erase(shape.begin() + axis);
  strides.erase(strides.begin() + axis);
  return Tensor(t.buffer(), t.dtype(), shape, strides, t.byte_offset());
}

// Writes `values` (row-major over the view's shape) through a strided host view, rounded to its dtype.
void fill_view(const Tensor& view, const std::vector<float>& values) {
  for (int64_t linear = 0; linear < view.numel(); ++linear) {
    int64_t offset = 0, rest = linear;
    for (int d = view.ndim(); d-- > 0;) {
      offset += (rest % view.dim(d)) * view.strides()[static_cast<size_t>(d)];
      rest /= view.dim(d);
    }
    const float value = values[static_cast<size_t>(linear)];
    switch (view.dtype()) {
      case DType::f32: static_cast<float*>(view.data())[offset] = value; break;
      case DType::bf16: static_cast<uint16_t*>(view.data())[offset] = f32_to_bf16(value); break;
      default: static_cast<uint16_t*>(view.data())[offset] = f32_to_f16(value); break;
    }
  }
}

void normalize(float* x, int64_t n) {
  double squares = 0;
  for (int64_t i = 0; i < n; ++i) squares += static_cast<double>(x[i]) * x[i];
  const auto inv = static_cast<float>(1.0 / std::sqrt(squares));
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

// Cosine-attention inputs, logical [B, L, H, hd]: unit keys in clusters around 8 anchor
// directions per head, and unit queries near the anchor of one key their row may see. Logits
// within a cluster are ~0.99 * scale +- 1 % (at scale 100: ~99 +- 1, several keys competing, all
// far past exp's f32 overflow at 88.7); logits across clusters are ~0 +- scale / sqrt(hd).
void make_cosine_inputs(const AttentionShape& s, uint32_t seed, std::vector<float>& q, std::vector<float>& k) {
  constexpr int64_t kAnchors = 8;
  constexpr float kSpread = 0.08f;
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  const int64_t hd = s.head_dim;
  std::vector<float> anchors(static_cast<size_t>(s.batch * s.heads * kAnchors * hd)), noise(static_cast<size_t>(hd));
  for (float& x : anchors) x = uniform(generator);
  for (int64_t a = 0; a < s.batch * s.heads * kAnchors; ++a) normalize(&anchors[static_cast<size_t>(a * hd)], hd);
  auto anchor = [&](int64_t b, int64_t h, int64_t which) {
    return &anchors[static_cast<size_t>(((b * s.heads + h) * kAnchors + which) * hd)];
  };
  // out = normalize(center + kSpread * a random unit vector)
  auto near = [&](const float* center, float* out) {
    for (float& x : noise) x = uniform(generator);
    normalize(noise.data(), hd);
    for (int64_t d = 0; d < hd; ++d) out[d] = center[d] + kSpread * noise[static_cast<size_t>(d)];
    normalize(out, hd);
  };
  auto cluster_of_key = [](int64_t j) { return (j * 5) % kAnchors; };
  k.resize(static_cast<size_t>(s.batch * s.k_len * s.heads * hd));
  q.resize(static_cast<size_t>(s.batch * s.q_len * s.heads * hd));
  for (int64_t b = 0; b < s.batch; ++b) {
    const int64_t visible = s.key_lengths.empty() ? s.k_len : s.key_lengths[static_cast<size_t>(b)];
    for (int64_t h = 0; h < s.heads; ++h) {
      for (int64_t j = 0; j < s.k_len; ++j)
        near(anchor(b, h, cluster_of_key(j)), &k[static_cast<size_t>(((b * s.k_len + j) * s.heads + h) * hd)]);
      for (int64_t i = 0; i < s.q_len; ++i) {
        const int64_t cluster = visible == 0 ? 0 : cluster_of_key((i * 7 + h * 3 + b) % visible);
        near(anchor(b, h, cluster), &q[static_cast<size_t>(((b * s.q_len + i) * s.heads + h) * hd)]);
      }
    }
  }
}

std::string layout_name(Layout layout) {
  switch (layout) {
    case Layout::contiguous: return "";
    case Layout::packed: return " qkv-views";
    case Layout::kv_cache: return " kv-cache-views";
  }
  return "";
}

// The view function of input `which` (0 q, 1 k, 2 v) of a case with the given layout.
std::function<Tensor(const Tensor&)> input_view(Layout layout, int which, int64_t k_len) {
  const bool packed = layout == Layout::packed || (layout == Layout::kv_cache && which == 0);
  if (packed) return [which](const Tensor& t) { return drop_axis(t.narrow(2, which, 1), 2); };
  if (layout == Layout::kv_cache) return [k_len](const Tensor& t) { return t.narrow(0, 0, k_len).permute({1, 0, 2, 3}); };
  return {};
}

OpCase make_case(const AttentionShape& s, uint32_t& seed) {
  const int64_t B = s.batch, H = s.heads, hd = s.head_dim;
  OpCase c;
  c.op = "attention";
  c.label = std::string(dtype_name(s.q_dtype)) + "/" + std::string(dtype_name(s.k_dtype)) + "/" +
            std::string(dtype_name(s.v_dtype)) + "->" + std::string(dtype_name(s.out_dtype)) + " B" +
            std::to_string(B) + " Lq" + std::to_string(s.q_len) + " Lk" + std::to_string(s.k_len) + " H" +
            std::to_string(H) + " hd" + std::to_string(hd) + (s.cosine ? " cos" : "") + " scale " +
            std::to_string(s.scale).substr(0, 5) + layout_name(s.layout) + (s.key_lengths.empty() ? "" : " lens");
  const int64_t cache_len = s.k_len + 5;  // the cache holds more rows than are filled so far
  if (s.layout == Layout::packed) {
    const Tensor qkv = random_tensor(s.q_dtype, {B, s.q_len, 3, H, hd}, seed++);  // [B, L, 3, H, hd]
    for (int which = 0; which < 3; ++which) c.inputs.push_back({qkv, input_view(s.layout, which, s.k_len)});
  } else {
    const bool cache = s.layout == Layout::kv_cache;
    const Shape q_shape = cache ? Shape{B, s.q_len, 3, H, hd} : Shape{B, s.q_len, H, hd};
    const Shape kv_shape = cache ? Shape{cache_len, B, H, hd} : Shape{B, s.k_len, H, hd};
    c.inputs.push_back({random_tensor(s.q_dtype, q_shape, seed++), input_view(s.layout, 0, s.k_len)});
    c.inputs.push_back({random_tensor(s.k_dtype, kv_shape, seed++), input_view(s.layout, 1, s.k_len)});
    c.inputs.push_back({random_tensor(s.v_dtype, kv_shape, seed++), input_view(s.layout, 2, s.k_len)});
  }
  if (s.cosine) {
    std::vector<float> q, k;
    make_cosine_inputs(s, seed++, q, k);
    fill_view(c.inputs[0].view(c.inputs[0].base), q);
    fill_view(c.inputs[1].view(c.inputs[1].base), k);
  }
  c.out_dtype = s.out_dtype;
  c.out_shape = {B, s.q_len, H, hd};
  int64_t attended_keys = 0;
  for (int64_t b = 0; b < B; ++b) attended_keys += s.key_lengths.empty() ? s.k_len : s.key_lengths[static_cast<size_t>(b)];
  c.flops = 4.0 * static_cast<double>(attended_keys * s.q_len * H * hd);  // two GEMMs per (row, key)
  const float scale = s.scale;
  const std::vector<int32_t> key_lengths = s.key_lengths;
  c.run = [scale, key_lengths](Backend& backend, const Tensor& out, const std::vector<Tensor>& in) {
    backend.attention(out, in[0], in[1], in[2], scale, key_lengths.empty() ? nullptr : &key_lengths);
  };
  c.oracle = [scale, key_lengths](const std::vector<Tensor>& in) {
    const Tensor &q = in[0], &k = in[1], &v = in[2];
    const int64_t batch = q.dim(0), q_len = q.dim(1), k_len = k.dim(1), heads = q.dim(2), head_dim = q.dim(3);
    auto widen = [](const Tensor& t) {
      std::vector<double> values(static_cast<size_t>(t.numel()));
      for (int64_t i = 0; i < t.numel(); ++i) values[static_cast<size_t>(i)] = element(t, i);
      return values;
    };
    const std::vector<double> qd = widen(q), kd = widen(k), vd = widen(v);
    std::vector<double> expected(static_cast<size_t>(q.numel()), 0.0), logits(static_cast<size_t>(k_len));
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t keys = key_lengths.empty() ? k_len : key_lengths[static_cast<size_t>(b)];
      for (int64_t i = 0; i < q_len; ++i)
        for (int64_t h = 0; h < heads; ++h) {
          const size_t q_row = static_cast<size_t>(((b * q_len + i) * heads + h) * head_dim);
          double peak = -INFINITY;
          for (int64_t j = 0; j < keys; ++j) {
            const size_t k_row = static_cast<size_t>(((b * k_len + j) * heads + h) * head_dim);
            double dot = 0;
            for (int64_t d = 0; d < head_dim; ++d) dot += qd[q_row + static_cast<size_t>(d)] * kd[k_row + static_cast<size_t>(d)];
            logits[static_cast<size_t>(j)] = dot * scale;
            peak = std::max(peak, logits[static_cast<size_t>(j)]);
          }
          double total = 0;
          for (int64_t j = 0; j < keys; ++j) total += (logits[static_cast<size_t>(j)] = std::exp(logits[static_cast<size_t>(j)] - peak));
          for (int64_t j = 0; j < keys; ++j) {
            const size_t v_row = static_cast<size_t>(((b * k_len + j) * heads + h) * head_dim);
            const double weight = logits[static_cast<size_t>(j)] / total;
            for (int64_t d = 0; d < head_dim; ++d) expected[q_row + static_cast<size_t>(d)] += weight * vd[v_row + static_cast<size_t>(d)];
          }
        }
    }
    return expected;
  };
  return c;
}

std::vector<OpCase> make_cases() {
  const DType f32 = DType::f32, bf16 = DType::bf16, f16 = DType::f16;
  const float inv_sqrt_96 = 1.0f / std::sqrt(96.0f), inv_sqrt_128 = 1.0f / std::sqrt(128.0f);
  const AttentionShape shapes[] = {
      {1, 1, 1, 1, 64, f32, f32, f32, f32, 0.125f, Layout::contiguous, false, {}},
      {1, 1, 769, 1, 64, f32, f32, f32, f32, 0.125f, Layout::contiguous, false, {}},
      {3, 7, 769, 3, 64, f32, f32, f32, f32, 0.125f, Layout::contiguous, false, {769, 0, 77}},
      {3, 7, 769, 3, 96, bf16, bf16, bf16, bf16, inv_sqrt_96, Layout::contiguous, false, {1, 769, 0}},
      {2, 33, 65, 2, 128, f16, f16, f16, f16, inv_sqrt_128, Layout::contiguous, false, {}},
      {3, 7, 1, 3, 64, f32, f32, f32, f32, 0.125f, Layout::kv_cache, false, {}},
      {2, 13, 13, 3, 128, f32, f32, f32, f32, 1.0f, Layout::packed, true, {}},
      {2, 13, 29, 3, 128, bf16, bf16, bf16, bf16, 100.0f, Layout::kv_cache, true, {}},
      {2, 16, 300, 2, 64, f32, f32, f32, f32, 100.0f, Layout::kv_cache, true, {}},
      {2, 16, 300, 2, 64, f16, f16, f16, f16, 100.0f, Layout::kv_cache, true, {}},
      // The reference's dtypes after RoPE: q and k in f32 (the f32 table promotes them), v in bf16.
      {2, 13, 29, 3, 128, f32, f32, bf16, bf16, 4.0f, Layout::kv_cache, true, {}},
      {2, 9, 40, 2, 16, f32, f32, f32, f32, 0.25f, Layout::contiguous, false, {40, 17}},
      {1, 5, 70, 1, 256, f16, f16, f16, f32, 0.0625f, Layout::contiguous, false, {}},
      // A ~10k-key cache like the last scales': 450 x 10000 scores make the CPU split the queries
      // into two chunks; on CUDA, 157 key tiles of online softmax.
      {1, 450, 10000, 1, 16, f32, f32, f32, f32, 0.25f, Layout::kv_cache, false, {}},
      // Model-sized: one head group of a 16x16 scale attending to its cache, in bf16 and f32.
      {2, 256, 1024, 8, 128, bf16, bf16, bf16, bf16, 20.0f, Layout::kv_cache, true, {}},
      {2, 256, 1024, 8, 128, f32, f32, f32, f32, inv_sqrt_128, Layout::contiguous, false, {}},
  };
  std::vector<OpCase> cases;
  uint32_t seed = 1300;
  for (const auto& s : shapes) cases.push_back(make_case(s, seed));
  return cases;
}

const Register registration(make_cases);

}  // namespace
}  // namespace inf::ops_test
