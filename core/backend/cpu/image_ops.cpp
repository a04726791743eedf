// Image ops of the BSQ-VAE on [B, C, H, W] tensors: GroupNorm (+ swish), nearest upsampling and
// area resize (adaptive average pooling). Inputs are read a row of W pixels at a time through
// RowReader (any strides, any float dtype); every reduction is accumulated in double, since a
// GroupNorm group of the 1024x1024 decoder holds 4 Mi values.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/cpu_ops.h"
#include "common/error.h"
#include "common/thread_pool.h"

namespace inf::cpu {
namespace {

constexpr int64_t kPixelGrain = 1 << 14;  // pixels per task below which threads are not worth waking

// Rows of W pixels per task, so a task covers about kPixelGrain pixels.
int64_t row_grain(int64_t width) { return std::max<int64_t>(1, kPixelGrain / std::max<int64_t>(width, 1)); }

void require_image(const char* op, const char* role, const Tensor& t) {
  INF_CHECK(t.ndim() == 4, ErrorKind::invalid_argument, op, ": ", role, " ", t.describe(), " should be [B, C, H, W]");
}

// dst and src are float [B, C, *, *] images with the same B and C; dst is a contiguous output.
void check_resample_arguments(const char* op, const Tensor& dst, const Tensor& src) {
  require_contiguous_output(op, dst);
  require_float(op, dst);
  require_float(op, src);
  require_image(op, "src", src);
  require_image(op, "dst", dst);
  INF_CHECK(src.dim(0) == dst.dim(0) && src.dim(1) == dst.dim(1), ErrorKind::invalid_argument, op, ": src ",
            src.describe(), " and dst ", dst.describe(), " differ in batch or channels");
  INF_CHECK(dst.numel() == 0 || (src.dim(2) > 0 && src.dim(3) > 0), ErrorKind::invalid_argument, op,
            ": cannot resample the empty image ", src.describe(), " to ", dst.describe());
}

std::vector<float> load_channel_vector(const char* role, const Tensor* tensor, int64_t channels) {
  if (tensor == nullptr) return {};
  require_float("group_norm", *tensor);
  INF_CHECK(tensor->shape() == Shape{channels}, ErrorKind::invalid_argument, "group_norm: ", role, " ",
            tensor->describe(), " should be [", channels, "]");
  std::vector<float> values(static_cast<size_t>(channels));
  const ElementOffsets offsets(*tensor);
  for (int64_t c = 0; c < channels; ++c)
    values[static_cast<size_t>(c)] = load_float(tensor->data(), tensor->dtype(), offsets(c));
  return values;
}

// Mean and sum of squared deviations of one plane, from sums of values shifted by the plane's
// first value (a plane far from zero would otherwise lose its variance to cancellation).
struct Moments {
  double mean = 0, squared_deviations = 0;
};

// One input window per output index along an axis: [begin, end) with begin = floor(o*in/out)
// and end = ceil((o+1)*in/out), PyTorch's adaptive pooling (windows overlap when out does not
// divide in).
struct Window {
  int64_t begin, end;
};

std::vector<Window> area_windows(int64_t in_size, int64_t out_size) {
  std::vector<Window> windows(static_cast<size_t>(out_size));
  for (int64_t o = 0; o < out_size; ++o)
    windows[static_cast<size_t>(o)] = {o * in_size / out_size, ((o + 1) * in_size + out_size - 1) / out_size};
  return windows;
}

}  // namespace

void group_norm(const Tensor& dst, const Tensor& src, int groups, const Tensor* weight, const Tensor* bias,
                float eps, bool swish) {
  require_contiguous_output("group_norm", dst);
  require_float("group_norm", dst);
  require_float("group_norm", src);
  require_image("group_norm", "src", src);
  require_same_shape("group_norm", dst, src);
  const int64_t batch = src.dim(0), channels = src.dim(1), height = src.dim(2), width = src.dim(3);
  INF_CHECK(groups >= 1 && channels % groups == 0, ErrorKind::invalid_argument, "group_norm: ", channels,
            " channels of src ", src.describe(), " do not split into ", groups, " groups");
  const std::vector<float> gamma = load_channel_vector("weight", weight, channels);
  const std::vector<float> beta = load_channel_vector("bias", bias, channels);
  if (src.numel() == 0) return;

  const int64_t planes = batch * channels, plane_pixels = height * width;
  const RowReader rows(src);  // row (plane * H + y) of W pixels

  // Pass 1: moments of every (batch, channel) plane; planes outnumber groups, so this spreads
  // over the pool even for batch 1.
  std::vector<Moments> plane_moments(static_cast<size_t>(planes));
  parallel_for(planes, std::max<int64_t>(1, kPixelGrain / plane_pixels), [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(static_cast<size_t>(width));
    for (int64_t plane = begin; plane < end; ++plane) {
      const double shift = rows.row(plane * height, scratch.data())[0];
      // kLanes independent accumulators: the compiler may vectorise them (it may not reorder one).
      constexpr int64_t kLanes = 4;
      double sums[kLanes] = {}, square_sums[kLanes] = {};
      for (int64_t y = 0; y < height; ++y) {
        const float* x = rows.row(plane * height + y, scratch.data());
        int64_t i = 0;
        for (; i + kLanes <= width; i += kLanes)
          for (int64_t lane = 0; lane < kLanes; ++lane) {
            const double d = x[i + lane] - shift;
            sums[lane] += d;
            square_sums[lane] += d * d;
          }
        for (; i < width; ++i) {
          const double d = x[i] - shift;
          sums[0] += d;
          square_sums[0] += d * d;
        }
      }
      double sum = 0, squares = 0;
      for (int64_t lane = 0; lane < kLanes; ++lane) {
        sum += sums[lane];
        squares += square_sums[lane];
      }
      const auto n = static_cast<double>(plane_pixels);
      plane_moments[static_cast<size_t>(plane)] = {shift + sum / n, squares - sum * sum / n};
    }
  });

  // Combine the planes of each group (Chan et al.'s pairwise formula), then fold the group's
  // statistics and the affine parameters into one (mean, scale, offset) per plane.
  const int64_t per_group = channels / groups;
  std::vector<double> plane_mean(static_cast<size_t>(planes)), plane_scale(static_cast<size_t>(planes)),
      plane_offset(static_cast<size_t>(planes));
  for (int64_t first = 0; first < planes; first += per_group) {
    double mean = 0;
    for (int64_t p = first; p < first + per_group; ++p) mean += plane_moments[static_cast<size_t>(p)].mean;
    mean /= static_cast<double>(per_group);
    double squared_deviations = 0;
    for (int64_t p = first; p < first + per_group; ++p) {
      const Moments& m = plane_moments[static_cast<size_t>(p)];
      squared_deviations += m.squared_deviations + static_cast<double>(plane_pixels) * (m.mean - mean) * (m.mean - mean);
    }
    const double variance = squared_deviations / static_cast<double>(per_group * plane_pixels);  // biased, like PyTorch
    const double inv_std = 1.0 / std::sqrt(variance + static_cast<double>(eps));
    for (int64_t p = first; p < first + per_group; ++p) {
      const auto c = static_cast<size_t>(p % channels);
      plane_mean[static_cast<size_t>(p)] = mean;
      plane_scale[static_cast<size_t>(p)] = inv_std * (gamma.empty() ? 1.0 : gamma[c]);
      plane_offset[static_cast<size_t>(p)] = beta.empty() ? 0.0 : beta[c];
    }
  }

  // Pass 2: normalise row by row, subtracting the mean in double: in float, a mean of 100
  // carries an error of ~4e-6, which a std of 0.1 would magnify to 4e-5 in every output.
  parallel_for(planes * height, row_grain(width), [&](int64_t begin, int64_t end) {
    std::vector<float> in_scratch(static_cast<size_t>(width)), out_scratch(static_cast<size_t>(width));
    for (int64_t r = begin; r < end; ++r) {
      const auto plane = static_cast<size_t>(r / height);
      const double mean = plane_mean[plane], scale = plane_scale[plane], offset = plane_offset[plane];
      const float* x = rows.row(r, in_scratch.data());
      float* out = output_row(dst, r, out_scratch.data());
      for (int64_t i = 0; i < width; ++i) out[i] = static_cast<float>((x[i] - mean) * scale + offset);
      if (swish)
        for (int64_t i = 0; i < width; ++i) out[i] = out[i] / (1.0f + std::exp(-out[i]));
      finish_output_row(dst, r, out);
    }
  });
}

void upsample_nearest(const Tensor& dst, const Tensor& src) {
  check_resample_arguments("upsample_nearest", dst, src);
  const int64_t in_h = src.dim(2), in_w = src.dim(3), out_h = dst.dim(2), out_w = dst.dim(3);
  if (dst.numel() == 0) return;
  INF_CHECK(out_h % in_h == 0 && out_w % in_w == 0, ErrorKind::invalid_argument, "upsample_nearest: dst ",
            dst.describe(), " is not an integer multiple of src ", src.describe(), " in height and width");
  const int64_t factor_h = out_h / in_h, factor_w = out_w / in_w;
  const RowReader rows(src);
  parallel_for(dst.dim(0) * dst.dim(1) * out_h, row_grain(out_w), [&](int64_t begin, int64_t end) {
    std::vector<float> in_scratch(static_cast<size_t>(in_w)), out_scratch(static_cast<size_t>(out_w));
    for (int64_t r = begin; r < end; ++r) {
      const int64_t plane = r / out_h, y = r % out_h;
      const float* x = rows.row(plane * in_h + y / factor_h, in_scratch.data());
      float* out = output_row(dst, r, out_scratch.data());
      for (int64_t i = 0; i < in_w; ++i) std::fill(out + i * factor_w, out + (i + 1) * factor_w, x[i]);
      finish_output_row(dst, r, out);
    }
  });
}

void resize_area(const Tensor& dst, const Tensor& src) {
  check_resample_arguments("resize_area", dst, src);
  const int64_t in_h = src.dim(2), in_w = src.dim(3), out_h = dst.dim(2), out_w = dst.dim(3);
  if (dst.numel() == 0) return;
  const std::vector<Window> row_windows = area_windows(in_h, out_h), column_windows = area_windows(in_w, out_w);
  const RowReader rows(src);
  parallel_for(dst.dim(0) * dst.dim(1) * out_h, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> in_scratch(static_cast<size_t>(in_w)), out_scratch(static_cast<size_t>(out_w));
    std::vector<double> column_sums(static_cast<size_t>(in_w));
    for (int64_t r = begin; r < end; ++r) {
      const int64_t plane = r / out_h;
      const Window rows_in = row_windows[static_cast<size_t>(r % out_h)];
      // Sum the window's input rows, then each output cell's columns of that sum.
      std::fill(column_sums.begin(), column_sums.end(), 0.0);
      for (int64_t y = rows_in.begin; y < rows_in.end; ++y) {
        const float* x = rows.row(plane * in_h + y, in_scratch.data());
        for (int64_t i = 0; i < in_w; ++i) column_sums[static_cast<size_t>(i)] += x[i];
      }
      float* out = output_row(dst, r, out_scratch.data());
      for (int64_t j = 0; j < out_w; ++j) {
        const Window cols_in = column_windows[static_cast<size_t>(j)];
        double sum = 0;
        for (int64_t i = cols_in.begin; i < cols_in.end; ++i) sum += column_sums[static_cast<size_t>(i)];
        out[j] = static_cast<float>(sum / static_cast<double>((rows_in.end - rows_in.begin) * (cols_in.end - cols_in.begin)));
      }
      finish_output_row(dst, r, out);
    }
  });
}

}  // namespace inf::cpu
