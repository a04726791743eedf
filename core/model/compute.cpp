#include "model/compute.h"

#include "common/error.h"

namespace inf {

Shape Compute::with_last(const Tensor& x, int64_t last) const {
  Shape shape = x.shape();
  shape.back() = last;
  return shape;
}

Tensor Compute::upload(const Tensor& host) const {
  Tensor placed = backend_.alloc(host.dtype(), host.shape());
  backend_.upload(placed, host);
  return placed;
}

Tensor Compute::download(const Tensor& device) const {
  Tensor source = device.is_contiguous() ? device : contiguous(device);
  Tensor host = Tensor::host(source.dtype(), source.shape());
  backend_.download(host, source);
  backend_.synchronize();
  return host;
}

Tensor Compute::linear(const Tensor& x, const Linear& layer) const {
  Tensor out = alloc(with_last(x, layer.weight.dim(0)));
  MatmulOptions options;
  options.bias = layer.bias.defined() ? &layer.bias : nullptr;
  backend_.matmul(out, x, layer.weight, options);
  return out;
}

Tensor Compute::matmul(const Tensor& a, const Tensor& b, bool transpose_b, float alpha) const {
  Shape shape = a.shape();
  shape.back() = transpose_b ? b.dim(-2) : b.dim(-1);
  Tensor out = alloc(shape);
  MatmulOptions options;
  options.transpose_b = transpose_b;
  options.alpha = alpha;
  backend_.matmul(out, a, b, options);
  return out;
}

Tensor Compute::layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps) const {
  Tensor out = alloc(x.shape());
  backend_.layer_norm(out, x, weight, bias, eps);
  return out;
}

Tensor Compute::rms_norm(const Tensor& x, const Tensor& weight, float eps) const {
  Tensor out = alloc(x.shape());
  backend_.rms_norm(out, x, &weight, eps);
  return out;
}

Tensor Compute::l2_normalize(const Tensor& x, float eps) const {
  Tensor out = alloc(x.shape());
  backend_.l2_normalize(out, x, eps);
  return out;
}

Tensor Compute::unary(UnaryOp op, const Tensor& x) const {
  Tensor out = alloc(x.shape());
  backend_.unary(op, out, x);
  return out;
}

Tensor Compute::add(const Tensor& a, const Tensor& b) const {
  Tensor out = alloc(a.shape());
  backend_.binary(BinaryOp::add, out, a, b);
  return out;
}

Tensor Compute::mul(const Tensor& a, const Tensor& b) const {
  Tensor out = alloc(a.shape());
  backend_.binary(BinaryOp::mul, out, a, b);
  return out;
}

Tensor Compute::scale(const Tensor& x, float alpha, float beta) const {
  Tensor out = alloc(x.shape());
  backend_.scale(out, x, alpha, beta);
  return out;
}

Tensor Compute::contiguous(const Tensor& x) const {
  Tensor out = backend_.alloc(x.dtype(), x.shape());
  backend_.convert(out, x);
  return out;
}

Tensor Compute::rope(const Tensor& x, const Tensor& cos, const Tensor& sin) const {
  Tensor out = alloc(x.shape());
  backend_.rope(out, x, cos, sin);
  return out;
}

Tensor Compute::attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                          const std::vector<int32_t>* key_lengths) const {
  Tensor out = alloc(q.shape());
  backend_.attention(out, q, k, v, scale, key_lengths);
  return out;
}

Tensor Compute::resize_bilinear(const Tensor& x, int64_t height, int64_t width) const {
  INF_CHECK(x.ndim() == 4, ErrorKind::invalid_argument, "resize_bilinear needs [B, C, H, W], got ", x.describe());
  Tensor out = alloc({x.dim(0), x.dim(1), height, width});
  backend_.resize_bilinear(out, x);
  return out;
}

Tensor Compute::resize_area(const Tensor& x, int64_t height, int64_t width) const {
  INF_CHECK(x.ndim() == 4, ErrorKind::invalid_argument, "resize_area needs [B, C, H, W], got ", x.describe());
  Tensor out = alloc({x.dim(0), x.dim(1), height, width});
  backend_.resize_area(out, x);
  return out;
}

Tensor Compute::conv2d(const Tensor& x, const Tensor& weight, const Tensor* bias, const Conv2dParams& params) const {
  INF_CHECK(x.ndim() == 4 && weight.ndim() == 4 && params.stride > 0, ErrorKind::invalid_argument, "conv2d of ",
            x.describe(), " with ", weight.describe());
  const int64_t height = (x.dim(2) + params.pad_top + params.pad_bottom - weight.dim(2)) / params.stride + 1;
  const int64_t width = (x.dim(3) + params.pad_left + params.pad_right - weight.dim(3)) / params.stride + 1;
  Tensor out = alloc({x.dim(0), weight.dim(0), height, width});
  backend_.conv2d(out, x, weight, bias, params);
  return out;
}

Tensor Compute::group_norm(const Tensor& x, int groups, const Tensor* weight, const Tensor* bias, float eps,
                           bool swish) const {
  Tensor out = alloc(x.shape());
  backend_.group_norm(out, x, groups, weight, bias, eps, swish);
  return out;
}

Tensor Compute::upsample_nearest(const Tensor& x, int factor) const {
  INF_CHECK(x.ndim() == 4, ErrorKind::invalid_argument, "upsample_nearest needs [B, C, H, W], got ", x.describe());
  Tensor out = alloc({x.dim(0), x.dim(1), x.dim(2) * factor, x.dim(3) * factor});
  backend_.upsample_nearest(out, x);
  return out;
}

void Compute::add_into(const Tensor& x, const Tensor& y) const { backend_.binary(BinaryOp::add, x, x, y); }

}  // namespace inf
