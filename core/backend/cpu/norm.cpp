// Row-wise ops over the last dim: layer norm, RMS norm, L2 normalisation, softmax. Each row is read into an
// fp32 scratch row, reduced in double where precision matters (means and sums of squares of
// long rows), and written back in the output dtype.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/cpu_ops.h"
#include "common/error.h"
#include "common/thread_pool.h"

namespace inf::cpu {
namespace {

// Calls row_fn(row_index, values) for each row of `src` (values is a scratch row of length N),
// then writes `values` to the same row of `dst`.
template <typename RowFn>
void for_each_row(const char* op, const Tensor& dst, const Tensor& src, RowFn row_fn) {
  require_contiguous_output(op, dst);
  require_float(op, dst);
  require_float(op, src);
  require_same_shape(op, dst, src);
  INF_CHECK(src.ndim() >= 1, ErrorKind::invalid_argument, op, ": needs at least 1 dim, got ", src.describe());
  const int64_t width = src.dim(-1);
  if (width == 0) return;
  const int64_t rows = src.numel() / width;
  const RowReader source(src);
  parallel_for(rows, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> values(static_cast<size_t>(width)), scratch(static_cast<size_t>(width));
    for (int64_t r = begin; r < end; ++r) {
      const float* row = source.row(r, scratch.data());
      std::copy(row, row + width, values.begin());
      row_fn(values);
      float* out = output_row(dst, r, scratch.data());
      std::copy(values.begin(), values.end(), out);
      finish_output_row(dst, r, out);
    }
  });
}

std::vector<float> load_vector(const char* op, const char* role, const Tensor* tensor, int64_t width) {
  if (tensor == nullptr) return {};
  require_float(op, *tensor);
  INF_CHECK(tensor->shape() == Shape{width}, ErrorKind::invalid_argument, op, ": ", role, " ", tensor->describe(),
            " should be [", width, "]");
  std::vector<float> values(static_cast<size_t>(width));
  const ElementOffsets offsets(*tensor);
  for (int64_t j = 0; j < width; ++j) values[static_cast<size_t>(j)] = load_float(tensor->data(), tensor->dtype(), offsets(j));
  return values;
}

}  // namespace

void layer_norm(const Tensor& dst, const Tensor& src, const Tensor* weight, const Tensor* bias, float eps) {
  const int64_t width = src.ndim() >= 1 ? src.dim(-1) : 0;
  const auto gamma = load_vector("layer_norm", "weight", weight, width);
  const auto beta = load_vector("layer_norm", "bias", bias, width);
  for_each_row("layer_norm", dst, src, [&](std::vector<float>& row) {
    double sum = 0.0;
    for (float v : row) sum += v;
    const double mean = sum / static_cast<double>(row.size());
    double squares = 0.0;
    for (float v : row) squares += (v - mean) * (v - mean);
    const double inv_std = 1.0 / std::sqrt(squares / static_cast<double>(row.size()) + eps);
    for (size_t j = 0; j < row.size(); ++j) {
      float y = static_cast<float>((row[j] - mean) * inv_std);
      if (!gamma.empty()) y *= gamma[j];
      if (!beta.empty()) y += beta[j];
      row[j] = y;
    }
  });
}

void rms_norm(const Tensor& dst, const Tensor& src, const Tensor* weight, float eps) {
  const int64_t width = src.ndim() >= 1 ? src.dim(-1) : 0;
  const auto gamma = load_vector("rms_norm", "weight", weight, width);
  for_each_row("rms_norm", dst, src, [&](std::vector<float>& row) {
    double squares = 0.0;
    for (float v : row) squares += static_cast<double>(v) * v;
    const double inv_rms = 1.0 / std::sqrt(squares / static_cast<double>(row.size()) + eps);
    for (size_t j = 0; j < row.size(); ++j) {
      float y = static_cast<float>(row[j] * inv_rms);
      if (!gamma.empty()) y *= gamma[j];
      row[j] = y;
    }
  });
}

void l2_normalize(const Tensor& dst, const Tensor& src, float eps) {
  for_each_row("l2_normalize", dst, src, [&](std::vector<float>& row) {
    double squares = 0.0;
    for (float v : row) squares += static_cast<double>(v) * v;
    // PyTorch's F.normalize: x / max(||x||, eps), so an all-zero row stays zero instead of NaN.
    const auto norm = static_cast<float>(std::max(std::sqrt(squares), static_cast<double>(eps)));
    for (float& v : row) v /= norm;
  });
}

void softmax(const Tensor& dst, const Tensor& src, float scale) {
  for_each_row("softmax", dst, src, [&](std::vector<float>& row) {
    float peak = -INFINITY;
    for (float& v : row) {
      v *= scale;
      peak = std::max(peak, v);
    }
    // A row of -inf (fully masked) gives zeros rather than NaN.
    if (std::isinf(peak) && peak < 0) {
      std::fill(row.begin(), row.end(), 0.0f);
      return;
    }
    double total = 0.0;
    for (float& v : row) {
      v = std::exp(v - peak);
      total += v;
    }
    const auto inv_total = static_cast<float>(1.0 / total);
    for (float& v : row) v *= inv_total;
  });
}

}  // namespace inf::cpu
