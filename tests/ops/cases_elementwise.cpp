// Cases for convert, unary, binary and scale: every float dtype, awkward sizes (1, 7, 769),
// strided inputs and broadcasting.
#include <cmath>

#include "ops/op_case.h"

namespace inf::ops_test {
namespace {

const DType kFloatTypes[] = {DType::f32, DType::bf16, DType::f16};

Tensor transpose_last_two(const Tensor& t) { return t.transpose(-1, -2); }

double unary_reference(UnaryOp op, double x) {
  switch (op) {
    case UnaryOp::gelu_tanh: return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case UnaryOp::silu: return x / (1.0 + std::exp(-x));
    case UnaryOp::neg: return -x;
    case UnaryOp::exp: return std::exp(x);
  }
  return x;
}

double binary_reference(BinaryOp op, double a, double b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
  }
  return a;
}

// Element i of `source` broadcast (NumPy rules) onto `target`.
double broadcast_element(const Tensor& source, const Shape& target, int64_t linear) {
  int64_t source_linear = 0, source_scale = 1;
  const int offset = static_cast<int>(target.size()) - source.ndim();
  for (int d = static_cast<int>(target.size()); d-- > 0;) {
    const int64_t index = linear % target[static_cast<size_t>(d)];
    linear /= target[static_cast<size_t>(d)];
    if (d < offset) continue;
    const int64_t extent = source.shape()[static_cast<size_t>(d - offset)];
    source_linear += (extent == 1 ? 0 : index) * source_scale;
    source_scale *= extent;
  }
  return element(source, source_linear);
}

std::vector<OpCase> make_cases() {
  std::vector<OpCase> cases;
  uint32_t seed = 100;

  // convert: every float pair, plus a strided copy and integer same-dtype copies.
  for (DType from : kFloatTypes)
    for (DType to : kFloatTypes) {
      OpCase c;
      c.op = "convert";
      c.label = std::string(dtype_name(from)) + "->" + std::string(dtype_name(to)) + " [7,769]";
      // +-60000 spans bf16's and f16's exponent range without overflowing f16 (max 65504).
      c.inputs = {{random_tensor(from, {7, 769}, seed++, -60000.0f, 60000.0f), {}}};
      c.out_dtype = to;
      c.out_shape = {7, 769};
      cases.push_back(c);
    }
  {
    OpCase c;
    c.op = "convert";
    c.label = "f32 transposed view [33,17]^T -> bf16";
    c.inputs = {{random_tensor(DType::f32, {33, 17}, seed++), transpose_last_two}};
    c.out_dtype = DType::bf16;
    c.out_shape = {17, 33};
    cases.push_back(c);
  }
  for (DType integer : {DType::u8, DType::i32, DType::i64}) {
    OpCase c;
    c.op = "convert";
    c.label = std::string(dtype_name(integer)) + " strided copy [5,3]^T";
    c.inputs = {{random_tensor(integer, {5, 3}, seed++), transpose_last_two}};
    c.out_dtype = integer;
    c.out_shape = {3, 5};
    c.max_nmse = 1e-30;  // copies are exact
    cases.push_back(c);
  }
  for (auto& c : cases) {
    c.run = [](Backend& backend, const Tensor& out, const std::vector<Tensor>& in) { backend.convert(out, in[0]); };
    c.oracle = [](const std::vector<Tensor>& in) {
      std::vector<double> expected(static_cast<size_t>(in[0].numel()));
      for (int64_t i = 0; i < in[0].numel(); ++i) expected[static_cast<size_t>(i)] = element(in[0], i);
      return expected;
    };
  }

  // unary: each op on each dtype, sizes 1 and 7x769, and a strided input.
  for (UnaryOp op : {UnaryOp::gelu_tanh, UnaryOp::silu, UnaryOp::neg, UnaryOp::exp})
    for (DType dtype : kFloatTypes)
      for (const Shape& shape : {Shape{1}, Shape{7, 769}, Shape{3, 4, 5}}) {
        OpCase c;
        c.op = "unary";
        c.label = std::string(unary_op_name(op)) + " " + std::string(dtype_name(dtype)) + shape_string(shape);
        const bool strided = shape.size() == 3;
        Shape base_shape = shape;
        if (strided) std::swap(base_shape[1], base_shape[2]);
        c.inputs = {{random_tensor(dtype, base_shape, seed++, -4.0f, 4.0f), strided ? transpose_last_two : nullptr}};
        if (strided) c.label += " strided";
        c.out_dtype = dtype;
        c.out_shape = shape;
        c.run = [op](Backend& backend, const Tensor& out, const std::vector<Tensor>& in) { backend.unary(op, out, in[0]); };
        c.oracle = [op](const std::vector<Tensor>& in) {
          std::vector<double> expected(static_cast<size_t>(in[0].numel()));
          for (int64_t i = 0; i < in[0].numel(); ++i) expected[static_cast<size_t>(i)] = unary_reference(op, element(in[0], i));
          return expected;
        };
        c.flops = static_cast<double>(shape_numel(shape)) * (op == UnaryOp::gelu_tanh ? 10 : 4);
        cases.push_back(c);
      }

  // binary: broadcasting of rows, columns and scalars, mixed dtypes, a strided left operand.
  struct BinaryShapes {
    Shape a, b;
    bool strided_a;
  };
  const BinaryShapes shapes[] = {
      {{7, 769}, {7, 769}, false}, {{7, 769}, {769}, false}, {{2, 3, 5}, {3, 1}, false},
      {{1}, {1}, false},           {{4, 9}, {1}, false},     {{6, 5}, {6, 1}, true},
  };
  for (BinaryOp op : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul})
    for (const auto& s : shapes)
      for (DType dtype : kFloatTypes) {
        OpCase c;
        c.op = "binary";
        const DType b_dtype = dtype == DType::f32 ? DType::bf16 : DType::f32;  // mixed operand dtypes
        c.label = std::string(binary_op_name(op)) + " " + std::string(dtype_name(dtype)) + shape_string(s.a) + " " +
                  std::string(dtype_name(b_dtype)) + shape_string(s.b) + (s.strided_a ? " strided a" : "");
        Shape a_base = s.a;
        if (s.strided_a) std::swap(a_base[0], a_base[1]);
        c.inputs = {{random_tensor(dtype, a_base, seed++), s.strided_a ? transpose_last_two : nullptr},
                    {random_tensor(b_dtype, s.b, seed++), {}}};
        c.out_dtype = dtype;
        c.out_shape = s.a;
        c.run = [op](Backend& backend, const Tensor& out, const std::vector<Tensor>& in) {
          backend.binary(op, out, in[0], in[1]);
        };
        c.oracle = [op](const std::vector<Tensor>& in) {
          std::vector<double> expected(static_cast<size_t>(in[0].numel()));
          for (int64_t i = 0; i < in[0].numel(); ++i)
            expected[static_cast<size_t>(i)] =
                binary_reference(op, element(in[0], i), broadcast_element(in[1], in[0].shape(), i));
          return expected;
        };
        c.flops = static_cast<double>(shape_numel(s.a));
        cases.push_back(c);
      }

  // scale
  for (DType dtype : kFloatTypes) {
    OpCase c;
    c.op = "scale";
    c.label = std::string(dtype_name(dtype)) + " [769,7] * 0.125 - 3";
    c.inputs = {{random_tensor(dtype, {769, 7}, seed++), {}}};
    c.out_dtype = dtype;
    c.out_shape = {769, 7};
    c.run = [](Backend& backend, const Tensor& out, const std::vector<Tensor>& in) {
      backend.scale(out, in[0], 0.125f, -3.0f);
    };
    c.oracle = [](const std::vector<Tensor>& in) {
      std::vector<double> expected(static_cast<size_t>(in[0].numel()));
      for (int64_t i = 0; i < in[0].numel(); ++i) expected[static_cast<size_t>(i)] = element(in[0], i) * 0.125 - 3.0;
      return expected;
    };
    c.flops = 2.0 * 769 * 7;
    cases.push_back(c);
  }
  return cases;
}

const Register registration(make_cases);

}  // namespace
}  // namespace inf::ops_test
