// Elementwise ops, conversions and the helpers every CPU op shares.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/cpu_ops.h"
#include "common/error.h"
#include "common/thread_pool.h"

namespace inf::cpu {
namespace {

constexpr int64_t kElementGrain = 1 << 14;  // below this a loop is not worth waking threads

float apply_unary(UnaryOp op, float x) {
  switch (op) {
    case UnaryOp::gelu_tanh: {
      const float kSqrt2OverPi = 0.7978845608028654f;
      return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
    }
    case UnaryOp::silu: return x / (1.0f + std::exp(-x));
    case UnaryOp::neg: return -x;
    case UnaryOp::exp: return std::exp(x);
  }
  return x;
}

}  // namespace

ElementOffsets::ElementOffsets(const Tensor& tensor)
    : shape_(tensor.shape()), strides_(tensor.strides()), contiguous_(tensor.is_contiguous()) {}

ElementOffsets::ElementOffsets(const Tensor& tensor, const Shape& target_shape, const char* op_name)
    : shape_(target_shape), strides_(target_shape.size(), 0) {
  const int source_dims = tensor.ndim();
  const int target_dims = static_cast<int>(target_shape.size());
  INF_CHECK(source_dims <= target_dims, ErrorKind::invalid_argument, op_name, ": cannot broadcast ",
            tensor.describe(), " to ", shape_string(target_shape));
  for (int i = 0; i < source_dims; ++i) {
    const auto target_axis = static_cast<size_t>(target_dims - source_dims + i);
    const int64_t extent = tensor.shape()[static_cast<size_t>(i)];
    INF_CHECK(extent == target_shape[target_axis] || extent == 1, ErrorKind::invalid_argument, op_name,
              ": cannot broadcast ", tensor.describe(), " to ", shape_string(target_shape));
    strides_[target_axis] = extent == 1 ? 0 : tensor.strides()[static_cast<size_t>(i)];
  }
  contiguous_ = tensor.is_contiguous() && tensor.shape() == target_shape;
}

float load_float(const void* base, DType dtype, int64_t index) {
  switch (dtype) {
    case DType::f32: return static_cast<const float*>(base)[index];
    case DType::bf16: return bf16_to_f32(static_cast<const uint16_t*>(base)[index]);
    case DType::f16: return f16_to_f32(static_cast<const uint16_t*>(base)[index]);
    case DType::u8: return static_cast<float>(static_cast<const uint8_t*>(base)[index]);
    case DType::i32: return static_cast<float>(static_cast<const int32_t*>(base)[index]);
    case DType::i64: return static_cast<float>(static_cast<const int64_t*>(base)[index]);
  }
  return 0.0f;
}

void store_float(void* base, DType dtype, int64_t index, float value) {
  switch (dtype) {
    case DType::f32: static_cast<float*>(base)[index] = value; return;
    case DType::bf16: static_cast<uint16_t*>(base)[index] = f32_to_bf16(value); return;
    case DType::f16: static_cast<uint16_t*>(base)[index] = f32_to_f16(value); return;
    default: fail(ErrorKind::internal, "store_float into ", dtype_name(dtype));
  }
}

int64_t row_width(const Tensor& tensor) { return tensor.ndim() == 0 ? 1 : tensor.dim(-1); }

RowReader::RowReader(const Tensor& tensor) : tensor_(tensor), offsets_(tensor), width_(row_width(tensor)) {}

RowReader::RowReader(const Tensor& tensor, const Shape& target_shape, const char* op_name)
    : tensor_(tensor), offsets_(tensor, target_shape, op_name), width_(target_shape.empty() ? 1 : target_shape.back()) {}

const float* RowReader::row(int64_t r, float* scratch) const {
  const int64_t start = offsets_(r * width_), step = offsets_.last_stride();
  const void* base = tensor_.data();
  switch (tensor_.dtype()) {
    case DType::f32: {
      const float* values = static_cast<const float*>(base) + start;
      if (step == 1) return values;
      for (int64_t j = 0; j < width_; ++j) scratch[j] = values[j * step];
      return scratch;
    }
    case DType::bf16: {
      const auto* values = static_cast<const uint16_t*>(base) + start;
      for (int64_t j = 0; j < width_; ++j) scratch[j] = bf16_to_f32(values[j * step]);
      return scratch;
    }
    case DType::f16: {
      const auto* values = static_cast<const uint16_t*>(base) + start;
      for (int64_t j = 0; j < width_; ++j) scratch[j] = f16_to_f32(values[j * step]);
      return scratch;
    }
    default:
      for (int64_t j = 0; j < width_; ++j) scratch[j] = load_float(base, tensor_.dtype(), start + j * step);
      return scratch;
  }
}

float* output_row(const Tensor& dst, int64_t r, float* scratch) {
  if (dst.dtype() == DType::f32) return static_cast<float*>(dst.data()) + r * row_width(dst);
  return scratch;
}

void finish_output_row(const Tensor& dst, int64_t r, const float* values) {
  const int64_t width = row_width(dst);
  auto* out = static_cast<uint16_t*>(dst.data()) + r * width;
  switch (dst.dtype()) {
    case DType::f32: return;  // written in place
    case DType::bf16:
      for (int64_t j = 0; j < width; ++j) out[j] = f32_to_bf16(values[j]);
      return;
    case DType::f16:
      for (int64_t j = 0; j < width; ++j) out[j] = f32_to_f16(values[j]);
      return;
    default: fail(ErrorKind::internal, "float row written to ", dst.describe());
  }
}

void require_host(const char* op, const Tensor& tensor) {
  INF_CHECK(tensor.defined(), ErrorKind::invalid_argument, op, ": empty tensor");
  INF_CHECK(tensor.device().is_cpu(), ErrorKind::invalid_argument, op, ": tensor ", tensor.describe(), " is on ",
            tensor.device().describe(), ", the cpu backend needs host tensors");
}

void require_float(const char* op, const Tensor& tensor) {
  require_host(op, tensor);
  INF_CHECK(dtype_is_float(tensor.dtype()), ErrorKind::invalid_argument, op, ": needs a float tensor, got ",
            tensor.describe());
}

void require_contiguous_output(const char* op, const Tensor& dst) {
  require_host(op, dst);
  INF_CHECK(dst.is_contiguous(), ErrorKind::invalid_argument, op, ": output ", dst.describe(),
            " must be contiguous");
  INF_CHECK(!dst.buffer()->read_only(), ErrorKind::invalid_argument, op, ": output ", dst.describe(),
            " is read-only (a view of a weight file)");
}

void require_same_shape(const char* op, const Tensor& dst, const Tensor& src) {
  INF_CHECK(dst.shape() == src.shape(), ErrorKind::invalid_argument, op, ": output ", dst.describe(),
            " and input ", src.describe(), " differ in shape");
}

namespace {

// Applies fn(out_row, row_index, scratch_a, scratch_b) to every row of dst in parallel; the
// scratch rows are per-thread buffers of the row width.
template <typename RowFn>
void for_each_output_row(const Tensor& dst, RowFn fn) {
  const int64_t width = row_width(dst);
  if (dst.numel() == 0) return;
  const int64_t rows = dst.numel() / width;
  parallel_for(rows, std::max<int64_t>(1, kElementGrain / width), [&](int64_t begin, int64_t end) {
    std::vector<float> out_scratch(static_cast<size_t>(width)), a_scratch(static_cast<size_t>(width)),
        b_scratch(static_cast<size_t>(width));
    for (int64_t r = begin; r < end; ++r) {
      float* out = output_row(dst, r, out_scratch.data());
      fn(out, r, a_scratch.data(), b_scratch.data());
      finish_output_row(dst, r, out);
    }
  });
}

}  // namespace

void convert(const Tensor& dst, const Tensor& src) {
  require_contiguous_output("convert", dst);
  require_host("convert", src);
  require_same_shape("convert", dst, src);
  const ElementOffsets source(src);
  if (dst.dtype() == src.dtype() && !dtype_is_float(src.dtype())) {
    // Integers: a byte copy of each element.
    const size_t element = dtype_size(src.dtype());
    auto* out = static_cast<uint8_t*>(dst.data());
    const auto* in = static_cast<const uint8_t*>(src.data());
    parallel_for(dst.numel(), kElementGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        std::memcpy(out + static_cast<size_t>(i) * element, in + static_cast<size_t>(source(i)) * element, element);
    });
    return;
  }
  INF_CHECK(dtype_is_float(dst.dtype()), ErrorKind::invalid_argument, "convert: ", src.describe(), " to ",
            dst.describe(), " is not supported (only conversions to float types)");
  const RowReader rows(src);
  const int64_t width = row_width(dst);
  for_each_output_row(dst, [&](float* out, int64_t r, float* scratch, float*) {
    const float* x = rows.row(r, scratch);
    if (x != out) std::copy(x, x + width, out);
  });
}

