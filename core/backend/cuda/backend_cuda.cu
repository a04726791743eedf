// CudaBackend: the Backend interface on one CUDA device. It validates arguments like the CPU
// reference (same rules, inf::Error(invalid_argument) naming the op and the shapes), then
// enqueues kernels and cuBLASLt calls on one non-blocking stream. Nothing here synchronises
// except synchronize() and download() from pageable memory (which CUDA makes synchronous).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "backend/cuda/attention.cuh"
#include "backend/cuda/common.cuh"
#include "backend/cuda/conv_cudnn.cuh"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/elementwise.cuh"
#include "backend/cuda/gemm_cublaslt.cuh"
#include "backend/cuda/image_ops.cuh"
#include "backend/cuda/memory_pool.cuh"
#include "backend/cuda/norm.cuh"
#include "backend/cuda/rope_resize.cuh"

namespace inf {
namespace cuda {
namespace {

// An empty kernel: whether CUDA can find it tells if this binary has code for the device.
__global__ void probe_kernel() {}

std::string gib_string(size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return text;
}

// Visible device count, or an explanation of why there is none.
int device_count(std::string& reason) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();  // do not leave the error for the next unrelated check
    reason = cudaGetErrorString(status);
    return 0;
  }
  if (count == 0) reason = "no CUDA device visible";
  return count;
}

const char* unary_label(UnaryOp op) {
  switch (op) {
    case UnaryOp::gelu_tanh:
    case UnaryOp::silu:
    case UnaryOp::neg:
    case UnaryOp::exp: return unary_op_name(op);
  }
  fail(ErrorKind::invalid_argument, "cuda unary: unknown op ", static_cast<int>(op));
}

const char* binary_label(BinaryOp op) {
  switch (op) {
    case BinaryOp::add:
    case BinaryOp::sub:
    case BinaryOp::mul: return binary_op_name(op);
  }
  fail(ErrorKind::invalid_argument, "cuda binary: unknown op ", static_cast<int>(op));
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device)
      : device_index_(device),
        stream_(std::make_shared<CudaStream>(device)),
        pool_(device, stream_),
        gemm_(std::make_unique<CublasLtGemm>(pool_)) {}

  ~CudaBackend() override {
    // Finish queued work before the cuBLASLt handle and plans go; buffers still referenced by
    // tensors free themselves later through the shared stream.
    if (stream_) report_cuda_error_in_destructor(cudaStreamSynchronize(stream_->get()), "cudaStreamSynchronize");
    conv_.reset();
    gemm_.reset();
  }

  std::string name() const override { return "cuda:" + std::to_string(device_index_); }
  Device device() const override { return Device{DeviceKind::cuda, device_index_}; }

  // ---- memory ----

  Tensor alloc(DType dtype, const Shape& shape) override {
    make_current(device_index_);
    return pool_.alloc_tensor(dtype, shape);
  }

  void upload(const Tensor& dst, const Tensor& src) override {
    check_copy("upload", dst, src, /*host=*/src, /*device_side=*/dst);
    if (src.nbytes() == 0) return;
    make_current(device_index_);
    cuda_check(cudaMemcpyAsync(device_data(dst), src.data(), src.nbytes(), cudaMemcpyHostToDevice, stream()),
               "cudaMemcpyAsync (upload)");
  }

  void download(const Tensor& dst, const Tensor& src) override {
    check_copy("download", dst, src, /*host=*/dst, /*device_side=*/src);
    INF_CHECK(!dst.buffer()->read_only(), ErrorKind::invalid_argument, "cuda download: dst ", dst.describe(),
              " is read-only");
    if (src.nbytes() == 0) return;
    make_current(device_index_);
    cuda_check(cudaMemcpyAsync(dst.data(), device_data(src), src.nbytes(), cudaMemcpyDeviceToHost, stream()),
               "cudaMemcpyAsync (download)");
  }

  void synchronize() override {
    make_current(device_index_);
    cuda_check(cudaStreamSynchronize(stream()), "cudaStreamSynchronize (a queued op failed)");
  }

