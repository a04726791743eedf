// group_norm, upsample_nearest and resize_area cases (the BSQ-VAE's image ops).
//   group_norm: 32 and 24 groups of C = 96, C = 32 with one channel per group, with and without
//     affine and swish, H*W = 1, an input far from zero (mean 100, std ~0.3: cancellation), a
//     channels-last view; f32, bf16 and f16.
//   upsample_nearest: x2, x3, 1x1 -> 2x2, a channels-last view.
//   resize_area: identity, 16 -> 1, 8 -> 6 (overlapping windows), 8 -> 4, 5x7 -> 2x3,
//     1x1 -> 1x1, 3x4 -> 5x6 (upsampling: windows of one or two pixels), a channels-last view.
#include <cmath>
#include <string>

#include "ops/op_case.h"

namespace inf::ops_test {
namespace {

const DType kFloatTypes[] = {DType::f32, DType::bf16, DType::f16};

// `shape` as a contiguous input, or stored channels-last and permuted back to [B, C, H, W].
CaseInput image_input(DType dtype, const Shape& shape, bool channels_last, uint32_t seed, float lo = -1.0f,
                      float hi = 1.0f) {
  if (!channels_last) return {random_tensor(dtype, shape, seed, lo, hi), {}};
  return {random_tensor(dtype, {shape[0], shape[2], shape[3], shape[1]}, seed, lo, hi),
          [](const Tensor& t) { return t.permute({0, 3, 1, 2}); }};
}

std::string image_label(DType dtype, const Shape& shape, bool channels_last) {
  return std::string(dtype_name(dtype)) + shape_string(shape) + (channels_last ? " channels-last view" : "");
}

// ---- group_norm ----

constexpr float kGroupNormEps = 1e-6f;

struct GroupNormCase {
  Shape shape;
  int groups;
  bool affine, swish, channels_last;
  float lo, hi;  // input range
};

std::vector<OpCase> group_norm_cases(uint32_t& seed) {
  const GroupNormCase shapes[] = {
      {{1, 96, 8, 8}, 32, true, true, false, -2.0f, 3.0f},
      {{2, 96, 5, 3}, 24, true, false, false, -2.0f, 3.0f},
      {{2, 32, 4, 4}, 32, false, true, false, -1.0f, 1.0f},   // one channel per group
      {{2, 32, 6, 5}, 32, false, false, false, -1.0f, 1.0f},
      {{2, 96, 1, 1}, 32, true, true, false, -1.0f, 1.0f},    // H*W = 1: groups of 3 values
      {{1, 64, 9, 7}, 32, true, true, false, 99.5f, 100.5f},  // far from zero
      {{2, 64, 8, 8}, 32, true, true, true, -1.0f, 1.0f},
      {{1, 128, 64, 64}, 32, true, true, false, -1.0f, 1.0f},  // a decoder norm, for perf
  };
  std::vector<OpCase> cases;
  for (DType dtype : kFloatTypes)
    for (const auto& s : shapes) {
      // Far from zero, bf16/f16 inputs keep ~2 significant digits of the deviation: pointless.
      if (s.lo > 50.0f && dtype != DType::f32) continue;
      OpCase c;
      c.op = "group_norm";
      c.label = image_label(dtype, s.shape, s.channels_last) + " groups " + std::to_string(s.groups) +
                (s.affine ? " +weight+bias" : "") + (s.swish ? " +swish" : "");
      c.inputs.push_back(image_input(dtype, s.shape, s.channels_last, seed++, s.lo, s.hi));
      if (s.affine) {
        c.inputs.push_back({random_tensor(DType::f32, {s.shape[1]}, seed++, 0.5f, 1.5f), {}});
        c.inputs.push_back({random_tensor(dtype, {s.shape[1]}, seed++), {}});
      }
      c.out_dtype = dtype;
      c.out_shape = s.shape;
      c.flops = (s.swish ? 12.0 : 7.0) * static_cast<double>(shape_numel(s.shape));
      const int groups = s.groups;
      const bool affine = s.affine, swish = s.swish;
      c.run = [groups, affine, swish](Backend& backend, const Tensor& out, const std::vector<Tensor>& in) {
        backend.group_norm(out, in[0], groups, affine ? &in[1] : nullptr, affine ? &in[2] : nullptr, kGroupNormEps,
                           swish);
      };
      c.oracle = [groups, affine, swish](const std::vector<Tensor>& in) {
        const Tensor& x = in[0];
        const int64_t channels = x.dim(1), pixels = x.dim(2) * x.dim(3);
        const int64_t group_size = channels / groups * pixels;  // a group's values are contiguous in NCHW order
        std::vector<double> expected(static_cast<size_t>(x.numel()));
        for (int64_t start = 0; start < x.numel(); start += group_size) {
          double mean = 0, variance = 0;
          for (int64_t i = start; i < start + group_size; ++i) mean += element(x, i);
          mean /= static_cast<double>(group_size);
          for (int64_t i = start; i < start + group_size; ++i) variance += (element(x, i) - mean) * (element(x, i) - mean);
          variance /= static_cast<double>(group_size);
          for (int64_t i = start; i < start + group_size; ++i) {
            const int64_t channel = i / pixels % channels;
            double y = (element(x, i) - mean) / std::sqrt(variance + kGroupNormEps);
            if (affine) y = y * element(in[1], channel) + element(in[2], channel);
            if (swish) y = y / (1.0 + std::exp(-y));
            expected[static_cast<size_t>(i)] = y;
          }
        }
        return expected;
      };
      cases.push_back(c);
    }
  return cases;
}

// ---- upsample_nearest ----

struct UpsampleCase {
  Shape src;
  int64_t factor;
  bool channels_last;
};

std::vector<OpCase> upsample_cases(uint32_t& seed) {
  const UpsampleCase shapes[] = {
      {{1, 3, 4, 4}, 2, false}, {{2, 5, 3, 7}, 3, false},  {{1, 2, 1, 1}, 2, false},
      {{2, 16, 8, 8}, 2, true}, {{1, 128, 64, 64}, 2, false},  // a decoder upsample, for perf
  };
  std::vector<OpCase> cases;
  for (DType dtype : kFloatTypes)
    for (const auto& s : shapes) {
      const Shape out_shape{s.src[0], s.src[1], s.src[2] * s.factor, s.src[3] * s.factor};
      OpCase c;
      c.op = "upsample_nearest";
      c.label = image_label(dtype, s.src, s.channels_last) + " -> " + shape_string(out_shape);
      c.inputs.push_back(image_input(dtype, s.src, s.channels_last, seed++));
      c.out_dtype = dtype;
      c.out_shape = out_shape;
      c.run = [](Backend& backend, const Tensor& out, const std::vector<Tensor>& in) {
        backend.upsample_nearest(out, in[0]);
      };
      c.oracle = [out_shape](const std::vector<Tensor>& in) {
        const Tensor& x = in[0];
        const int64_t in_h = x.dim(2), in_w = x.dim(3), out_h = out_shape[2], out_w = out_shape[3];
        std::vector<double> expected;
        for (int64_t plane = 0; plane < out_shape[0] * out_shape[1]; ++plane)
          for (int64_t y = 0; y < out_h; ++y)
            for (int64_t xo = 0; xo < out_w; ++xo) {
              // Nearest source pixel: floor(dst * in / out), exact for integer factors.
              const int64_t sy = y * in_h / out_h, sx = xo * in_w / out_w;
              expected.push_back(element(x, (plane * in_h + sy) * in_w + sx));
            }
        return expected;
      };
      cases.push_back(c);
    }
  return cases;
}

// ---- resize_area ----

struct AreaCase {
  Shape src;
  int64_t out_h, out_w;
  bool channels_last;
};

std::vector<OpCase> resize_area_cases(uint32_t& seed) {
  const AreaCase shapes[] = {
      {{1, 3, 8, 8}, 8, 8, false},   {{2, 4, 16, 16}, 1, 1, false}, {{1, 3, 8, 8}, 6, 6, false},
      {{2, 3, 8, 8}, 4, 4, false},   {{2, 3, 5, 7}, 2, 3, false},   {{1, 4, 1, 1}, 1, 1, false},
      {{1, 2, 3, 4}, 5, 6, false},   {{1, 16, 16, 16}, 5, 5, true}, {{1, 32, 64, 64}, 21, 21, false},
  };
  std::vector<OpCase> cases;
  for (DType dtype : kFloatTypes)
    for (const auto& s : shapes) {
      const Shape out_shape{s.src[0], s.src[1], s.out_h, s.out_w};
      OpCase c;
      c.op = "resize_area";
      c.label = image_label(dtype, s.src, s.channels_last) + " -> " + shape_string(out_shape);
      c.inputs.push_back(image_input(dtype, s.src, s.channels_last, seed++));
      c.out_dtype = dtype;
      c.out_shape = out_shape;
      c.run = [](Backend& backend, const Tensor& out, const std::vector<Tensor>& in) { backend.resize_area(out, in[0]); };
      c.oracle = [out_shape](const std::vector<Tensor>& in) {
        const Tensor& x = in[0];
        const int64_t in_h = x.dim(2), in_w = x.dim(3), out_h = out_shape[2], out_w = out_shape[3];
        // Window of output index o along an axis: [floor(o*in/out), ceil((o+1)*in/out)).
        auto window = [](int64_t o, int64_t in_size, int64_t out_size, int64_t& begin, int64_t& end) {
          // o * in first, so a window edge that is an integer is computed exactly.
          const auto size = static_cast<double>(out_size);
          begin = static_cast<int64_t>(std::floor(static_cast<double>(o * in_size) / size));
          end = static_cast<int64_t>(std::ceil(static_cast<double>((o + 1) * in_size) / size));
        };
        std::vector<double> expected;
        for (int64_t plane = 0; plane < out_shape[0] * out_shape[1]; ++plane)
          for (int64_t y = 0; y < out_h; ++y)
            for (int64_t xo = 0; xo < out_w; ++xo) {
              int64_t y0, y1, x0, x1;
              window(y, in_h, out_h, y0, y1);
              window(xo, in_w, out_w, x0, x1);
              double sum = 0;
              for (int64_t r = y0; r < y1; ++r)
                for (int64_t q = x0; q < x1; ++q) sum += element(x, (plane * in_h + r) * in_w + q);
              expected.push_back(sum / static_cast<double>((y1 - y0) * (x1 - x0)));
            }
        return expected;
      };
      cases.push_back(c);
    }
  return cases;
}

std::vector<OpCase> make_cases() {
  uint32_t seed = 2600;
  std::vector<OpCase> cases = group_norm_cases(seed);
  for (auto& c : upsample_cases(seed)) cases.push_back(std::move(c));
  for (auto& c : resize_area_cases(seed)) cases.push_back(std::move(c));
  return cases;
}

const Register registration(make_cases);

}  // namespace
}  // namespace inf::ops_test
