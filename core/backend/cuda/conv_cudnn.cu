#include "backend/cuda/conv_cudnn.cuh"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <functional>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "backend/cuda/elementwise.cuh"
#include "backend/cuda/image_ops.cuh"

namespace inf::cuda {

void cudnn_check(cudnnStatus_t status, const char* what, const char* file, int line) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  // cuDNN 9 groups its codes by thousands: 3xxx = not supported (shape, dtype, arch...).
  const ErrorKind kind = status == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED ||
                                 status == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED
                             ? ErrorKind::out_of_memory
                         : static_cast<int>(status) / 1000 == 3 ? ErrorKind::unsupported
                                                                 : ErrorKind::internal;
  char detail[512] = {};
  cudnnGetLastErrorString(detail, sizeof(detail));
  fail(kind, "cuda: ", what, " failed at ", source_basename(file), ":", line, ": ", cudnnGetErrorString(status),
       detail[0] != '\0' ? " (" : "", detail, detail[0] != '\0' ? ")" : "");
}

namespace {

void report_cudnn_in_destructor(cudnnStatus_t status, const char* what) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  std::fprintf(stderr, "infinode: cuda: %s failed in a destructor: %s\n", what, cudnnGetErrorString(status));
}

cudnnDataType_t cudnn_data_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return CUDNN_DATA_FLOAT;
    case DType::bf16: return CUDNN_DATA_BFLOAT16;
    case DType::f16: return CUDNN_DATA_HALF;
    default: fail(ErrorKind::internal, "cuda conv2d: no cuDNN type for ", dtype_name(dtype));
  }
}

bool aligned_16(const Tensor& t) { return reinterpret_cast<uintptr_t>(device_data(t)) % 16 == 0; }

// cuDNN's legacy descriptors take int dims and strides.
int as_int(int64_t value, const char* what) {
  INF_CHECK(value >= 0 && value <= INT_MAX, ErrorKind::unsupported, "cuda conv2d: ", what, " (", value,
            ") exceeds cuDNN's int range; split the batch");
  return static_cast<int>(value);
}

// Zeros added around the input before cuDNN sees it: the asymmetric part of the padding.
struct ExtraPadding {
  int64_t top = 0, bottom = 0, left = 0, right = 0;
  bool any() const { return top > 0 || bottom > 0 || left > 0 || right > 0; }
};

// dst [B, C, top + H + bottom, left + W + right] (contiguous) = src surrounded by zeros,
// converted to dst's dtype.
template <typename Dst, typename Src>
__global__ void stage_input_kernel(Dst* dst, const Src* src, ImageStrides strides, int64_t channels, int64_t in_h,
                                   int64_t in_w, ExtraPadding pad, int64_t planes) {
  const int64_t out_w = pad.left + in_w + pad.right;
  const int64_t pixels = (pad.top + in_h + pad.bottom) * out_w;
  for (int64_t plane = blockIdx.y; plane < planes; plane += gridDim.y) {
    const int64_t b = plane / channels, c = plane % channels;
    for (int64_t pixel = first_pixel(); pixel < pixels; pixel += pixel_step()) {
      const int64_t y = pixel / out_w - pad.top, x = pixel % out_w - pad.left;
      const bool inside = y >= 0 && y < in_h && x >= 0 && x < in_w;
      store_from_float(dst, plane * pixels + pixel, inside ? load_as_float(src, strides.offset(b, c, y, x)) : 0.0f);
    }
  }
}

// dst = conv result + bias[channel] (bias optional), converting from the conv's dtype. `result`
// may be dst itself (in place).
template <typename Dst, typename Result>
__global__ void add_bias_kernel(Dst* dst, const Result* result, ChannelValues bias, int64_t channels, int64_t pixels,
                                int64_t planes) {
  for (int64_t plane = blockIdx.y; plane < planes; plane += gridDim.y) {
    const float shift = bias.load(plane % channels, 0.0f);
    for (int64_t pixel = first_pixel(); pixel < pixels; pixel += pixel_step()) {
      const int64_t i = plane * pixels + pixel;
      store_from_float(dst, i, load_as_float(result, i) + shift);
    }
  }
}

// The one dtype switch: dst and src dtypes, handed to `launch` as typed pointers.
template <typename Launch>
void dispatch_dst_src(const Tensor& dst, const Tensor& src, Launch&& launch) {
  dispatch_float_dtype(dst.dtype(), [&](auto dst_tag) {
    using Dst = typename decltype(dst_tag)::type;
    dispatch_float_dtype(src.dtype(), [&](auto src_tag) {
      using Src = typename decltype(src_tag)::type;
      launch(static_cast<Dst*>(device_data(dst)), static_cast<const Src*>(device_data(src)));
    });
  });
}