  // ---- ops ----

  void convert(const Tensor& dst, const Tensor& src) override {
    const char* op = "convert";
    check_on_device(op, "dst", dst);
    check_on_device(op, "src", src);
    check_output(op, dst, src.shape());
    // Like the CPU reference: any dtype converts to a float type; integers only copy.
    INF_CHECK(dst.dtype() == src.dtype() || dtype_is_float(dst.dtype()), ErrorKind::invalid_argument,
              "cuda convert: cannot convert ", src.describe(), " to ", dst.describe(),
              " (only conversions to float types)");
    make_current(device_index_);
    cuda::launch_convert(stream(), dst, src);
  }

  void unary(UnaryOp op, const Tensor& dst, const Tensor& src) override {
    const std::string label = std::string("unary(") + unary_label(op) + ")";
    check_float_operand(label, "dst", dst);
    check_float_operand(label, "src", src);
    check_output(label, dst, src.shape());
    make_current(device_index_);
    cuda::launch_unary(stream(), op, dst, src);
  }

  void binary(BinaryOp op, const Tensor& dst, const Tensor& a, const Tensor& b) override {
    const std::string label = std::string("binary(") + binary_label(op) + ")";
    check_float_operand(label, "dst", dst);
    check_float_operand(label, "a", a);
    check_float_operand(label, "b", b);
    check_output(label, dst, a.shape());
    cuda::broadcast_strides(b, a.shape(), label.c_str());  // throws when b does not broadcast
    make_current(device_index_);
    cuda::launch_binary(stream(), op, dst, a, b);
  }

  void scale(const Tensor& dst, const Tensor& src, float alpha, float beta) override {
    check_float_operand("scale", "dst", dst);
    check_float_operand("scale", "src", src);
    check_output("scale", dst, src.shape());
    make_current(device_index_);
    cuda::launch_scale(stream(), dst, src, alpha, beta);
  }

  void matmul(const Tensor& dst, const Tensor& a, const Tensor& b, const MatmulOptions& options) override {
    const char* op = "matmul";
    check_float_operand(op, "dst", dst);
    check_float_operand(op, "a", a);
    check_float_operand(op, "b", b);
    auto mismatch = [&](const char* why) {
      fail(ErrorKind::invalid_argument, "cuda matmul: ", why, ": a ", a.describe(), ", b ", b.describe(),
           options.transpose_b ? " (transposed)" : "", ", dst ", dst.describe());
    };
    if (a.ndim() < 2) mismatch("a needs at least 2 dims");
    if (b.ndim() != 2 && b.ndim() != a.ndim()) mismatch("b must be 2-D or have a's batch dims");
    const int64_t k = a.dim(-1);
    const int64_t b_k = options.transpose_b ? b.dim(-1) : b.dim(-2);
    const int64_t n = options.transpose_b ? b.dim(-2) : b.dim(-1);
    if (b_k != k) mismatch("inner dims differ");
    if (b.ndim() > 2 && !std::equal(a.shape().begin(), a.shape().end() - 2, b.shape().begin())) {
      mismatch("batch dims differ");
    }
    Shape out_shape = a.shape();
    out_shape.back() = n;
    check_output(op, dst, out_shape);
    if (options.bias != nullptr) {
      const Tensor& bias = *options.bias;
      check_float_operand(op, "bias", bias);
      INF_CHECK(bias.ndim() == 1 && bias.dim(0) == n, ErrorKind::invalid_argument, "cuda matmul: bias ",
                bias.describe(), " must be [", n, "] for dst ", dst.describe());
    }
    make_current(device_index_);
    gemm_->matmul(dst, a, b, options);
  }

  void layer_norm(const Tensor& dst, const Tensor& src, const Tensor* weight, const Tensor* bias,
                  float eps) override {
    check_row_op("layer_norm", dst, src);
    check_channel_vector("layer_norm", "weight", weight, src);
    check_channel_vector("layer_norm", "bias", bias, src);
    make_current(device_index_);
    cuda::launch_layer_norm(stream(), dst, src, weight, bias, eps);
  }

