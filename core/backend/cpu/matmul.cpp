// GEMM on the CPU through BLAS (OpenBLAS). Operands that are not f32 with a unit column
// stride are widened into f32 scratch first; the BLAS does the arithmetic in fp32.
#include <cblas.h>

#include <algorithm>
#include <vector>

#include "backend/cpu/cpu_ops.h"
#include "common/error.h"
#include "common/thread_pool.h"

namespace inf::cpu {
namespace {

// A row-major fp32 matrix as BLAS wants it: a pointer and a leading dimension.
struct F32Matrix {
  const float* data = nullptr;
  int64_t leading_dim = 0;
  std::vector<float> scratch;  // owns the widened copy when one was needed
};

// View (rows x cols) of `tensor` starting at element `offset`, with row stride `row_stride`
// and column stride `col_stride` (elements).
F32Matrix as_f32_matrix(const Tensor& tensor, int64_t offset, int64_t rows, int64_t cols, int64_t row_stride,
                        int64_t col_stride) {
  F32Matrix matrix;
  if (tensor.dtype() == DType::f32 && (col_stride == 1 || cols == 1) && (row_stride >= cols || rows == 1)) {
    matrix.data = static_cast<const float*>(tensor.data()) + offset;
    matrix.leading_dim = rows == 1 ? std::max<int64_t>(cols, 1) : row_stride;
    return matrix;
  }
  matrix.scratch.resize(static_cast<size_t>(rows * cols));
  const void* base = tensor.data();
  const DType dtype = tensor.dtype();
  parallel_for(rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* out = matrix.scratch.data() + r * cols;
      const int64_t start = offset + r * row_stride;
      // The dtype switch sits outside the element loop: widening bf16 weights is the whole cost
      // of a bf16 GEMM's preparation.
      const auto* halves = static_cast<const uint16_t*>(base) + start;
      switch (dtype) {
        case DType::bf16:
          for (int64_t c = 0; c < cols; ++c) out[c] = bf16_to_f32(halves[c * col_stride]);
          break;
        case DType::f16:
          for (int64_t c = 0; c < cols; ++c) out[c] = f16_to_f32(halves[c * col_stride]);
          break;
        default:
          for (int64_t c = 0; c < cols; ++c) out[c] = load_float(base, dtype, start + c * col_stride);
      }
    }
  });
  matrix.data = matrix.scratch.data();
  matrix.leading_dim = std::max<int64_t>(cols, 1);
  return matrix;
}

// Element offset of batch `index` for the leading `batch_dims` dims of `tensor`.
int64_t batch_offset(const Tensor& tensor, int batch_dims, int64_t index) {
  int64_t offset = 0;
  for (int d = batch_dims; d-- > 0;) {
    const auto axis = static_cast<size_t>(d);
    offset += (index % tensor.shape()[axis]) * tensor.strides()[axis];
    index /= tensor.shape()[axis];
  }
  return offset;
}

// out[m, n] = alpha * lhs @ op(rhs), split across the CPU pool: by row blocks when there are
// enough rows, else by column blocks (the first scales have 2 rows and thousands of columns).
// Each block is one single-threaded BLAS call, so BLAS never competes with the pool's threads.
void sgemm_in_parallel(const F32Matrix& lhs, const F32Matrix& rhs, const MatmulOptions& options, int64_t m,
                       int64_t n, int64_t k, float* out) {
  const int64_t threads = cpu_thread_count();
  constexpr int64_t kMinRowsPerBlock = 32, kMinColumnsPerBlock = 64;
  const bool split_rows = m >= threads * kMinRowsPerBlock || n < threads * kMinColumnsPerBlock;
  auto gemm = [&](int64_t rows, int64_t cols, const float* a, const float* b, float* c) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, options.transpose_b ? CblasTrans : CblasNoTrans,
                static_cast<blasint>(rows), static_cast<blasint>(cols), static_cast<blasint>(k), options.alpha, a,
                static_cast<blasint>(lhs.leading_dim), b, static_cast<blasint>(rhs.leading_dim), 0.0f, c,
                static_cast<blasint>(n));
  };
  if (split_rows) {
    parallel_for(m, kMinRowsPerBlock, [&](int64_t begin, int64_t end) {
      gemm(end - begin, n, lhs.data + begin * lhs.leading_dim, rhs.data, out + begin * n);
    });
    return;
  }
  parallel_for(n, kMinColumnsPerBlock, [&](int64_t begin, int64_t end) {
    // Columns [begin, end) of op(rhs): rows of rhs when it is [N, K], columns when [K, N].
    const float* columns = rhs.data + (options.transpose_b ? begin * rhs.leading_dim : begin);
    gemm(m, end - begin, lhs.data, columns, out + begin);
  });
}

}  // namespace