void unary(UnaryOp op, const Tensor& dst, const Tensor& src) {
  const char* name = unary_op_name(op);
  require_contiguous_output(name, dst);
  require_float(name, dst);
  require_float(name, src);
  require_same_shape(name, dst, src);
  const RowReader source(src);
  const int64_t width = row_width(dst);
  for_each_output_row(dst, [&](float* out, int64_t r, float* scratch, float*) {
    const float* x = source.row(r, scratch);
    for (int64_t j = 0; j < width; ++j) out[j] = apply_unary(op, x[j]);
  });
}

void binary(BinaryOp op, const Tensor& dst, const Tensor& a, const Tensor& b) {
  const char* name = binary_op_name(op);
  require_contiguous_output(name, dst);
  require_float(name, dst);
  require_float(name, a);
  require_float(name, b);
  require_same_shape(name, dst, a);
  const RowReader left(a);
  const RowReader right(b, dst.shape(), name);
  const int64_t width = row_width(dst);
  for_each_output_row(dst, [&](float* out, int64_t r, float* a_scratch, float* b_scratch) {
    // dst may alias a (x += y): each element is read before it is written.
    const float* x = left.row(r, a_scratch);
    const float* y = right.row(r, b_scratch);
    switch (op) {
      case BinaryOp::add: for (int64_t j = 0; j < width; ++j) out[j] = x[j] + y[j]; break;
      case BinaryOp::sub: for (int64_t j = 0; j < width; ++j) out[j] = x[j] - y[j]; break;
      case BinaryOp::mul: for (int64_t j = 0; j < width; ++j) out[j] = x[j] * y[j]; break;
    }
  });
}

void scale(const Tensor& dst, const Tensor& src, float alpha, float beta) {
  require_contiguous_output("scale", dst);
  require_float("scale", dst);
  require_float("scale", src);
  require_same_shape("scale", dst, src);
  const RowReader source(src);
  const int64_t width = row_width(dst);
  for_each_output_row(dst, [&](float* out, int64_t r, float* scratch, float*) {
    const float* x = source.row(r, scratch);
    for (int64_t j = 0; j < width; ++j) out[j] = x[j] * alpha + beta;
  });
}

}  // namespace inf::cpu