template <typename Pointer>
using element_of = std::remove_const_t<std::remove_pointer_t<Pointer>>;

// The input as cuDNN will read it: src itself when it already is contiguous, aligned and of the
// compute dtype with symmetric padding, else a padded, converted copy.
Tensor staged_input(DeviceMemoryPool& pool, const Tensor& src, DType compute, const ExtraPadding& pad) {
  if (src.dtype() == compute && src.is_contiguous() && aligned_16(src) && !pad.any()) return src;
  const int64_t channels = src.dim(1), in_h = src.dim(2), in_w = src.dim(3);
  Tensor staged = pool.alloc_tensor(compute, {src.dim(0), channels, pad.top + in_h + pad.bottom,
                                              pad.left + in_w + pad.right});  // [B, Cin, H', W']
  if (staged.numel() == 0) return staged;
  const int64_t planes = src.dim(0) * channels;
  dispatch_dst_src(staged, src, [&](auto* out, const auto* in) {
    stage_input_kernel<element_of<decltype(out)>, element_of<decltype(in)>>
        <<<plane_grid(planes, staged.dim(2) * staged.dim(3)), kPlaneThreads, 0, pool.stream()>>>(
            out, in, image_strides(src), channels, in_h, in_w, pad, planes);
    check_launch("stage_input_kernel");
  });
  return staged;
}

}  // namespace

// ---- plans ----

struct CudnnConv::Plan {
  cudnnTensorDescriptor_t input = nullptr, output = nullptr;
  cudnnFilterDescriptor_t filter = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnConvolutionFwdAlgo_t algorithm = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  size_t workspace_bytes = 0;
  int out_h = 0, out_w = 0;

  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() {
    if (conv) report_cudnn_in_destructor(cudnnDestroyConvolutionDescriptor(conv), "cudnnDestroyConvolutionDescriptor");
    if (filter) report_cudnn_in_destructor(cudnnDestroyFilterDescriptor(filter), "cudnnDestroyFilterDescriptor");
    if (output) report_cudnn_in_destructor(cudnnDestroyTensorDescriptor(output), "cudnnDestroyTensorDescriptor");
    if (input) report_cudnn_in_destructor(cudnnDestroyTensorDescriptor(input), "cudnnDestroyTensorDescriptor");
  }
};

bool CudnnConv::PlanKey::operator==(const PlanKey& o) const {
  return std::tie(batch, in_channels, in_h, in_w, out_channels, kernel_h, kernel_w, stride, pad_h, pad_w, data_type) ==
         std::tie(o.batch, o.in_channels, o.in_h, o.in_w, o.out_channels, o.kernel_h, o.kernel_w, o.stride, o.pad_h,
                  o.pad_w, o.data_type);
}

size_t CudnnConv::PlanKeyHash::operator()(const PlanKey& k) const {
  size_t seed = 0;
  auto mix = [&seed](int64_t value) {
    seed ^= std::hash<int64_t>{}(value) + 0x9e3779b97f4a7c15ull + (seed << 6) + (seed >> 2);
  };
  for (int64_t v : {k.batch, k.in_channels, k.in_h, k.in_w, k.out_channels, k.kernel_h, k.kernel_w, k.stride, k.pad_h,
                    k.pad_w, static_cast<int64_t>(k.data_type)})
    mix(v);
  return seed;
}

CudnnConv::CudnnConv(DeviceMemoryPool& pool) : pool_(pool) {
  make_current(pool_.device());
  const cudnnStatus_t status = cudnnCreate(&handle_);
  INF_CHECK(status == CUDNN_STATUS_SUCCESS, ErrorKind::unsupported, "cuda conv2d: cuDNN did not start (",
            cudnnGetErrorString(status), "); is libcudnn 9 with its sub-libraries on the library path?");
  cudnn_check(cudnnSetStream(handle_, pool_.stream()), "cudnnSetStream");
}

CudnnConv::~CudnnConv() {
  plans_.clear();
  if (handle_) report_cudnn_in_destructor(cudnnDestroy(handle_), "cudnnDestroy");
}

