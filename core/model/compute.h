// Compute: the backend's ops in a form that allocates each result, so network code reads as
// the formulas it implements. Results are f32 activations on the backend; weights may be any
// float dtype.
#pragma once

#include <vector>

#include "backend/backend.h"
#include "model/infinity/weights.h"

namespace inf {

class Compute {
 public:
  explicit Compute(Backend& backend, DType activation_dtype = DType::f32)
      : backend_(backend), activation_(activation_dtype) {}

  Backend& backend() const { return backend_; }
  Tensor alloc(const Shape& shape) const { return backend_.alloc(activation_, shape); }
  // A host tensor placed on the backend (contiguous, same dtype).
  Tensor upload(const Tensor& host) const;
  Tensor download(const Tensor& device) const;  // waits for the backend

  // x [..., in] -> [..., out]
  Tensor linear(const Tensor& x, const Linear& layer) const;
  Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_b, float alpha = 1.0f) const;
  Tensor layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps) const;
  Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps) const;
  Tensor l2_normalize(const Tensor& x, float eps) const;
  Tensor unary(UnaryOp op, const Tensor& x) const;
  Tensor add(const Tensor& a, const Tensor& b) const;  // b broadcasts onto a
  Tensor mul(const Tensor& a, const Tensor& b) const;
  Tensor scale(const Tensor& x, float alpha, float beta) const;
  Tensor contiguous(const Tensor& x) const;  // a packed copy of any view
  Tensor rope(const Tensor& x, const Tensor& cos, const Tensor& sin) const;
  Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                   const std::vector<int32_t>* key_lengths = nullptr) const;
  Tensor resize_bilinear(const Tensor& x, int64_t height, int64_t width) const;
  Tensor resize_area(const Tensor& x, int64_t height, int64_t width) const;
  // x [B, Cin, H, W] -> [B, Cout, Ho, Wo]; weight [Cout, Cin, kh, kw]
  Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor* bias, const Conv2dParams& params) const;
  Tensor group_norm(const Tensor& x, int groups, const Tensor* weight, const Tensor* bias, float eps, bool swish) const;
  Tensor upsample_nearest(const Tensor& x, int factor) const;

  // In place: x += y (broadcast), or x += y * gate.
  void add_into(const Tensor& x, const Tensor& y) const;
  // Copies `src` into the (contiguous) view `dst`.
  void copy_into(const Tensor& dst, const Tensor& src) const { backend_.convert(dst, src); }

 private:
  Shape with_last(const Tensor& x, int64_t last) const;
  Backend& backend_;
  DType activation_;
};

}  // namespace inf
