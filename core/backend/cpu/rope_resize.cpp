// Position-dependent resampling ops: rotary embedding of attention heads and bilinear resize of
// [B, C, H, W] images. Both read strided inputs through their 4-D strides and compute in fp32.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/cpu_ops.h"
#include "common/error.h"
#include "common/thread_pool.h"

namespace inf::cpu {
namespace {

// Element offset of index (i0, i1, i2, i3) in a 4-D view.
int64_t offset_4d(const Tensor& t, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
  const auto& s = t.strides();
  return i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3];
}

// One axis of a bilinear resize: for output index o, the two source indices and their weights.
struct ResizeTaps {
  std::vector<int64_t> low, high;
  std::vector<float> low_weight, high_weight;
};

// PyTorch's align_corners=False mapping, in float as PyTorch computes it: the source coordinate
// is clamped at 0 (the left/top edge repeats), and the right neighbour stops at the last pixel.
ResizeTaps resize_taps(int64_t in_size, int64_t out_size) {
  ResizeTaps taps;
  const auto count = static_cast<size_t>(out_size);
  taps.low.resize(count);
  taps.high.resize(count);
  taps.low_weight.resize(count);
  taps.high_weight.resize(count);
  const float ratio = static_cast<float>(in_size) / static_cast<float>(out_size);
  for (int64_t o = 0; o < out_size; ++o) {
    const float source = std::max((static_cast<float>(o) + 0.5f) * ratio - 0.5f, 0.0f);
    const auto low = std::min(static_cast<int64_t>(source), in_size - 1);
    const float fraction = source - static_cast<float>(low);
    const auto i = static_cast<size_t>(o);
    taps.low[i] = low;
    taps.high[i] = std::min(low + 1, in_size - 1);
    taps.high_weight[i] = fraction;
    taps.low_weight[i] = 1.0f - fraction;
  }
  return taps;
}

}  // namespace

void rope(const Tensor& dst, const Tensor& src, const Tensor& cos, const Tensor& sin) {
  require_contiguous_output("rope", dst);
  require_float("rope", dst);
  require_float("rope", src);
  require_float("rope", cos);
  require_float("rope", sin);
  require_same_shape("rope", dst, src);
  INF_CHECK(src.ndim() == 4, ErrorKind::invalid_argument, "rope: src ", src.describe(), " should be [B, L, H, hd]");
  const int64_t batch = src.dim(0), length = src.dim(1), heads = src.dim(2), head_dim = src.dim(3);
  INF_CHECK(head_dim % 2 == 0, ErrorKind::invalid_argument, "rope: head dim of ", src.describe(),
            " is odd; rotary pairs need an even head dim");
  const Shape table_shape{length, head_dim / 2};
  INF_CHECK(cos.shape() == table_shape && sin.shape() == table_shape, ErrorKind::invalid_argument, "rope: cos ",
            cos.describe(), " and sin ", sin.describe(), " should be ", shape_string(table_shape), " for src ",
            src.describe());
  const int64_t pairs = head_dim / 2;
  const int64_t positions = batch * length;
  parallel_for(positions, 4, [&](int64_t begin, int64_t end) {
    std::vector<float> cos_row(static_cast<size_t>(pairs)), sin_row(static_cast<size_t>(pairs));
    for (int64_t position = begin; position < end; ++position) {
      const int64_t b = position / length, l = position % length;
      for (int64_t p = 0; p < pairs; ++p) {
        const auto i = static_cast<size_t>(p);
        cos_row[i] = load_float(cos.data(), cos.dtype(), l * cos.strides()[0] + p * cos.strides()[1]);
        sin_row[i] = load_float(sin.data(), sin.dtype(), l * sin.strides()[0] + p * sin.strides()[1]);
      }
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t out_row = (position * heads + h) * head_dim;
        for (int64_t p = 0; p < pairs; ++p) {
          const auto i = static_cast<size_t>(p);
          const float x0 = load_float(src.data(), src.dtype(), offset_4d(src, b, l, h, 2 * p));
          const float x1 = load_float(src.data(), src.dtype(), offset_4d(src, b, l, h, 2 * p + 1));
          store_float(dst.data(), dst.dtype(), out_row + 2 * p, cos_row[i] * x0 - sin_row[i] * x1);
          store_float(dst.data(), dst.dtype(), out_row + 2 * p + 1, sin_row[i] * x0 + cos_row[i] * x1);
        }
      }
    }
  });
}

void resize_bilinear(const Tensor& dst, const Tensor& src) {
  require_contiguous_output("resize_bilinear", dst);
  require_float("resize_bilinear", dst);
  require_float("resize_bilinear", src);
  INF_CHECK(src.ndim() == 4 && dst.ndim() == 4 && src.dim(0) == dst.dim(0) && src.dim(1) == dst.dim(1),
            ErrorKind::invalid_argument, "resize_bilinear: src ", src.describe(), " and dst ", dst.describe(),
            " should be [B, C, H, W] and [B, C, H', W'] with the same B and C");
  const int64_t planes = dst.dim(0) * dst.dim(1);
  const int64_t in_h = src.dim(2), in_w = src.dim(3), out_h = dst.dim(2), out_w = dst.dim(3);
  if (planes == 0 || out_h == 0 || out_w == 0) return;
  INF_CHECK(in_h > 0 && in_w > 0, ErrorKind::invalid_argument, "resize_bilinear: cannot resize the empty image ",
            src.describe(), " to ", dst.describe());
  const ResizeTaps rows = resize_taps(in_h, out_h);
  const ResizeTaps cols = resize_taps(in_w, out_w);
  const int64_t channels = dst.dim(1);
  // One task per output row of one plane: rows of large images split well across threads.
  parallel_for(planes * out_h, 8, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t plane = task / out_h, y = task % out_h;
      const int64_t b = plane / channels, c = plane % channels;
      const auto yi = static_cast<size_t>(y);
      auto pixel = [&](int64_t row, int64_t col) {
        return load_float(src.data(), src.dtype(), offset_4d(src, b, c, row, col));
      };
      for (int64_t x = 0; x < out_w; ++x) {
        const auto xi = static_cast<size_t>(x);
        const int64_t x0 = cols.low[xi], x1 = cols.high[xi];
        const float top = cols.low_weight[xi] * pixel(rows.low[yi], x0) + cols.high_weight[xi] * pixel(rows.low[yi], x1);
        const float bottom =
            cols.low_weight[xi] * pixel(rows.high[yi], x0) + cols.high_weight[xi] * pixel(rows.high[yi], x1);
        store_float(dst.data(), dst.dtype(), task * out_w + x, rows.low_weight[yi] * top + rows.high_weight[yi] * bottom);
      }
    }
  });
}

}  // namespace inf::cpu
