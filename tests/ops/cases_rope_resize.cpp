// rope, resize_bilinear and l2_normalize cases.
//   rope: head dims 64 and 128 with the model's 2-D angle tables (row and column positions up to
//     127 times 10000^(-j/(hd/4))), heads read from a packed qkv activation, tables narrowed
//     out of a longer one.
//   resize_bilinear: up, down, identity, non-square, 1x1 -> 16x16, 16x16 -> 1x1, non-integer
//     ratios, and a channels-last input viewed as [B, C, H, W].
//   l2_normalize: head rows (also strided), width 1, an all-zero row and a row whose norm is
//     below eps (both must follow x / max(||x||, eps), not NaN).
#include <cmath>

#include "ops/op_case.h"

namespace inf::ops_test {
namespace {

const DType kFloatTypes[] = {DType::f32, DType::bf16, DType::f16};

// ---- rope ----

// cos and sin tables [positions, hd/2] of the model's 2-D RoPE: pair p < hd/4 turns with the
// token's row, the others with its column; positions sweep rows 0..127 and scrambled columns.
void make_rope_tables(int64_t positions, int64_t head_dim, Tensor& cos_table, Tensor& sin_table) {
  const int64_t pairs = head_dim / 2, per_axis = head_dim / 4;
  cos_table = Tensor::host(DType::f32, {positions, pairs});
  sin_table = Tensor::host(DType::f32, {positions, pairs});
  for (int64_t l = 0; l < positions; ++l) {
    const double row = positions > 1 ? static_cast<double>(l * 127 / (positions - 1)) : 0.0;
    const double col = static_cast<double>((l * 53 + 11) % 128);
    for (int64_t p = 0; p < pairs; ++p) {
      const int64_t j = p % per_axis;
      const double inv_freq = std::pow(10000.0, -static_cast<double>(j) / static_cast<double>(per_axis));
      const double angle = (p < per_axis ? row : col) * inv_freq;
      cos_table.data_as<float>()[l * pairs + p] = static_cast<float>(std::cos(angle));
      sin_table.data_as<float>()[l * pairs + p] = static_cast<float>(std::sin(angle));
    }
  }
}

struct RopeShape {
  int64_t batch, length, heads, head_dim;
  bool packed_heads;  // src is the k part of a [B, L, 3, H, hd] qkv activation
  bool narrow_table;  // tables are rows [7, 7 + L) of longer ones
};

std::vector<OpCase> rope_cases(uint32_t& seed) {
  const RopeShape shapes[] = {
      {2, 1, 3, 64, false, false},  {2, 12, 3, 64, false, false}, {1, 37, 1, 128, false, true},
      {2, 20, 3, 128, true, false}, {3, 16, 2, 64, true, true},
  };
  std::vector<OpCase> cases;
  for (DType dtype : kFloatTypes)
    for (const auto& s : shapes) {
      OpCase c;
      c.op = "rope";
      const Shape shape{s.batch, s.length, s.heads, s.head_dim};
      c.label = std::string(dtype_name(dtype)) + shape_string(shape) + (s.packed_heads ? " qkv-view" : "") +
                (s.narrow_table ? " narrowed tables" : "");
      if (s.packed_heads) {
        const Tensor qkv = random_tensor(dtype, {s.batch, s.length, 3, s.heads, s.head_dim}, seed++);
        c.inputs.push_back({qkv, [](const Tensor& t) {
                              const Tensor k = t.narrow(2, 1, 1);  // [B, L, 1, H, hd]
                              return Tensor(k.buffer(), k.dtype(), {k.dim(0), k.dim(1), k.dim(3), k.dim(4)},
                                            {k.strides()[0], k.strides()[1], k.strides()[3], k.strides()[4]},
                                            k.byte_offset());
                            }});
      } else {
        c.inputs.push_back({random_tensor(dtype, shape, seed++, -2.0f, 2.0f), {}});
      }
      const int64_t table_offset = s.narrow_table ? 7 : 0;
      Tensor cos_table, sin_table;
      make_rope_tables(s.length + table_offset, s.head_dim, cos_table, sin_table);
      std::function<Tensor(const Tensor&)> table_view;
      if (s.narrow_table) table_view = [=](const Tensor& t) { return t.narrow(0, table_offset, s.length); };
      c.inputs.push_back({cos_table, table_view});
      c.inputs.push_back({sin_table, table_view});
      c.out_dtype = dtype;
      c.out_shape = shape;
      c.flops = 3.0 * static_cast<double>(shape_numel(shape));
      c.run = [](Backend& backend, const Tensor& out, const std::vector<Tensor>& in) {
        backend.rope(out, in[0], in[1], in[2]);
      };
      c.oracle = [](const std::vector<Tensor>& in) {
        const Tensor& x = in[0];
        const int64_t length = x.dim(1), heads = x.dim(2), pairs = x.dim(3) / 2;
        std::vector<double> expected(static_cast<size_t>(x.numel()));
        for (int64_t i = 0; i < x.numel(); i += 2) {
          const int64_t l = (i / (heads * 2 * pairs)) % length, p = (i % (2 * pairs)) / 2;
          const double cosine = element(in[1], l * pairs + p), sine = element(in[2], l * pairs + p);
          const double even = element(x, i), odd = element(x, i + 1);
          expected[static_cast<size_t>(i)] = even * cosine - odd * sine;
          expected[static_cast<size_t>(i + 1)] = even * sine + odd * cosine;
        }
        return expected;
      };
      cases.push_back(c);
    }
  return cases;
}

// ---- resize_bilinear ----

struct ResizeShape {
  Shape src;  // [B, C, H, W]
  int64_t out_h, out_w;
  bool channels_last;  // src is a [B, H, W, C] tensor permuted to [B, C, H, W]
};

// Source taps of output index `o` along an axis, straight from PyTorch's align_corners=False
// definition: x = (o + 0.5) * in / out - 0.5, clamped at 0, between floor(x) and floor(x) + 1.
void taps(int64_t o, int64_t in, int64_t out, int64_t& low, int64_t& high, double& frac) {
  const double x = std::max((static_cast<double>(o) + 0.5) * static_cast<double>(in) / static_cast<double>(out) - 0.5, 0.0);
  low = std::min(static_cast<int64_t>(std::floor(x)), in - 1);
  high = std::min(low + 1, in - 1);
  frac = x - static_cast<double>(low);
}

std::vector<OpCase> resize_cases(uint32_t& seed) {
  const ResizeShape shapes[] = {
      {{1, 3, 16, 16}, 1, 1, false}, {{2, 4, 16, 16}, 6, 6, false},  {{2, 4, 6, 6}, 16, 16, false},
      {{1, 2, 5, 4}, 10, 8, false},  {{1, 3, 7, 9}, 7, 9, false},    {{2, 3, 1, 1}, 16, 16, false},
      {{1, 2, 13, 11}, 4, 5, false}, {{2, 5, 6, 6}, 16, 16, true},   {{1, 16, 64, 64}, 128, 128, true},
  };
  std::vector<OpCase> cases;
  for (DType dtype : kFloatTypes)
    for (const auto& s : shapes) {
      OpCase c;
      c.op = "resize_bilinear";
      const Shape out_shape{s.src[0], s.src[1], s.out_h, s.out_w};
      c.label = std::string(dtype_name(dtype)) + shape_string(s.src) + " -> " + shape_string(out_shape) +
                (s.channels_last ? " channels-last view" : "");
      if (s.channels_last) {
        const Shape nhwc{s.src[0], s.src[2], s.src[3], s.src[1]};
        c.inputs.push_back({random_tensor(dtype, nhwc, seed++), [](const Tensor& t) { return t.permute({0, 3, 1, 2}); }});
      } else {
        c.inputs.push_back({random_tensor(dtype, s.src, seed++), {}});
      }
      c.out_dtype = dtype;
      c.out_shape = out_shape;
      c.flops = 8.0 * static_cast<double>(shape_numel(out_shape));  // 3 lerps + weights per output
      c.run = [](Backend& backend, const Tensor& out, const std::vector<Tensor>& in) {
        backend.resize_bilinear(out, in[0]);
      };
      c.oracle = [out_shape](const std::vector<Tensor>& in) {
        const Tensor& x = in[0];
        const int64_t planes = x.dim(0) * x.dim(1), in_h = x.dim(2), in_w = x.dim(3);
        const int64_t out_h = out_shape[2], out_w = out_shape[3];
        std::vector<double> expected;
        for (int64_t plane = 0; plane < planes; ++plane)
          for (int64_t y = 0; y < out_h; ++y)
            for (int64_t xo = 0; xo < out_w; ++xo) {
              int64_t y0, y1, x0, x1;
              double fy, fx;
              taps(y, in_h, out_h, y0, y1, fy);
              taps(xo, in_w, out_w, x0, x1, fx);
              auto at = [&](int64_t row, int64_t col) { return element(x, (plane * in_h + row) * in_w + col); };
              const double top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx;
              const double bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx;
              expected.push_back(top * (1 - fy) + bottom * fy);
            }
        return expected;
      };
      cases.push_back(c);
    }
  return cases;
}

// ---- l2_normalize ----

std::vector<OpCase> l2_normalize_cases(uint32_t& seed) {
  constexpr float kEps = 1e-12f;
  std::vector<OpCase> cases;
  auto oracle = [](const std::vector<Tensor>& in) {
    const Tensor& x = in[0];
    const int64_t width = x.dim(-1);
    std::vector<double> expected(static_cast<size_t>(x.numel()));
    for (int64_t row = 0; row < x.numel() / width; ++row) {
      double squares = 0;
      for (int64_t j = 0; j < width; ++j) squares += element(x, row * width + j) * element(x, row * width + j);
      const double norm = std::max(std::sqrt(squares), static_cast<double>(kEps));
      for (int64_t j = 0; j < width; ++j) expected[static_cast<size_t>(row * width + j)] = element(x, row * width + j) / norm;
    }
    return expected;
  };
  auto run = [](Backend& backend, const Tensor& out, const std::vector<Tensor>& in) {
    backend.l2_normalize(out, in[0], kEps);
  };
  for (DType dtype : kFloatTypes) {
    const Shape shapes[] = {{3, 1}, {2, 7, 3, 64}, {5, 128}, {2, 4, 16, 96}};
    for (const Shape& shape : shapes) {
      OpCase c;
      c.op = "l2_normalize";
      c.label = std::string(dtype_name(dtype)) + shape_string(shape);
      c.inputs = {{random_tensor(dtype, shape, seed++, -3.0f, 3.0f), {}}};
      c.out_dtype = dtype;
      c.out_shape = shape;
      c.flops = 3.0 * static_cast<double>(shape_numel(shape));
      c.run = run;
      c.oracle = oracle;
      cases.push_back(c);
    }
    {
      // The q heads of a [B, n, 3, H, hd] qkv activation, read in place: strided rows.
      OpCase c;
      c.op = "l2_normalize";
      c.label = std::string(dtype_name(dtype)) + "[2, 9, 3, 128] q heads of a qkv view";
      c.inputs = {{random_tensor(dtype, {2, 9, 3, 3, 128}, seed++), [](const Tensor& t) {
                     const Tensor q = t.narrow(2, 0, 1);  // [B, n, 1, H, hd]
                     return Tensor(q.buffer(), q.dtype(), {q.dim(0), q.dim(1), q.dim(3), q.dim(4)},
                                   {q.strides()[0], q.strides()[1], q.strides()[3], q.strides()[4]}, q.byte_offset());
                   }}};
      c.out_dtype = dtype;
      c.out_shape = {2, 9, 3, 128};
      c.flops = 3.0 * 2 * 9 * 3 * 128;
      c.run = run;
      c.oracle = oracle;
      cases.push_back(c);
    }
  }
  {
    // Row 1 is all zeros (0 / eps = 0, not NaN); row 2's norm, 8e-14, is below eps, so it is
    // divided by eps rather than scaled up to unit length.
    OpCase c;
    c.op = "l2_normalize";
    c.label = "f32[3, 64] with a zero row and a row below eps";
    Tensor x = random_tensor(DType::f32, {3, 64}, seed++);
    for (int j = 0; j < 64; ++j) {
      x.data_as<float>()[64 + j] = 0.0f;
      x.data_as<float>()[128 + j] = 1e-14f;
    }
    c.inputs = {{x, {}}};
    c.out_shape = {3, 64};
    c.flops = 3.0 * 3 * 64;
    c.run = run;
    c.oracle = oracle;
    cases.push_back(c);
  }
  return cases;
}

std::vector<OpCase> make_cases() {
  uint32_t seed = 1700;
  std::vector<OpCase> cases = rope_cases(seed);
  for (auto& c : resize_cases(seed)) cases.push_back(std::move(c));
  for (auto& c : l2_normalize_cases(seed)) cases.push_back(std::move(c));
  return cases;
}

const Register registration(make_cases);

}  // namespace
}  // namespace inf::ops_test
