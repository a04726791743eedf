// Multi-head attention on the CPU: for each (batch, head), chunks of query rows go through
// scores = scale * Q K^T (BLAS), a max-subtracted softmax per row, and out = P V (BLAS).
// Chunking bounds the score scratch (a [Lq, Lk] matrix per head would be 170 MB at the
// model's largest scale), and the softmax is exact, not online, because each chunk sees
// every key at once.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/cpu_ops.h"
#include "common/error.h"
#include "common/thread_pool.h"

namespace inf::cpu {
namespace {

// Scores kept per chunk of query rows: 4 Mi floats (16 MiB) whatever the key count.
constexpr int64_t kScoreBudget = int64_t{1} << 22;

// The rows of one head of a [B, L, H, hd] view as a row-major fp32 matrix for BLAS: a pointer
// into the tensor when it is f32 with unit dim stride, else a widened copy.
struct HeadRows {
  const float* data = nullptr;
  int64_t leading_dim = 0;
  std::vector<float> scratch;
};

// Widens `count` elements of `t`, `stride` apart from element `start`, into `out`. The dtype
// switch sits outside the loop: widening K and V is most of the cost for bf16/f16 inputs.
void widen(const Tensor& t, int64_t start, int64_t stride, int64_t count, float* out) {
  const auto* halves = static_cast<const uint16_t*>(t.data()) + start;
  switch (t.dtype()) {
    case DType::bf16:
      for (int64_t i = 0; i < count; ++i) out[i] = bf16_to_f32(halves[i * stride]);
      return;
    case DType::f16:
      for (int64_t i = 0; i < count; ++i) out[i] = f16_to_f32(halves[i * stride]);
      return;
    default:
      for (int64_t i = 0; i < count; ++i) out[i] = load_float(t.data(), t.dtype(), start + i * stride);
      return;
  }
}

// Rows [first, first + count) of head (b, h) of `t`.
HeadRows head_rows(const Tensor& t, int64_t b, int64_t h, int64_t first, int64_t count) {
  const auto& s = t.strides();
  const int64_t head_dim = t.dim(3);
  const int64_t start = b * s[0] + first * s[1] + h * s[2];
  HeadRows rows;
  if (t.dtype() == DType::f32 && (s[3] == 1 || head_dim == 1) && (s[1] >= head_dim || count <= 1)) {
    rows.data = static_cast<const float*>(t.data()) + start;
    rows.leading_dim = count <= 1 ? head_dim : s[1];
    return rows;
  }
  rows.scratch.resize(static_cast<size_t>(count * head_dim));
  parallel_for(count, 64, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) widen(t, start + r * s[1], s[3], head_dim, &rows.scratch[static_cast<size_t>(r * head_dim)]);
  });
  rows.data = rows.scratch.data();
  rows.leading_dim = head_dim;
  return rows;
}

// In-place softmax of each of `rows` score rows of length `width`, max-subtracted so that
// logits of +-100 (cosine attention at the largest temperature) do not overflow exp.
void softmax_rows(float* scores, int64_t rows, int64_t width) {
  parallel_for(rows, 4, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* row = scores + r * width;
      const float peak = *std::max_element(row, row + width);
      double total = 0.0;
      for (int64_t j = 0; j < width; ++j) {
        row[j] = std::exp(row[j] - peak);
        total += row[j];
      }
      const auto inv_total = static_cast<float>(1.0 / total);
      for (int64_t j = 0; j < width; ++j) row[j] *= inv_total;
    }
  });
}

void check_attention_arguments(const Tensor& dst, const Tensor& q, const Tensor& k, const Tensor& v,
                               const std::vector<int32_t>* key_lengths) {
  require_contiguous_output("attention", dst);
  for (const Tensor* t : {&dst, &q, &k, &v}) require_float("attention", *t);
  INF_CHECK(q.ndim() == 4 && k.ndim() == 4 && k.shape() == v.shape() && k.dim(0) == q.dim(0) &&
                k.dim(2) == q.dim(2) && k.dim(3) == q.dim(3),
            ErrorKind::invalid_argument, "attention: q ", q.describe(), ", k ", k.describe(), " and v ",
            v.describe(), " should be [B, Lq, H, hd], [B, Lk, H, hd] and [B, Lk, H, hd]");
  require_same_shape("attention", dst, q);
  if (key_lengths == nullptr) return;
  INF_CHECK(static_cast<int64_t>(key_lengths->size()) == q.dim(0), ErrorKind::invalid_argument, "attention: ",
            key_lengths->size(), " key lengths for batch ", q.dim(0), " (q ", q.describe(), ")");
  for (size_t b = 0; b < key_lengths->size(); ++b) {
    const int32_t length = (*key_lengths)[b];
    INF_CHECK(length >= 0 && length <= k.dim(1), ErrorKind::invalid_argument, "attention: key length ", length,
              " of batch row ", b, " is outside [0, ", k.dim(1), "] (k ", k.describe(), ")");
  }
}

}  // namespace