  void rms_norm(const Tensor& dst, const Tensor& src, const Tensor* weight, float eps) override {
    check_row_op("rms_norm", dst, src);
    check_channel_vector("rms_norm", "weight", weight, src);
    make_current(device_index_);
    cuda::launch_rms_norm(stream(), dst, src, weight, eps);
  }

  void softmax(const Tensor& dst, const Tensor& src, float scale) override {
    check_row_op("softmax", dst, src);
    make_current(device_index_);
    cuda::launch_softmax(stream(), dst, src, scale);
  }

  void l2_normalize(const Tensor& dst, const Tensor& src, float eps) override {
    check_row_op("l2_normalize", dst, src);
    make_current(device_index_);
    cuda::launch_l2_normalize(stream(), dst, src, eps);
  }

  void rope(const Tensor& dst, const Tensor& src, const Tensor& cos, const Tensor& sin) override {
    const char* op = "rope";
    check_float_operand(op, "dst", dst);
    check_float_operand(op, "src", src);
    check_float_operand(op, "cos", cos);
    check_float_operand(op, "sin", sin);
    INF_CHECK(src.ndim() == 4, ErrorKind::invalid_argument, "cuda rope: src ", src.describe(),
              " should be [B, L, H, hd]");
    INF_CHECK(src.dim(3) % 2 == 0, ErrorKind::invalid_argument, "cuda rope: head dim of ", src.describe(),
              " is odd; rotary pairs need an even head dim");
    const Shape table_shape{src.dim(1), src.dim(3) / 2};
    INF_CHECK(cos.shape() == table_shape && sin.shape() == table_shape, ErrorKind::invalid_argument, "cuda rope: cos ",
              cos.describe(), " and sin ", sin.describe(), " should be ", shape_string(table_shape), " for src ",
              src.describe());
    check_output(op, dst, src.shape());
    make_current(device_index_);
    cuda::launch_rope(stream(), dst, src, cos, sin);
  }

  void attention(const Tensor& dst, const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const std::vector<int32_t>* key_lengths) override {
    const char* op = "attention";
    check_float_operand(op, "dst", dst);
    check_float_operand(op, "q", q);
    check_float_operand(op, "k", k);
    check_float_operand(op, "v", v);
    INF_CHECK(q.ndim() == 4 && k.ndim() == 4 && k.shape() == v.shape() && k.dim(0) == q.dim(0) &&
                  k.dim(2) == q.dim(2) && k.dim(3) == q.dim(3),
              ErrorKind::invalid_argument, "cuda attention: q ", q.describe(), ", k ", k.describe(), " and v ",
              v.describe(), " should be [B, Lq, H, hd], [B, Lk, H, hd] and [B, Lk, H, hd]");
    check_output(op, dst, q.shape());
    if (key_lengths != nullptr) {
      INF_CHECK(static_cast<int64_t>(key_lengths->size()) == q.dim(0), ErrorKind::invalid_argument,
                "cuda attention: ", key_lengths->size(), " key lengths for batch ", q.dim(0), " (q ", q.describe(), ")");
      for (size_t b = 0; b < key_lengths->size(); ++b) {
        const int32_t length = (*key_lengths)[b];
        INF_CHECK(length >= 0 && length <= k.dim(1), ErrorKind::invalid_argument, "cuda attention: key length ",
                  length, " of batch row ", b, " is outside [0, ", k.dim(1), "] (k ", k.describe(), ")");
      }
    }
    make_current(device_index_);
    cuda::launch_attention(stream(), dst, q, k, v, scale, key_lengths);
  }

