// The op-consistency harness (in the spirit of ggml's test-backend-ops).
//
// Every backend op has cases here. Each case builds host inputs from a fixed seed, runs the
// op on a backend, and compares the output with an expectation:
//   - on the CPU backend, against an independent double-precision oracle written in the case
//     (plain loops, no shared code with the backend), so the reference itself is checked;
//   - on every other backend, against the CPU backend's output for the same inputs.
// Outputs sit between guard bytes that must survive the op; NaN and Inf must match the
// expectation before the NMSE (sum (y - x)^2 / sum x^2) is compared with the case's bound.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "tensor/tensor.h"

namespace inf::ops_test {

// An input: a contiguous host tensor, and how the case views it (a transpose, a narrow...).
// Device backends upload `base` and apply the same view to the device copy.
struct CaseInput {
  Tensor base;
  std::function<Tensor(const Tensor&)> view;  // empty = use base as it is
};

struct OpCase {
  std::string op;     // op-table entry, selected with -o
  std::string label;  // dtypes and shapes, e.g. "f32 a[7,769] b[5,769]^T +bias"
  std::vector<CaseInput> inputs;
  DType out_dtype = DType::f32;
  Shape out_shape;
  std::function<void(Backend&, const Tensor& out, const std::vector<Tensor>& inputs)> run;
  // Expected output in double precision, computed from the (viewed) host inputs.
  std::function<std::vector<double>(const std::vector<Tensor>& inputs)> oracle;
  double max_nmse = 0;  // 0 = the default for out_dtype (see default_max_nmse)
  double flops = 0;     // per run, for perf mode; 0 = report bytes moved instead
};

// Tolerances by output dtype. Rounding one value to bf16 has a relative error up to 2^-9,
// so the NMSE of a rounded tensor is around 1e-6; f16 rounds at 2^-12 (NMSE ~1e-8); f32
// results of short reductions agree with a double oracle to ~1e-12, long GEMMs to ~1e-10.
double default_max_nmse(DType out_dtype);

std::vector<OpCase>& registry();
struct Register {
  explicit Register(std::vector<OpCase> (*make)());
};

// ---- helpers for writing cases ----
// Values uniform in [lo, hi], rounded to `dtype`, from a seed derived from `seed`.
Tensor random_tensor(DType dtype, const Shape& shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f);
// Element `linear` (row-major over the view's shape) of a host tensor, widened to double.
double element(const Tensor& tensor, int64_t linear);
std::string describe_inputs(const std::vector<Tensor>& inputs);

}  // namespace inf::ops_test
