// Row-wise ops: layer norm (with and without affine), RMS norm, softmax. Widths 1, 7, 769
// and 4096, strided inputs, and a softmax row that is entirely -inf (a masked row).
#include <cmath>
#include <limits>

#include "ops/op_case.h"

namespace inf::ops_test {
namespace {

constexpr float kEps = 1e-6f;

std::vector<double> row_values(const Tensor& t, int64_t row, int64_t width) {
  std::vector<double> values(static_cast<size_t>(width));
  for (int64_t j = 0; j < width; ++j) values[static_cast<size_t>(j)] = element(t, row * width + j);
  return values;
}

// Applies fn(row values, row index) -> output row to every row of in[0].
template <typename Fn>
std::vector<double> per_row(const std::vector<Tensor>& in, Fn fn) {
  const int64_t width = in[0].dim(-1);
  const int64_t rows = in[0].numel() / width;
  std::vector<double> expected;
  for (int64_t r = 0; r < rows; ++r) {
    const auto out = fn(row_values(in[0], r, width));
    expected.insert(expected.end(), out.begin(), out.end());
  }
  return expected;
}

std::vector<OpCase> make_cases() {
  std::vector<OpCase> cases;
  uint32_t seed = 900;
  const Shape shapes[] = {{3, 1}, {5, 7}, {2, 3, 769}, {2, 4096}};
  for (DType dtype : {DType::f32, DType::bf16, DType::f16})
    for (const Shape& shape : shapes) {
      const int64_t width = shape.back();
      const std::string suffix = std::string(dtype_name(dtype)) + shape_string(shape);
      for (int affine = 0; affine < 2; ++affine) {
        OpCase c;
        c.op = "layer_norm";
        c.label = suffix + (affine ? " +weight+bias" : "");
        c.inputs = {{random_tensor(dtype, shape, seed++, -3.0f, 5.0f), {}}};
        if (affine) {
          c.inputs.push_back({random_tensor(DType::f32, {width}, seed++, 0.5f, 1.5f), {}});
          c.inputs.push_back({random_tensor(dtype, {width}, seed++), {}});
        }
        c.out_dtype = dtype;
        c.out_shape = shape;
        c.flops = 8.0 * static_cast<double>(shape_numel(shape));
        c.run = [affine](Backend& backend, const Tensor& out, const std::vector<Tensor>& in) {
          backend.layer_norm(out, in[0], affine ? &in[1] : nullptr, affine ? &in[2] : nullptr, kEps);
        };
        c.oracle = [affine](const std::vector<Tensor>& in) {
          return per_row(in, [&](std::vector<double> row) {
            double mean = 0, var = 0;
            for (double v : row) mean += v;
            mean /= static_cast<double>(row.size());
            for (double v : row) var += (v - mean) * (v - mean);
            var /= static_cast<double>(row.size());
            for (size_t j = 0; j < row.size(); ++j) {
              row[j] = (row[j] - mean) / std::sqrt(var + kEps);
              if (affine) row[j] = row[j] * element(in[1], static_cast<int64_t>(j)) + element(in[2], static_cast<int64_t>(j));
            }
            return row;
          });
        };
        // A width-1 row normalises to exactly 0 (+bias): the NMSE is then against a tiny or zero norm.
        if (width == 1) c.max_nmse = affine ? default_max_nmse(dtype) : 1e-30;
        cases.push_back(c);
      }
      {
        OpCase c;
        c.op = "rms_norm";
        c.label = suffix + " +weight";
        c.inputs = {{random_tensor(dtype, shape, seed++, -3.0f, 5.0f), {}},
                    {random_tensor(dtype, {width}, seed++, 0.5f, 1.5f), {}}};
        c.out_dtype = dtype;
        c.out_shape = shape;
        c.flops = 4.0 * static_cast<double>(shape_numel(shape));
        c.run = [](Backend& backend, const Tensor& out, const std::vector<Tensor>& in) {
          backend.rms_norm(out, in[0], &in[1], kEps);
        };
        c.oracle = [](const std::vector<Tensor>& in) {
          return per_row(in, [&](std::vector<double> row) {
            double squares = 0;
            for (double v : row) squares += v * v;
            const double inv = 1.0 / std::sqrt(squares / static_cast<double>(row.size()) + kEps);
            for (size_t j = 0; j < row.size(); ++j) row[j] *= inv * element(in[1], static_cast<int64_t>(j));
            return row;
          });
        };
        cases.push_back(c);
      }
      {
        OpCase c;
        c.op = "softmax";
        c.label = suffix + " scale 0.125 strided";
        // Softmax a transposed view so the rows are strided in memory.
        Shape base_shape = shape;
        std::swap(base_shape[base_shape.size() - 1], base_shape[base_shape.size() - 2]);
        c.inputs = {{random_tensor(dtype, base_shape, seed++, -30.0f, 30.0f), [](const Tensor& t) { return t.transpose(-1, -2); }}};
        c.out_dtype = dtype;
        c.out_shape = shape;
        c.flops = 5.0 * static_cast<double>(shape_numel(shape));
        c.run = [](Backend& backend, const Tensor& out, const std::vector<Tensor>& in) {
          backend.softmax(out, in[0], 0.125f);
        };
        c.oracle = [](const std::vector<Tensor>& in) {
          return per_row(in, [](std::vector<double> row) {
            double peak = -INFINITY, total = 0;
            for (double& v : row) peak = std::max(peak, v *= 0.125);
            for (double& v : row) total += (v = std::exp(v - peak));
            for (double& v : row) v /= total;
            return row;
          });
        };
        cases.push_back(c);
      }
    }
  {
    // A fully masked row (all -inf) must give zeros, not NaN; the other row is ordinary.
    OpCase c;
    c.op = "softmax";
    c.label = "f32 [2,5] with a fully -inf row";
    Tensor input = random_tensor(DType::f32, {2, 5}, seed++);
    for (int j = 0; j < 5; ++j) input.data_as<float>()[j] = -std::numeric_limits<float>::infinity();
    c.inputs = {{input, {}}};
    c.out_shape = {2, 5};
    c.run = [](Backend& backend, const Tensor& out, const std::vector<Tensor>& in) { backend.softmax(out, in[0], 1.0f); };
    c.oracle = [](const std::vector<Tensor>& in) {
      std::vector<double> expected(5, 0.0);
      auto row = row_values(in[0], 1, 5);
      double peak = -INFINITY, total = 0;
      for (double v : row) peak = std::max(peak, v);
      for (double& v : row) total += (v = std::exp(v - peak));
      for (double v : row) expected.push_back(v / total);
      return expected;
    };
    cases.push_back(c);
  }
  return cases;
}

const Register registration(make_cases);

}  // namespace
}  // namespace inf::ops_test