  void resize_bilinear(const Tensor& dst, const Tensor& src) override {
    const char* op = "resize_bilinear";
    check_float_operand(op, "dst", dst);
    check_float_operand(op, "src", src);
    INF_CHECK(src.ndim() == 4 && dst.ndim() == 4 && src.dim(0) == dst.dim(0) && src.dim(1) == dst.dim(1),
              ErrorKind::invalid_argument, "cuda resize_bilinear: src ", src.describe(), " and dst ", dst.describe(),
              " should be [B, C, H, W] and [B, C, H', W'] with the same B and C");
    check_output(op, dst, dst.shape());
    INF_CHECK(dst.numel() == 0 || (src.dim(2) > 0 && src.dim(3) > 0), ErrorKind::invalid_argument,
              "cuda resize_bilinear: cannot resize the empty image ", src.describe(), " to ", dst.describe());
    make_current(device_index_);
    cuda::launch_resize_bilinear(stream(), dst, src);
  }

  void conv2d(const Tensor& dst, const Tensor& src, const Tensor& weight, const Tensor* bias,
              const Conv2dParams& params) override {
    const char* op = "conv2d";
    check_float_operand(op, "dst", dst);
    check_float_operand(op, "src", src);
    check_float_operand(op, "weight", weight);
    INF_CHECK(src.ndim() == 4 && weight.ndim() == 4 && weight.dim(1) == src.dim(1), ErrorKind::invalid_argument,
              "cuda conv2d: src ", src.describe(), " and weight ", weight.describe(),
              " should be [B, Cin, H, W] and [Cout, Cin, kh, kw] with the same Cin");
    INF_CHECK(params.stride >= 1 && params.pad_top >= 0 && params.pad_bottom >= 0 && params.pad_left >= 0 &&
                  params.pad_right >= 0,
              ErrorKind::invalid_argument, "cuda conv2d: stride ", params.stride, " must be >= 1 and paddings (",
              params.pad_top, ", ", params.pad_bottom, ", ", params.pad_left, ", ", params.pad_right, ") >= 0");
    const int64_t padded_h = src.dim(2) + params.pad_top + params.pad_bottom;
    const int64_t padded_w = src.dim(3) + params.pad_left + params.pad_right;
    INF_CHECK(weight.dim(2) >= 1 && weight.dim(3) >= 1 && padded_h >= weight.dim(2) && padded_w >= weight.dim(3),
              ErrorKind::invalid_argument, "cuda conv2d: kernel of weight ", weight.describe(),
              " does not fit the padded input of src ", src.describe());
    check_output(op, dst,
                 {src.dim(0), weight.dim(0), (padded_h - weight.dim(2)) / params.stride + 1,
                  (padded_w - weight.dim(3)) / params.stride + 1});
    if (bias != nullptr) {
      check_float_operand(op, "bias", *bias);
      INF_CHECK(bias->ndim() == 1 && bias->dim(0) == weight.dim(0), ErrorKind::invalid_argument, "cuda conv2d: bias ",
                bias->describe(), " must be [", weight.dim(0), "] for weight ", weight.describe());
    }
    make_current(device_index_);
    // cuDNN loads several libraries on its first handle: only models with convs pay for it.
    if (!conv_) conv_ = std::make_unique<CudnnConv>(pool_);
    conv_->conv2d(dst, src, weight, bias, params);
  }

  void group_norm(const Tensor& dst, const Tensor& src, int groups, const Tensor* weight, const Tensor* bias,
                  float eps, bool swish) override {
    const char* op = "group_norm";
    check_float_operand(op, "dst", dst);
    check_float_operand(op, "src", src);
    INF_CHECK(src.ndim() == 4, ErrorKind::invalid_argument, "cuda group_norm: src ", src.describe(),
              " should be [B, C, H, W]");
    check_output(op, dst, src.shape());
    INF_CHECK(groups >= 1 && src.dim(1) % groups == 0, ErrorKind::invalid_argument, "cuda group_norm: ", src.dim(1),
              " channels of src ", src.describe(), " do not split into ", groups, " groups");
    check_channel_vector(op, "weight", weight, src.dim(1), src);
    check_channel_vector(op, "bias", bias, src.dim(1), src);
    make_current(device_index_);
    cuda::launch_group_norm(pool_, dst, src, groups, weight, bias, eps, swish);
  }

