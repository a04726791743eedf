#include "backend/cpu/backend_cpu.h"

#include <cblas.h>

#include <cstring>

#include "backend/cpu/cpu_ops.h"
#include "common/error.h"

namespace inf {
namespace {

class CpuBackend final : public Backend {
 public:
  // The backend's own pool parallelises every op, BLAS calls included; a threaded BLAS on top
  // would fight it for the same cores (each GEMM would hand off to idle spinning threads).
  CpuBackend() { openblas_set_num_threads(1); }

  std::string name() const override { return "cpu"; }
  Device device() const override { return Device{}; }

  Tensor alloc(DType dtype, const Shape& shape) override {
    const size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
    return Tensor(make_scratch_host_buffer(bytes), dtype, shape);
  }

  // On the CPU, "device" memory is host memory, so both directions are plain copies.
  void upload(const Tensor& dst, const Tensor& src) override { copy("upload", dst, src); }
  void download(const Tensor& dst, const Tensor& src) override { copy("download", dst, src); }
  void synchronize() override {}

  void convert(const Tensor& dst, const Tensor& src) override { cpu::convert(dst, src); }
  void unary(UnaryOp op, const Tensor& dst, const Tensor& src) override { cpu::unary(op, dst, src); }
  void binary(BinaryOp op, const Tensor& dst, const Tensor& a, const Tensor& b) override {
    cpu::binary(op, dst, a, b);
  }
  void scale(const Tensor& dst, const Tensor& src, float alpha, float beta) override {
    cpu::scale(dst, src, alpha, beta);
  }
  void matmul(const Tensor& dst, const Tensor& a, const Tensor& b, const MatmulOptions& options) override {
    cpu::matmul(dst, a, b, options);
  }
  void layer_norm(const Tensor& dst, const Tensor& src, const Tensor* weight, const Tensor* bias,
                  float eps) override {
    cpu::layer_norm(dst, src, weight, bias, eps);
  }
  void rms_norm(const Tensor& dst, const Tensor& src, const Tensor* weight, float eps) override {
    cpu::rms_norm(dst, src, weight, eps);
  }
  void softmax(const Tensor& dst, const Tensor& src, float scale) override { cpu::softmax(dst, src, scale); }

  void l2_normalize(const Tensor& dst, const Tensor& src, float eps) override { cpu::l2_normalize(dst, src, eps); }
  void rope(const Tensor& dst, const Tensor& src, const Tensor& cos, const Tensor& sin) override {
    cpu::rope(dst, src, cos, sin);
  }
  void attention(const Tensor& dst, const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const std::vector<int32_t>* key_lengths) override {
    cpu::attention(dst, q, k, v, scale, key_lengths);
  }
  void resize_bilinear(const Tensor& dst, const Tensor& src) override { cpu::resize_bilinear(dst, src); }

  void conv2d(const Tensor& dst, const Tensor& src, const Tensor& weight, const Tensor* bias,
              const Conv2dParams& params) override {
    cpu::conv2d(dst, src, weight, bias, params);
  }
  void group_norm(const Tensor& dst, const Tensor& src, int groups, const Tensor* weight, const Tensor* bias,
                  float eps, bool swish) override {
    cpu::group_norm(dst, src, groups, weight, bias, eps, swish);
  }
  void upsample_nearest(const Tensor& dst, const Tensor& src) override { cpu::upsample_nearest(dst, src); }
  void resize_area(const Tensor& dst, const Tensor& src) override { cpu::resize_area(dst, src); }

 private:
  static void copy(const char* op, const Tensor& dst, const Tensor& src) {
    cpu::require_host(op, dst);
    cpu::require_host(op, src);
    INF_CHECK(dst.dtype() == src.dtype() && dst.shape() == src.shape(), ErrorKind::invalid_argument, op,
              ": destination ", dst.describe(), " does not match source ", src.describe());
    INF_CHECK(dst.is_contiguous() && src.is_contiguous(), ErrorKind::invalid_argument, op,
              " needs contiguous tensors");
    if (dst.nbytes() > 0) std::memmove(dst.data(), src.data(), dst.nbytes());
  }
};

}  // namespace

std::unique_ptr<Backend> create_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace inf
