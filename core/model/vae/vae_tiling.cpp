#include "model/vae/vae_tiling.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "model/vae/bsq_vae.h"

namespace inf {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// `view` as a contiguous tensor on the backend (not every backend's conv takes strided
// inputs). Views of host inputs are packed on the host first, so only the viewed elements
// travel to a device.
Tensor to_backend(const Compute& compute, const Tensor& view) {
  if (view.device() == compute.backend().device()) return compute.contiguous(view);
  Tensor host = Tensor::host(view.dtype(), view.shape());
  create_backend("cpu")->convert(host, view);
  return compute.upload(host);
}

// Every `step`-th row and column of x [B, C, H, W], centred: rows * step <= H (a view).
Tensor subsample(const Tensor& x, int64_t step, int64_t rows, int64_t columns) {
  const auto& strides = x.strides();
  const int64_t top = (x.dim(2) - (rows - 1) * step - 1) / 2, left = (x.dim(3) - (columns - 1) * step - 1) / 2;
  const size_t offset = x.byte_offset() + static_cast<size_t>(top * strides[2] + left * strides[3]) * dtype_size(x.dtype());
  return Tensor(x.buffer(), x.dtype(), {x.dim(0), x.dim(1), rows, columns},
                {strides[0], strides[1], strides[2] * step, strides[3] * step}, offset);
}

Tensor crop(const Tensor& input, const VaeTileSpan& row, const VaeTileSpan& column, int scale) {
  return input.narrow(2, row.context_start * scale, (row.context_end - row.context_start) * scale)
      .narrow(3, column.context_start * scale, (column.context_end - column.context_start) * scale);
}

// out[:, :, rows, columns of the tile] += tile output * row weight * column weight.
void blend(const Tensor& out, const Tensor& result, const VaeTileSpan& row, const VaeTileSpan& column,
           const std::vector<float>& row_weights, const std::vector<float>& column_weights, int64_t scale) {
  const int64_t planes = out.dim(0) * out.dim(1), out_h = out.dim(2), out_w = out.dim(3);
  const int64_t result_h = result.dim(2), result_w = result.dim(3);
  const int64_t top = (row.start - row.context_start) * scale, left = (column.start - column.context_start) * scale;
  const auto rows = static_cast<int64_t>(row_weights.size()), columns = static_cast<int64_t>(column_weights.size());
  float* target = out.data_as<float>();
  const float* source = result.data_as<float>();
  for (int64_t plane = 0; plane < planes; ++plane)
    for (int64_t y = 0; y < rows; ++y) {
      float* out_row = target + (plane * out_h + row.start * scale + y) * out_w + column.start * scale;
      const float* in_row = source + (plane * result_h + top + y) * result_w + left;
      const float wy = row_weights[static_cast<size_t>(y)];
      for (int64_t x = 0; x < columns; ++x) out_row[x] += in_row[x] * wy * column_weights[static_cast<size_t>(x)];
    }
}

}  // namespace

std::vector<VaeTileSpan> plan_vae_tiles(int64_t size, int tile, int overlap, int margin) {
  INF_CHECK(size > 0 && tile > 0 && overlap >= 0 && overlap < tile && margin >= 0, ErrorKind::invalid_argument,
            "VAE tiling: tile ", tile, ", overlap ", overlap, ", margin ", margin, " for ", size,
            " positions (need tile > 0, 0 <= overlap < tile, margin >= 0)");
  if (size <= tile) return {VaeTileSpan{0, size, 0, size}};
  // Enough tiles that steps of at most tile - overlap reach the end, then as small as that
  // count allows (each still sharing at least `overlap`), evenly spread: less recomputed work
  // than full-size tiles crowded together at the end.
  const int64_t count = ceil_div(size - overlap, tile - overlap);
  const int64_t length = ceil_div(size + (count - 1) * overlap, count), travel = size - length;
  std::vector<VaeTileSpan> spans(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    VaeTileSpan& span = spans[static_cast<size_t>(i)];
    span.start = (2 * i * travel + count - 1) / (2 * (count - 1));  // round(i * travel / (count - 1))
    span.end = span.start + length;
    span.context_start = std::max<int64_t>(0, span.start - margin);
    span.context_end = std::min<int64_t>(size, span.end + margin);
  }
  return spans;
}

int vae_tile_margin(const VaeTiling& tiling) { return tiling.margin < 0 ? VaeTiling::kDefaultMargin : tiling.margin; }

