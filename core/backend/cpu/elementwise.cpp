// Elementwise ops, conversions and the helpers every CPU op shares.
#include <cmath>
#include <cstring>

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

float apply_binary(BinaryOp op, float a, float b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
  }
  return a;
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

void convert(const Tensor& dst, const Tensor& src) {
  require_contiguous_output("convert", dst);
  require_host("convert", src);
  require_same_shape("convert", dst, src);
  const ElementOffsets source(src);
  if (dst.dtype() == src.dtype()) {
    // Same dtype: a byte copy of each element, valid for integer tensors too.
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
  parallel_for(dst.numel(), kElementGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      store_float(dst.data(), dst.dtype(), i, load_float(src.data(), src.dtype(), source(i)));
  });
}

void unary(UnaryOp op, const Tensor& dst, const Tensor& src) {
  const char* name = unary_op_name(op);
  require_contiguous_output(name, dst);
  require_float(name, dst);
  require_float(name, src);
  require_same_shape(name, dst, src);
  const ElementOffsets source(src);
  parallel_for(dst.numel(), kElementGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      store_float(dst.data(), dst.dtype(), i, apply_unary(op, load_float(src.data(), src.dtype(), source(i))));
  });
}

void binary(BinaryOp op, const Tensor& dst, const Tensor& a, const Tensor& b) {
  const char* name = binary_op_name(op);
  require_contiguous_output(name, dst);
  require_float(name, dst);
  require_float(name, a);
  require_float(name, b);
  require_same_shape(name, dst, a);
  const ElementOffsets a_offsets(a);
  const ElementOffsets b_offsets(b, dst.shape(), name);
  parallel_for(dst.numel(), kElementGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float x = load_float(a.data(), a.dtype(), a_offsets(i));
      const float y = load_float(b.data(), b.dtype(), b_offsets(i));
      store_float(dst.data(), dst.dtype(), i, apply_binary(op, x, y));
    }
  });
}

void scale(const Tensor& dst, const Tensor& src, float alpha, float beta) {
  require_contiguous_output("scale", dst);
  require_float("scale", dst);
  require_float("scale", src);
  require_same_shape("scale", dst, src);
  const ElementOffsets source(src);
  parallel_for(dst.numel(), kElementGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      store_float(dst.data(), dst.dtype(), i, load_float(src.data(), src.dtype(), source(i)) * alpha + beta);
  });
}

}  // namespace inf::cpu