  void upsample_nearest(const Tensor& dst, const Tensor& src) override {
    check_resample("upsample_nearest", dst, src);
    INF_CHECK(dst.numel() == 0 || (dst.dim(2) % src.dim(2) == 0 && dst.dim(3) % src.dim(3) == 0),
              ErrorKind::invalid_argument, "cuda upsample_nearest: dst ", dst.describe(),
              " is not an integer multiple of src ", src.describe(), " in height and width");
    make_current(device_index_);
    cuda::launch_upsample_nearest(stream(), dst, src);
  }

  void resize_area(const Tensor& dst, const Tensor& src) override {
    check_resample("resize_area", dst, src);
    make_current(device_index_);
    cuda::launch_resize_area(stream(), dst, src);
  }

 private:
  cudaStream_t stream() const { return stream_->get(); }

  void check_on_device(const std::string& op, const char* role, const Tensor& t) const {
    INF_CHECK(t.defined(), ErrorKind::invalid_argument, "cuda ", op, ": ", role, " is an undefined tensor");
    INF_CHECK(t.device() == device(), ErrorKind::invalid_argument, "cuda ", op, ": ", role, " ", t.describe(),
              " is on ", t.device().describe(), ", not ", name());
  }

  void check_float_operand(const std::string& op, const char* role, const Tensor& t) const {
    check_on_device(op, role, t);
    INF_CHECK(dtype_is_float(t.dtype()), ErrorKind::invalid_argument, "cuda ", op, ": ", role, " ", t.describe(),
              " must be f32, bf16 or f16");
  }

  // dst must be contiguous, writable and shaped `shape`.
  void check_output(const std::string& op, const Tensor& dst, const Shape& shape) const {
    INF_CHECK(dst.shape() == shape, ErrorKind::invalid_argument, "cuda ", op, ": dst ", dst.describe(),
              " should have shape ", shape_string(shape));
    INF_CHECK(dst.is_contiguous(), ErrorKind::invalid_argument, "cuda ", op, ": dst ", dst.describe(),
              " must be contiguous");
    INF_CHECK(!dst.buffer()->read_only(), ErrorKind::invalid_argument, "cuda ", op, ": dst ", dst.describe(),
              " is read-only");
  }

  void check_row_op(const char* op, const Tensor& dst, const Tensor& src) const {
    check_float_operand(op, "dst", dst);
    check_float_operand(op, "src", src);
    INF_CHECK(src.ndim() >= 1, ErrorKind::invalid_argument, "cuda ", op, ": src ", src.describe(),
              " needs at least 1 dim");
    check_output(op, dst, src.shape());
  }

  void check_channel_vector(const char* op, const char* role, const Tensor* t, const Tensor& src) const {
    check_channel_vector(op, role, t, src.dim(-1), src);
  }

  // t (optional) must be a float [length] vector on this device.
  void check_channel_vector(const char* op, const char* role, const Tensor* t, int64_t length, const Tensor& src) const {
    if (t == nullptr) return;
    check_float_operand(op, role, *t);
    INF_CHECK(t->ndim() == 1 && t->dim(0) == length, ErrorKind::invalid_argument, "cuda ", op, ": ", role, " ",
              t->describe(), " must be [", length, "] for src ", src.describe());
  }

  // dst and src are float [B, C, *, *] images with the same B and C; dst is a contiguous output.
  void check_resample(const char* op, const Tensor& dst, const Tensor& src) const {
    check_float_operand(op, "dst", dst);
    check_float_operand(op, "src", src);
    INF_CHECK(src.ndim() == 4 && dst.ndim() == 4 && src.dim(0) == dst.dim(0) && src.dim(1) == dst.dim(1),
              ErrorKind::invalid_argument, "cuda ", op, ": src ", src.describe(), " and dst ", dst.describe(),
              " should be [B, C, H, W] and [B, C, H', W'] with the same B and C");
    check_output(op, dst, dst.shape());
    INF_CHECK(dst.numel() == 0 || (src.dim(2) > 0 && src.dim(3) > 0), ErrorKind::invalid_argument, "cuda ", op,
              ": cannot resample the empty image ", src.describe(), " to ", dst.describe());
  }

