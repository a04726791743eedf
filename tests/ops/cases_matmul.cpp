// GEMM cases: Linear layout (b = [N, K]) and plain [K, N], shared and batched b, bias,
// alpha, bf16/f16 weights, and sizes that are not multiples of any tile (1, 7, 257, 769).
#include "ops/op_case.h"

namespace inf::ops_test {
namespace {

struct MatmulShape {
  Shape a;  // [..., M, K]
  Shape b;  // [N, K] or [K, N], 2-D or batched like a
  bool transpose_b;
  bool bias;
  float alpha;
  DType a_dtype, b_dtype, out_dtype;
};

std::vector<OpCase> make_cases() {
  const MatmulShape shapes[] = {
      {{1, 1}, {1, 1}, true, false, 1.0f, DType::f32, DType::f32, DType::f32},
      {{7, 769}, {5, 769}, true, true, 1.0f, DType::f32, DType::f32, DType::f32},
      {{769, 257}, {33, 257}, true, true, 0.5f, DType::f32, DType::f32, DType::f32},
      {{2, 3, 7, 64}, {2, 3, 64, 9}, false, false, 0.125f, DType::f32, DType::f32, DType::f32},
      {{2, 7, 64}, {2, 9, 64}, true, false, 1.0f, DType::f32, DType::f32, DType::f32},
      {{4, 7, 129}, {65, 129}, true, true, 1.0f, DType::f32, DType::bf16, DType::f32},
      {{7, 769}, {769, 33}, false, true, 1.0f, DType::bf16, DType::bf16, DType::bf16},
      {{7, 256}, {48, 256}, true, true, 1.0f, DType::f16, DType::f16, DType::f32},
      {{128, 512}, {512, 512}, true, true, 1.0f, DType::f32, DType::f32, DType::f32},
      {{128, 512}, {512, 512}, true, true, 1.0f, DType::bf16, DType::bf16, DType::bf16},
  };
  std::vector<OpCase> cases;
  uint32_t seed = 500;
  for (const auto& s : shapes) {
    OpCase c;
    c.op = "matmul";
    const int64_t m = s.a[s.a.size() - 2], k = s.a.back();
    const int64_t n = s.transpose_b ? s.b[s.b.size() - 2] : s.b.back();
    c.label = std::string(dtype_name(s.a_dtype)) + shape_string(s.a) + " x " + std::string(dtype_name(s.b_dtype)) +
              shape_string(s.b) + (s.transpose_b ? "^T" : "") + (s.bias ? " +bias" : "") +
              (s.alpha != 1.0f ? " alpha" : "") + " -> " + std::string(dtype_name(s.out_dtype));
    c.inputs = {{random_tensor(s.a_dtype, s.a, seed++), {}}, {random_tensor(s.b_dtype, s.b, seed++), {}}};
    if (s.bias) c.inputs.push_back({random_tensor(DType::f32, {n}, seed++), {}});
    c.out_dtype = s.out_dtype;
    c.out_shape = Shape(s.a.begin(), s.a.end() - 2);
    c.out_shape.push_back(m);
    c.out_shape.push_back(n);
    const int64_t batches = shape_numel(Shape(s.a.begin(), s.a.end() - 2));
    c.flops = 2.0 * static_cast<double>(batches * m * n * k);
    const bool transpose_b = s.transpose_b, has_bias = s.bias;
    const float alpha = s.alpha;
    c.run = [=](Backend& backend, const Tensor& out, const std::vector<Tensor>& in) {
      MatmulOptions options;
      options.transpose_b = transpose_b;
      options.alpha = alpha;
      options.bias = has_bias ? &in[2] : nullptr;
      backend.matmul(out, in[0], in[1], options);
    };
    c.oracle = [=](const std::vector<Tensor>& in) {
      const Tensor& a = in[0];
      const Tensor& b = in[1];
      const bool b_batched = b.ndim() > 2;
      std::vector<double> expected(static_cast<size_t>(batches * m * n));
      for (int64_t batch = 0; batch < batches; ++batch)
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double sum = 0;
            const int64_t b_base = b_batched ? batch * n * k : 0;
            for (int64_t t = 0; t < k; ++t)
              sum += element(a, (batch * m + i) * k + t) *
                     element(b, b_base + (transpose_b ? j * k + t : t * n + j));
            sum *= alpha;
            if (has_bias) sum += element(in[2], j);
            expected[static_cast<size_t>((batch * m + i) * n + j)] = sum;
          }
      return expected;
    };
    cases.push_back(c);
  }
  return cases;
}

const Register registration(make_cases);

}  // namespace
}  // namespace inf::ops_test