void matmul(const Tensor& dst, const Tensor& a, const Tensor& b, const MatmulOptions& options) {
  require_contiguous_output("matmul", dst);
  require_float("matmul", dst);
  require_float("matmul", a);
  require_float("matmul", b);
  INF_CHECK(a.ndim() >= 2 && (b.ndim() == 2 || b.ndim() == a.ndim()), ErrorKind::invalid_argument,
            "matmul: a ", a.describe(), " needs >= 2 dims and b ", b.describe(), " 2 dims or as many as a");
  const int batch_dims = a.ndim() - 2;
  const int64_t m = a.dim(-2), k = a.dim(-1);
  const int64_t n = options.transpose_b ? b.dim(-2) : b.dim(-1);
  const int64_t b_inner = options.transpose_b ? b.dim(-1) : b.dim(-2);
  INF_CHECK(b_inner == k, ErrorKind::invalid_argument, "matmul: a ", a.describe(), " and b ", b.describe(),
            options.transpose_b ? " (b is [N, K])" : " (b is [K, N])", " disagree on K");
  const bool b_batched = b.ndim() == a.ndim() && b.ndim() > 2;
  Shape expected(a.shape().begin(), a.shape().end() - 2);
  if (b_batched) {
    const Shape b_batch(b.shape().begin(), b.shape().end() - 2);
    INF_CHECK(b_batch == expected, ErrorKind::invalid_argument, "matmul: batch dims of a ", a.describe(),
              " and b ", b.describe(), " differ");
  }
  expected.push_back(m);
  expected.push_back(n);
  INF_CHECK(dst.shape() == expected, ErrorKind::invalid_argument, "matmul: output ", dst.describe(),
            " should have shape ", shape_string(expected));
  if (options.bias != nullptr) {
    require_float("matmul bias", *options.bias);
    INF_CHECK(options.bias->shape() == Shape{n}, ErrorKind::invalid_argument, "matmul: bias ",
              options.bias->describe(), " should be [", n, "]");
  }

  const int64_t batches = shape_numel(Shape(a.shape().begin(), a.shape().end() - 2));
  const int64_t a_row = a.strides()[static_cast<size_t>(batch_dims)];
  const int64_t a_col = a.strides()[static_cast<size_t>(batch_dims + 1)];
  const int64_t b_row = b.strides()[static_cast<size_t>(b.ndim() - 2)];
  const int64_t b_col = b.strides()[static_cast<size_t>(b.ndim() - 1)];
  std::vector<float> bias(static_cast<size_t>(n), 0.0f);
  if (options.bias != nullptr) {
    const ElementOffsets bias_offsets(*options.bias);
    for (int64_t j = 0; j < n; ++j)
      bias[static_cast<size_t>(j)] = load_float(options.bias->data(), options.bias->dtype(), bias_offsets(j));
  }
  std::vector<float> result(dst.dtype() == DType::f32 ? 0 : static_cast<size_t>(m * n));

  for (int64_t batch = 0; batch < batches; ++batch) {
    const F32Matrix lhs = as_f32_matrix(a, batch_offset(a, batch_dims, batch), m, k, a_row, a_col);
    const int64_t b_start = b_batched ? batch_offset(b, batch_dims, batch) : 0;
    const F32Matrix rhs = as_f32_matrix(b, b_start, b.dim(-2), b.dim(-1), b_row, b_col);
    float* out = dst.dtype() == DType::f32 ? static_cast<float*>(dst.data()) + batch * m * n : result.data();
    if (m > 0 && n > 0) {
      if (k == 0) {
        std::fill(out, out + m * n, 0.0f);
      } else {
        sgemm_in_parallel(lhs, rhs, options, m, n, k, out);
      }
    }
    parallel_for(m, 64, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r)
        for (int64_t c = 0; c < n; ++c) {
          const float value = out[r * n + c] + bias[static_cast<size_t>(c)];
          if (dst.dtype() == DType::f32)
            out[r * n + c] = value;
          else
            store_float(dst.data(), dst.dtype(), batch * m * n + r * n + c, value);
        }
    });
  }
}

}  // namespace inf::cpu