CudnnConv::Plan& CudnnConv::plan_for(const PlanKey& key) {
  const auto found = plans_.find(key);
  if (found != plans_.end()) return *found->second;
  auto plan = std::make_unique<Plan>();
  const auto type = static_cast<cudnnDataType_t>(key.data_type);
  cudnn_check(cudnnCreateTensorDescriptor(&plan->input), "cudnnCreateTensorDescriptor");
  cudnn_check(cudnnCreateTensorDescriptor(&plan->output), "cudnnCreateTensorDescriptor");
  cudnn_check(cudnnCreateFilterDescriptor(&plan->filter), "cudnnCreateFilterDescriptor");
  cudnn_check(cudnnCreateConvolutionDescriptor(&plan->conv), "cudnnCreateConvolutionDescriptor");
  cudnn_check(cudnnSetTensor4dDescriptor(plan->input, CUDNN_TENSOR_NCHW, type, as_int(key.batch, "batch"),
                                         as_int(key.in_channels, "input channels"), as_int(key.in_h, "input height"),
                                         as_int(key.in_w, "input width")),
              "cudnnSetTensor4dDescriptor (input)");
  cudnn_check(cudnnSetFilter4dDescriptor(plan->filter, type, CUDNN_TENSOR_NCHW, as_int(key.out_channels, "output channels"),
                                         as_int(key.in_channels, "input channels"), as_int(key.kernel_h, "kernel height"),
                                         as_int(key.kernel_w, "kernel width")),
              "cudnnSetFilter4dDescriptor");
  // Cross-correlation (no kernel flip) is what PyTorch's Conv2d computes; fp32 accumulation always.
  cudnn_check(cudnnSetConvolution2dDescriptor(plan->conv, as_int(key.pad_h, "padding"), as_int(key.pad_w, "padding"),
                                              as_int(key.stride, "stride"), as_int(key.stride, "stride"), 1, 1,
                                              CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
              "cudnnSetConvolution2dDescriptor");
  // f32: plain FMA kernels (the default would allow TF32 on Hopper, 10-bit mantissas).
  const bool fp32 = type == CUDNN_DATA_FLOAT;
  cudnn_check(cudnnSetConvolutionMathType(plan->conv, fp32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH),
              "cudnnSetConvolutionMathType");
  int n = 0, c = 0, h = 0, w = 0;
  cudnn_check(cudnnGetConvolution2dForwardOutputDim(plan->conv, plan->input, plan->filter, &n, &c, &h, &w),
              "cudnnGetConvolution2dForwardOutputDim");
  plan->out_h = h;
  plan->out_w = w;
  cudnn_check(cudnnSetTensor4dDescriptor(plan->output, CUDNN_TENSOR_NCHW, type, n, c, h, w),
              "cudnnSetTensor4dDescriptor (output)");

  int max_count = 0;
  cudnn_check(cudnnGetConvolutionForwardAlgorithmMaxCount(handle_, &max_count),
              "cudnnGetConvolutionForwardAlgorithmMaxCount");
  std::vector<cudnnConvolutionFwdAlgoPerf_t> candidates(static_cast<size_t>(std::max(max_count, 1)));
  int returned = 0;
  cudnn_check(cudnnGetConvolutionForwardAlgorithm_v7(handle_, plan->input, plan->filter, plan->conv, plan->output,
                                                     static_cast<int>(candidates.size()), &returned, candidates.data()),
              "cudnnGetConvolutionForwardAlgorithm_v7");
  // Candidates come best first. The heuristic may list tensor-core variants whatever the
  // descriptor says, so f32 keeps to FMA ones.
  const auto chosen = std::find_if(candidates.begin(), candidates.begin() + returned, [&](const auto& candidate) {
    return candidate.status == CUDNN_STATUS_SUCCESS && candidate.memory <= kMaxConvWorkspaceBytes &&
           (!fp32 || candidate.mathType == CUDNN_FMA_MATH);
  });
  INF_CHECK(chosen != candidates.begin() + returned, ErrorKind::unsupported, "cuda conv2d: cuDNN offers no ",
            fp32 ? "fp32 (non-TF32) " : "", "algorithm within ", kMaxConvWorkspaceBytes >> 20,
            " MiB of workspace for input [", key.batch, ", ", key.in_channels, ", ", key.in_h, ", ", key.in_w,
            "], kernel [", key.out_channels, ", ", key.in_channels, ", ", key.kernel_h, ", ", key.kernel_w,
            "], stride ", key.stride);
  // cuDNN decides tensor cores by (algorithm, math type) together, so the descriptor takes the
  // candidate's math type.
  cudnn_check(cudnnSetConvolutionMathType(plan->conv, chosen->mathType), "cudnnSetConvolutionMathType");
  plan->algorithm = chosen->algo;
  cudnn_check(cudnnGetConvolutionForwardWorkspaceSize(handle_, plan->input, plan->filter, plan->conv, plan->output,
                                                      plan->algorithm, &plan->workspace_bytes),
              "cudnnGetConvolutionForwardWorkspaceSize");
  return *plans_.emplace(key, std::move(plan)).first->second;
}

void* CudnnConv::workspace(size_t bytes) {
  if (bytes == 0) return nullptr;
  if (bytes > workspace_bytes_) {
    // The old buffer goes back to the pool in stream order, after the convs queued on it.
    workspace_ = pool_.allocate(bytes);
    workspace_bytes_ = bytes;
  }
  return workspace_->data();
}

void CudnnConv::conv2d(const Tensor& dst, const Tensor& src, const Tensor& weight, const Tensor* bias,
                       const Conv2dParams& params) {
  if (dst.numel() == 0) return;
  const cudaStream_t stream = pool_.stream();
  const DType compute = src.dtype() == dst.dtype() && weight.dtype() == dst.dtype() ? dst.dtype() : DType::f32;
  const int64_t pad_h = std::min(params.pad_top, params.pad_bottom);
  const int64_t pad_w = std::min(params.pad_left, params.pad_right);
  const ExtraPadding extra{params.pad_top - pad_h, params.pad_bottom - pad_h, params.pad_left - pad_w,
                           params.pad_right - pad_w};

  const bool direct_output = dst.dtype() == compute && aligned_16(dst);
  const Tensor result = direct_output ? dst : pool_.alloc_tensor(compute, dst.shape());  // [B, Cout, Ho, Wo]
  if (src.dim(1) == 0) {
    // No input channels: the conv is empty and the output is just the bias (cuDNN rejects 0 dims).
    cuda_check(cudaMemsetAsync(device_data(result), 0, result.nbytes(), stream), "cudaMemsetAsync (conv2d)");
  } else {
    const Tensor input = staged_input(pool_, src, compute, extra);  // [B, Cin, H', W'] contiguous
    Tensor filter = weight;
    if (weight.dtype() != compute || !weight.is_contiguous() || !aligned_16(weight)) {
      filter = pool_.alloc_tensor(compute, weight.shape());  // [Cout, Cin, kh, kw]
      launch_convert(stream, filter, weight);
    }
    PlanKey key;
    key.batch = input.dim(0);
    key.in_channels = input.dim(1);
    key.in_h = input.dim(2);
    key.in_w = input.dim(3);
    key.out_channels = weight.dim(0);
    key.kernel_h = weight.dim(2);
    key.kernel_w = weight.dim(3);
    key.stride = params.stride;
    key.pad_h = pad_h;
    key.pad_w = pad_w;
    key.data_type = static_cast<int32_t>(cudnn_data_type(compute));
    as_int(input.numel(), "input elements");
    as_int(result.numel(), "output elements");
    const Plan& plan = plan_for(key);
    INF_CHECK(plan.out_h == dst.dim(2) && plan.out_w == dst.dim(3), ErrorKind::internal, "cuda conv2d: cuDNN computes a ",
              plan.out_h, "x", plan.out_w, " output for dst ", dst.describe());
    const float alpha = 1.0f, beta = 0.0f;  // fp32 scaling factors for every data type here
    cudnn_check(cudnnConvolutionForward(handle_, &alpha, plan.input, device_data(input), plan.filter,
                                        device_data(filter), plan.conv, plan.algorithm,
                                        workspace(plan.workspace_bytes), plan.workspace_bytes, &beta, plan.output,
                                        device_data(result)),
                "cudnnConvolutionForward");
  }
  if (direct_output && bias == nullptr) return;
  const int64_t planes = dst.dim(0) * dst.dim(1), pixels = dst.dim(2) * dst.dim(3);
  dispatch_dst_src(dst, result, [&](auto* out, const auto* in) {
    add_bias_kernel<element_of<decltype(out)>, element_of<decltype(in)>>
        <<<plane_grid(planes, pixels), kPlaneThreads, 0, stream>>>(out, in, channel_values(bias), dst.dim(1),
                                                                    pixels, planes);
    check_launch("add_bias_kernel");
  });
}

}  // namespace inf::cuda