void attention(const Tensor& dst, const Tensor& q, const Tensor& k, const Tensor& v, float scale,
               const std::vector<int32_t>* key_lengths) {
  check_attention_arguments(dst, q, k, v, key_lengths);
  const int64_t batch = q.dim(0), query_len = q.dim(1), heads = q.dim(2), head_dim = q.dim(3);
  const int64_t dst_row_stride = heads * head_dim;  // dst is a contiguous [B, Lq, H, hd]
  if (dst.numel() == 0) return;
  auto* out = dst.data();
  const bool direct_out = dst.dtype() == DType::f32;

  // One task per (batch row, head); BLAS runs single-threaded inside each (the CPU backend
  // owns the threads), so small heads do not pay a thread hand-off per GEMM.
  parallel_for(batch * heads, 1, [&](int64_t task_begin, int64_t task_end) {
    std::vector<float> scores, chunk_out;
    for (int64_t task = task_begin; task < task_end; ++task) {
      const int64_t b = task / heads, h = task % heads;
      const int64_t key_count = key_lengths != nullptr ? (*key_lengths)[static_cast<size_t>(b)] : k.dim(1);
      const int64_t head_start = (b * query_len * heads + h) * head_dim;  // dst element (b, 0, h, 0)
      if (key_count == 0) {
        // No keys to attend to (an empty prompt): the output is defined as zeros.
        for (int64_t i = 0; i < query_len; ++i)
          for (int64_t d = 0; d < head_dim; ++d) store_float(out, dst.dtype(), head_start + i * dst_row_stride + d, 0.0f);
        continue;
      }
      const HeadRows keys = head_rows(k, b, h, 0, key_count);    // [key_count, hd]
      const HeadRows values = head_rows(v, b, h, 0, key_count);  // [key_count, hd]
      const int64_t chunk_rows = std::clamp<int64_t>(kScoreBudget / key_count, 1, query_len);
      scores.resize(static_cast<size_t>(chunk_rows * key_count));  // [chunk_rows, key_count]
      if (!direct_out) chunk_out.resize(static_cast<size_t>(chunk_rows * head_dim));  // [chunk_rows, hd]
      for (int64_t first = 0; first < query_len; first += chunk_rows) {
        const int64_t rows = std::min(chunk_rows, query_len - first);
        const HeadRows queries = head_rows(q, b, h, first, rows);  // [rows, hd]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(rows),
                    static_cast<blasint>(key_count), static_cast<blasint>(head_dim), scale, queries.data,
                    static_cast<blasint>(queries.leading_dim), keys.data, static_cast<blasint>(keys.leading_dim),
                    0.0f, scores.data(), static_cast<blasint>(key_count));
        softmax_rows(scores.data(), rows, key_count);
        // out rows = P V: straight into dst when it is f32 (rows are H*hd apart), else via scratch.
        float* target = direct_out ? static_cast<float*>(out) + head_start + first * dst_row_stride : chunk_out.data();
        const int64_t target_stride = direct_out ? dst_row_stride : head_dim;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(rows),
                    static_cast<blasint>(head_dim), static_cast<blasint>(key_count), 1.0f, scores.data(),
                    static_cast<blasint>(key_count), values.data, static_cast<blasint>(values.leading_dim), 0.0f,
                    target, static_cast<blasint>(target_stride));
        if (direct_out) continue;
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t d = 0; d < head_dim; ++d)
            store_float(out, dst.dtype(), head_start + (first + i) * dst_row_stride + d,
                        chunk_out[static_cast<size_t>(i * head_dim + d)]);
      }
    }
  });
}

}  // namespace inf::cpu