std::vector<float> vae_tile_weights(const std::vector<VaeTileSpan>& spans, size_t index, int64_t scale) {
  // Unnormalised ramp of tile i at output position p: rising across the overlap with the tile
  // before, falling across the one with the tile after, 1 elsewhere; never 0, so the sum is
  // positive everywhere.
  auto ramp = [&spans, scale](size_t i, int64_t p) {
    const VaeTileSpan& span = spans[i];
    double weight = 1.0;
    if (i > 0 && p < spans[i - 1].end * scale) {
      const auto length = static_cast<double>((spans[i - 1].end - span.start) * scale);
      weight = std::min(weight, (static_cast<double>(p - span.start * scale) + 0.5) / length);
    }
    if (i + 1 < spans.size() && p >= spans[i + 1].start * scale) {
      const auto length = static_cast<double>((span.end - spans[i + 1].start) * scale);
      weight = std::min(weight, (static_cast<double>(span.end * scale - p) - 0.5) / length);
    }
    return weight;
  };
  const VaeTileSpan& span = spans[index];
  std::vector<float> weights;
  for (int64_t p = span.start * scale; p < span.end * scale; ++p) {
    double total = 0.0;
    for (size_t i = 0; i < spans.size(); ++i)
      if (p >= spans[i].start * scale && p < spans[i].end * scale) total += ramp(i, p);
    weights.push_back(static_cast<float>(ramp(index, p) / total));
  }
  return weights;
}

void VaeNormStats::begin_pass(bool use_stored, const Region* record) {
  use_stored_ = use_stored;
  recording_ = record != nullptr;
  if (record) region_ = *record;
  next_ = 0;
}

void VaeNormStats::commit() {
  for (Layer& layer : layers_) {
    INF_CHECK(layer.count > 0, ErrorKind::internal, "VaeNormStats: a GroupNorm saw no positions");
    layer.mean.resize(layer.sum.size());
    layer.variance.resize(layer.sum.size());
    for (size_t i = 0; i < layer.sum.size(); ++i) {
      layer.mean[i] = layer.sum[i] / layer.count;
      layer.variance[i] = std::max(0.0, layer.sum_sq[i] / layer.count - layer.mean[i] * layer.mean[i]);
    }
    std::fill(layer.sum.begin(), layer.sum.end(), 0.0);
    std::fill(layer.sum_sq.begin(), layer.sum_sq.end(), 0.0);
    layer.count = 0;
    layer.scale = layer.shift = Tensor();
  }
}

void VaeNormStats::add_region(const Compute& compute, Layer& layer, const Tensor& x) const {
  // The region at this GroupNorm's resolution; the decoder's are multiples of the latent's.
  const Region& r = region_;
  const int64_t scale = x.dim(2) / r.crop_h;
  INF_CHECK(scale >= 1 && x.dim(2) == r.crop_h * scale && x.dim(3) == r.crop_w * scale, ErrorKind::internal,
            "VaeNormStats: GroupNorm input ", x.describe(), " is not a multiple of the ", r.crop_h, "x", r.crop_w,
            " crop");
  Tensor region = x.narrow(2, r.top * scale, r.height * scale).narrow(3, r.left * scale, r.width * scale);
  // Host tensors are read in place, strides and all; a device's region is copied down.
  if (!region.device().is_cpu() || region.dtype() != DType::f32) region = compute.download(region);
  if (region.dtype() != DType::f32) {
    Tensor widened = Tensor::host(DType::f32, region.shape());
    create_backend("cpu")->convert(widened, region);
    region = widened;
  }
  const int64_t per_group = layer.channels / layer.groups, rows = region.dim(2), columns = region.dim(3);
  const auto& strides = region.strides();
  const float* data = region.data_as<float>();
  for (int64_t b = 0; b < layer.batch; ++b)
    for (int64_t c = 0; c < layer.channels; ++c) {
      double sum = 0.0, sum_sq = 0.0;
      for (int64_t y = 0; y < rows; ++y) {
        const float* row = data + b * strides[0] + c * strides[1] + y * strides[2];
        for (int64_t xx = 0; xx < columns; ++xx) {
          const double value = row[xx * strides[3]];
          sum += value;
          sum_sq += value * value;
        }
      }
      const auto slot = static_cast<size_t>(b * layer.groups + c / per_group);
      layer.sum[slot] += sum;
      layer.sum_sq[slot] += sum_sq;
    }
  layer.count += static_cast<double>(per_group * rows * columns);
}

// GroupNorm with fixed statistics is an affine map per (image, channel):
// y = x * scale + shift with scale = weight * rstd, shift = bias - mean * scale.
void VaeNormStats::make_affine(const Compute& compute, Layer& layer, const VaeNorm& norm, float eps) const {
  const Tensor weight = compute.download(norm.weight), bias = compute.download(norm.bias);  // [C]
  Tensor scale = Tensor::host(DType::f32, {layer.batch, layer.channels, 1, 1});
  Tensor shift = Tensor::host(DType::f32, {layer.batch, layer.channels, 1, 1});
  const int64_t per_group = layer.channels / layer.groups;
  for (int64_t b = 0; b < layer.batch; ++b)
    for (int64_t c = 0; c < layer.channels; ++c) {
      const auto slot = static_cast<size_t>(b * layer.groups + c / per_group);
      const double factor = weight.data_as<float>()[c] / std::sqrt(layer.variance[slot] + static_cast<double>(eps));
      scale.data_as<float>()[b * layer.channels + c] = static_cast<float>(factor);
      shift.data_as<float>()[b * layer.channels + c] =
          static_cast<float>(bias.data_as<float>()[c] - layer.mean[slot] * factor);
    }
  layer.scale = compute.upload(scale);
  layer.shift = compute.upload(shift);
}