  // upload/download: one side on the host, the other on this device, same dtype and shape, both
  // contiguous (a plain byte copy).
  void check_copy(const char* op, const Tensor& dst, const Tensor& src, const Tensor& host,
                  const Tensor& device_side) const {
    INF_CHECK(dst.defined() && src.defined(), ErrorKind::invalid_argument, "cuda ", op, ": undefined tensor");
    INF_CHECK(host.device().is_cpu(), ErrorKind::invalid_argument, "cuda ", op, ": host side ", host.describe(),
              " is on ", host.device().describe());
    check_on_device(op, "device side", device_side);
    INF_CHECK(dst.dtype() == src.dtype() && dst.shape() == src.shape(), ErrorKind::invalid_argument, "cuda ", op,
              ": dst ", dst.describe(), " and src ", src.describe(), " differ");
    INF_CHECK(dst.is_contiguous() && src.is_contiguous(), ErrorKind::invalid_argument, "cuda ", op,
              ": both tensors must be contiguous (dst ", dst.describe(), ", src ", src.describe(), ")");
  }

  int device_index_;
  std::shared_ptr<CudaStream> stream_;
  DeviceMemoryPool pool_;               // declared before gemm_, which allocates from it
  std::unique_ptr<CublasLtGemm> gemm_;  // owns the cuBLASLt handle, workspace and plan cache
  std::unique_ptr<CudnnConv> conv_;     // the cuDNN handle and conv plans, created by the first conv2d
};

}  // namespace
}  // namespace cuda

// ---- entry points (cuda_backend.h) ----

bool cuda_backend_compiled() { return true; }

std::vector<BackendInfo> cuda_list_devices() {
  std::vector<BackendInfo> rows;
  try {
    std::string reason;
    const int count = cuda::device_count(reason);
    if (count == 0) {
      rows.push_back(BackendInfo{"cuda", true, false, "compiled, no device (" + reason + ")"});
      return rows;
    }
    for (int i = 0; i < count; ++i) {
      BackendInfo row{"cuda:" + std::to_string(i), true, false, ""};
      cudaDeviceProp props{};
      const cudaError_t status = cudaGetDeviceProperties(&props, i);
      if (status != cudaSuccess) {
        (void)cudaGetLastError();
        row.detail = std::string("device did not answer (") + cudaGetErrorString(status) + ")";
      } else {
        row.usable = true;
        row.detail = std::string(props.name) + ", " + cuda::gib_string(props.totalGlobalMem) + ", sm_" +
                     std::to_string(props.major) + std::to_string(props.minor);
      }
      rows.push_back(std::move(row));
    }
  } catch (const std::exception& error) {
    // Listing never throws: a broken driver is something to report, not to crash on.
    rows.clear();
    rows.push_back(BackendInfo{"cuda", true, false, std::string("compiled, no device (") + error.what() + ")"});
  }
  return rows;
}

std::unique_ptr<Backend> create_cuda_backend(int device_index) {
  std::string reason;
  const int count = cuda::device_count(reason);
  INF_CHECK(count > 0, ErrorKind::unsupported, "cuda: no device (", reason, ")");
  INF_CHECK(device_index >= 0 && device_index < count, ErrorKind::invalid_argument, "cuda: no device cuda:",
            device_index, " (", count, " visible)");
  {
    cuda::make_current(device_index);
    cudaFuncAttributes attributes{};
    const cudaError_t status = cudaFuncGetAttributes(&attributes, cuda::probe_kernel);
    if (status != cudaSuccess) {
      (void)cudaGetLastError();
      cudaDeviceProp props{};
      cuda::cuda_check(cudaGetDeviceProperties(&props, device_index), "cudaGetDeviceProperties");
      fail(ErrorKind::unsupported, "cuda:", device_index, " (", props.name, ", sm_", props.major, props.minor,
           "): this build has no kernels for it (", cudaGetErrorString(status),
           "); rebuild with CMAKE_CUDA_ARCHITECTURES including ", props.major, props.minor);
    }
  }
  return std::make_unique<cuda::CudaBackend>(device_index);
}

}  // namespace inf
