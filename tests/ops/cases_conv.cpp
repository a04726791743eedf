// conv2d cases: the BSQ-VAE's 3x3 pad-1 convs, 1x1 convs and its downsample (3x3, stride 2,
// zero padding only on the bottom and right), on odd sizes (7x5, 33x17, a 1x1 image), channel
// counts 3, 16, 33 and 64, batches 1 and 2, with and without bias, in f32, bf16 and f16, with
// bf16 weights under f32 activations, and strided inputs (a channels-last view, a channel
// slice, a width slice). One VAE-sized conv (128 -> 128 channels at 128x128) is there for perf.
#include <string>

#include "ops/op_case.h"

namespace inf::ops_test {
namespace {

enum class SrcView { contiguous, channels_last, channel_slice, width_slice };

struct ConvCase {
  Shape src;  // [B, Cin, H, W] as the op sees it
  int64_t out_channels, kernel;
  Conv2dParams params;
  bool bias;
  SrcView view = SrcView::contiguous;
};

struct ConvDtypes {
  DType src, weight, out;
};

std::string view_label(SrcView view) {
  switch (view) {
    case SrcView::contiguous: return "";
    case SrcView::channels_last: return " channels-last view";
    case SrcView::channel_slice: return " channel slice";
    case SrcView::width_slice: return " width slice";
  }
  return "";
}

// The host input for `view` and the function that views it as s.src.
CaseInput make_src(const ConvCase& s, DType dtype, uint32_t seed) {
  const int64_t b = s.src[0], c = s.src[1], h = s.src[2], w = s.src[3];
  switch (s.view) {
    case SrcView::channels_last:
      return {random_tensor(dtype, {b, h, w, c}, seed), [](const Tensor& t) { return t.permute({0, 3, 1, 2}); }};
    case SrcView::channel_slice:
      return {random_tensor(dtype, {b, c + 5, h, w}, seed), [c](const Tensor& t) { return t.narrow(1, 3, c); }};
    case SrcView::width_slice:
      return {random_tensor(dtype, {b, c, h, w + 4}, seed), [w](const Tensor& t) { return t.narrow(3, 1, w); }};
    case SrcView::contiguous: break;
  }
  return {random_tensor(dtype, s.src, seed), {}};
}

// Plain direct convolution in double: every output sums weight * input over the kernel window,
// skipping taps that fall into the zero padding.
std::vector<double> conv_oracle(const std::vector<Tensor>& in, const Shape& out_shape, const Conv2dParams& p,
                                bool has_bias) {
  const Tensor &x = in[0], &w = in[1];
  const int64_t batch = x.dim(0), cin = x.dim(1), h = x.dim(2), wd = x.dim(3);
  const int64_t cout = out_shape[1], ho = out_shape[2], wo = out_shape[3], kh = w.dim(2), kw = w.dim(3);
  std::vector<double> xs(static_cast<size_t>(x.numel())), ws(static_cast<size_t>(w.numel()));
  for (int64_t i = 0; i < x.numel(); ++i) xs[static_cast<size_t>(i)] = element(x, i);
  for (int64_t i = 0; i < w.numel(); ++i) ws[static_cast<size_t>(i)] = element(w, i);
  std::vector<double> out(static_cast<size_t>(batch * cout * ho * wo), 0.0);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t co = 0; co < cout; ++co) {
      double* plane = &out[static_cast<size_t>((b * cout + co) * ho * wo)];
      if (has_bias)
        for (int64_t i = 0; i < ho * wo; ++i) plane[i] = element(in[2], co);
      for (int64_t ci = 0; ci < cin; ++ci)
        for (int64_t ky = 0; ky < kh; ++ky)
          for (int64_t kx = 0; kx < kw; ++kx) {
            const double weight = ws[static_cast<size_t>(((co * cin + ci) * kh + ky) * kw + kx)];
            const double* image = &xs[static_cast<size_t>((b * cin + ci) * h * wd)];
            for (int64_t oy = 0; oy < ho; ++oy) {
              const int64_t iy = oy * p.stride + ky - p.pad_top;
              if (iy < 0 || iy >= h) continue;
              for (int64_t ox = 0; ox < wo; ++ox) {
                const int64_t ix = ox * p.stride + kx - p.pad_left;
                if (ix >= 0 && ix < wd) plane[oy * wo + ox] += weight * image[iy * wd + ix];
              }
            }
          }
    }
  return out;
}

OpCase make_case(const ConvCase& s, const ConvDtypes& dtypes, uint32_t& seed) {
  const Conv2dParams p = s.params;
  const Shape weight_shape{s.out_channels, s.src[1], s.kernel, s.kernel};
  const Shape out_shape{s.src[0], s.out_channels, (s.src[2] + p.pad_top + p.pad_bottom - s.kernel) / p.stride + 1,
                        (s.src[3] + p.pad_left + p.pad_right - s.kernel) / p.stride + 1};
  OpCase c;
  c.op = "conv2d";
  c.label = std::string(dtype_name(dtypes.src)) + shape_string(s.src) + " * " + std::string(dtype_name(dtypes.weight)) +
            shape_string(weight_shape) + " -> " + std::string(dtype_name(dtypes.out)) + " s" + std::to_string(p.stride) + " pad(" +
            std::to_string(p.pad_top) + "," + std::to_string(p.pad_bottom) + "," + std::to_string(p.pad_left) + "," +
            std::to_string(p.pad_right) + ")" + (s.bias ? " +bias" : "") + view_label(s.view);
  c.inputs.push_back(make_src(s, dtypes.src, seed++));
  c.inputs.push_back({random_tensor(dtypes.weight, weight_shape, seed++, -0.5f, 0.5f), {}});
  if (s.bias) c.inputs.push_back({random_tensor(dtypes.weight, {s.out_channels}, seed++), {}});
  c.out_dtype = dtypes.out;
  c.out_shape = out_shape;
  c.flops = 2.0 * static_cast<double>(shape_numel(out_shape) * s.src[1] * s.kernel * s.kernel);
  const bool has_bias = s.bias;
  c.run = [p, has_bias](Backend& backend, const Tensor& out, const std::vector<Tensor>& in) {
    backend.conv2d(out, in[0], in[1], has_bias ? &in[2] : nullptr, p);
  };
  c.oracle = [out_shape, p, has_bias](const std::vector<Tensor>& in) { return conv_oracle(in, out_shape, p, has_bias); };
  return c;
}

std::vector<OpCase> make_cases() {
  const Conv2dParams same = Conv2dParams::same(1), pointwise = Conv2dParams::same(0);
  const Conv2dParams downsample{2, 0, 1, 0, 1};  // the VAE's (left 0, right 1, top 0, bottom 1) padding
  const ConvCase shapes[] = {
      {{1, 3, 16, 16}, 16, 3, same, true},
      {{2, 16, 7, 5}, 33, 3, same, false},
      {{1, 33, 33, 17}, 3, 3, same, true},
      {{2, 64, 1, 1}, 64, 3, same, true},
      {{1, 64, 32, 32}, 64, 3, same, true},
      {{2, 64, 9, 7}, 16, 1, pointwise, true},
      {{1, 3, 1, 1}, 33, 1, pointwise, false},
      {{1, 16, 16, 16}, 16, 3, downsample, true},
      {{2, 33, 7, 5}, 64, 3, downsample, true},
      {{1, 16, 33, 17}, 16, 3, downsample, false},
  };
  const ConvDtypes dtype_sets[] = {
      {DType::f32, DType::f32, DType::f32},
      {DType::f32, DType::bf16, DType::f32},  // bf16 weights under fp32 activations
      {DType::bf16, DType::bf16, DType::bf16},
  };
  uint32_t seed = 2100;
  std::vector<OpCase> cases;
  for (const ConvDtypes& dtypes : dtype_sets)
    for (const ConvCase& s : shapes) cases.push_back(make_case(s, dtypes, seed));
  const ConvCase more[] = {
      {{2, 16, 7, 5}, 16, 3, same, true, SrcView::channels_last},
      {{2, 16, 9, 7}, 33, 1, pointwise, true, SrcView::channel_slice},  // BLAS reads the slice in place
      {{1, 16, 9, 7}, 16, 1, pointwise, false, SrcView::width_slice},
      {{2, 16, 16, 16}, 33, 3, downsample, true, SrcView::channels_last},
  };
  for (const ConvCase& s : more) {
    cases.push_back(make_case(s, {DType::f32, DType::f32, DType::f32}, seed));
    cases.push_back(make_case(s, {DType::bf16, DType::bf16, DType::bf16}, seed));
  }
  cases.push_back(make_case({{2, 16, 7, 5}, 16, 3, same, true}, {DType::f16, DType::f16, DType::f16}, seed));
  cases.push_back(make_case({{2, 16, 7, 5}, 16, 3, same, true}, {DType::bf16, DType::bf16, DType::f32}, seed));
  // VAE scale: a decoder ResNet conv at a reduced image size (the double oracle stays under 2 s).
  cases.push_back(make_case({{1, 128, 128, 128}, 128, 3, same, true}, {DType::f32, DType::f32, DType::f32}, seed));
  return cases;
}

const Register registration(make_cases);

}  // namespace
}  // namespace inf::ops_test