Tensor VaeNormStats::norm_swish(const Compute& compute, const VaeNorm& norm, const Tensor& x, float eps) {
  const int64_t batch = x.dim(0), channels = x.dim(1);
  if (next_ == layers_.size()) {
    INF_CHECK(!use_stored_, ErrorKind::internal, "VaeNormStats: no statistics for GroupNorm ", next_, " of ",
              x.describe());
    Layer layer;
    layer.batch = batch, layer.channels = channels, layer.groups = norm.groups;
    layer.sum.assign(static_cast<size_t>(batch * norm.groups), 0.0);
    layer.sum_sq = layer.sum;
    layers_.push_back(std::move(layer));
  }
  Layer& layer = layers_[next_++];
  INF_CHECK(layer.batch == batch && layer.channels == channels && layer.groups == norm.groups, ErrorKind::internal,
            "VaeNormStats: passes differ at GroupNorm ", next_ - 1, " (", x.describe(), ")");
  if (recording_) add_region(compute, layer, x);
  if (!use_stored_) return compute.group_norm(x, norm.groups, &norm.weight, &norm.bias, eps, /*swish=*/true);
  INF_CHECK(!layer.mean.empty(), ErrorKind::internal, "VaeNormStats: GroupNorm ", next_ - 1, " has no statistics");
  if (!layer.scale.defined()) make_affine(compute, layer, norm, eps);
  Tensor y = compute.mul(x, layer.scale);  // [B, C, H, W]
  compute.add_into(y, layer.shift);
  compute.backend().unary(UnaryOp::silu, y, y);  // elementwise, so in place is safe
  return y;
}

Tensor run_vae_tiled(const Compute& compute, const Tensor& input, int in_scale, int out_scale,
                     const VaeTiling& tiling, const VaeTileNet& net) {
  INF_CHECK(input.ndim() == 4 && input.dim(2) % in_scale == 0 && input.dim(3) % in_scale == 0,
            ErrorKind::invalid_argument, "VAE tiling: input ", input.describe(), " is not a multiple of ", in_scale);
  const int64_t units_h = input.dim(2) / in_scale, units_w = input.dim(3) / in_scale;
  const int margin = vae_tile_margin(tiling);
  const std::vector<VaeTileSpan> rows = plan_vae_tiles(units_h, tiling.tile, tiling.overlap, margin);
  const std::vector<VaeTileSpan> columns = plan_vae_tiles(units_w, tiling.tile, tiling.overlap, margin);

  VaeNormStats stats;
  VaeNormStats* shared = nullptr;
  if (tiling.norm == VaeTileNorm::preview) {
    // Every factor-th input position, with the smallest factor that keeps the preview within
    // the area of the largest crop a tile computes (so within a tile's memory). Subsampling,
    // unlike area averaging, keeps each position's values, so the moments GroupNorm takes stay
    // unbiased (area averaging shrinks the variances).
    int64_t crop_h = 0, crop_w = 0;
    for (const auto& row : rows) crop_h = std::max(crop_h, row.context_end - row.context_start);
    for (const auto& column : columns) crop_w = std::max(crop_w, column.context_end - column.context_start);
    // Whole latent positions: the encoder's strides and the statistics' regions need them.
    int64_t factor = 1, preview_h = units_h, preview_w = units_w;
    while (preview_h * preview_w > crop_h * crop_w && (preview_h > 1 || preview_w > 1)) {
      ++factor;
      preview_h = std::max<int64_t>(1, units_h / factor), preview_w = std::max<int64_t>(1, units_w / factor);
    }
    const VaeNormStats::Region whole{preview_h, preview_w, 0, 0, preview_h, preview_w};
    stats.begin_pass(false, &whole);
    net(to_backend(compute, subsample(input, factor, preview_h * in_scale, preview_w * in_scale)), &stats);
    stats.commit();
    shared = &stats;
  }

  Tensor out;  // [B, C', units_h * out_scale, units_w * out_scale]
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::vector<float> row_weights = vae_tile_weights(rows, i, out_scale);
    for (size_t j = 0; j < columns.size(); ++j) {
      if (shared) shared->begin_pass(true, nullptr);
      Tensor result = compute.download(net(to_backend(compute, crop(input, rows[i], columns[j], in_scale)), shared));
      if (result.dtype() != DType::f32) {
        Tensor widened = Tensor::host(DType::f32, result.shape());
        create_backend("cpu")->convert(widened, result);
        result = widened;
      }
      if (!out.defined())
        out = Tensor::host(DType::f32, {result.dim(0), result.dim(1), units_h * out_scale, units_w * out_scale});
      blend(out, result, rows[i], columns[j], row_weights, vae_tile_weights(columns, j, out_scale), out_scale);
    }
  }
  return out;
}

}  // namespace inf
