#include "backend/cuda/norm.cuh"

#include <cmath>
#include <vector>

namespace inf::cuda {
namespace {

// Where the rows of a strided [..., N] view live: row r starts at rows.offset(r) and element j
// of it is `inner_stride` elements further per step.
struct RowLayout {
  StridedIndexer rows;
  int64_t inner_stride = 1;
  int64_t row_count = 0;
  int64_t row_length = 0;
};

// An optional per-channel [N] vector (norm weight or bias) read with its run-time dtype.
struct ChannelVector {
  const void* data = nullptr;  // null: absent
  DType dtype = DType::f32;
  int64_t stride = 1;

  __device__ __forceinline__ float load(int64_t j, float absent_value) const {
    return data == nullptr ? absent_value : load_any_float(data, dtype, j * stride);
  }
};

RowLayout make_row_layout(const Tensor& src, const char* op) {
  RowLayout layout;
  const int ndim = src.ndim();
  layout.row_length = ndim == 0 ? 1 : src.shape().back();
  layout.inner_stride = ndim == 0 ? 1 : src.strides().back();
  layout.row_count = layout.row_length == 0 ? 0 : src.numel() / layout.row_length;
  if (ndim > 0) {
    const Shape outer_shape(src.shape().begin(), src.shape().end() - 1);
    const std::vector<int64_t> outer_strides(src.strides().begin(), src.strides().end() - 1);
    // Rows are indexed like elements of the outer shape; make_indexer's "offset == index"
    // shortcut is right here too (it only applies when rows are 1 element apart).
    layout.rows = make_indexer(outer_shape, outer_strides, op);
  }
  return layout;
}

ChannelVector channel_vector(const Tensor* tensor) {
  ChannelVector vector;
  if (tensor == nullptr || !tensor->defined()) return vector;
  vector.data = device_data(*tensor);
  vector.dtype = tensor->dtype();
  vector.stride = tensor->ndim() == 0 ? 0 : tensor->strides().back();
  return vector;
}

// Threads per row block: a multiple of the warp size, enough to give each thread a few elements.
int threads_for_row(int64_t row_length) {
  const int64_t rounded = ((row_length + 31) / 32) * 32;
  if (rounded < 32) return 32;
  return rounded > 512 ? 512 : static_cast<int>(rounded);
}

unsigned int grid_for_rows(int64_t row_count) {
  const int64_t cap = 1 << 20;  // rows beyond this are grid-strided
  return static_cast<unsigned int>(row_count < cap ? row_count : cap);
}

struct SumOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return a + b; }
};
struct MaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

template <typename Op>
__device__ __forceinline__ float warp_reduce(float value, Op op) {
  for (int offset = 16; offset > 0; offset >>= 1) value = op(value, __shfl_xor_sync(0xffffffffu, value, offset));
  return value;
}

// Reduces one value per thread to a value every thread of the block receives. `scratch` holds
// one float per warp. blockDim.x must be a multiple of 32 (threads_for_row guarantees it).
template <typename Op>
__device__ float block_reduce(float value, Op op, float identity, float* scratch) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int warp_count = blockDim.x >> 5;
  value = warp_reduce(value, op);
  __syncthreads();  // earlier readers of scratch[0] are done before it is overwritten
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  if (warp == 0) {
    value = lane < warp_count ? scratch[lane] : identity;
    value = warp_reduce(value, op);
    if (lane == 0) scratch[0] = value;
  }
  __syncthreads();
  return scratch[0];
}

template <typename Dst, typename Src>
__global__ void layer_norm_kernel(Dst* dst, const Src* src, RowLayout layout, ChannelVector weight,
                                  ChannelVector bias, float eps) {
  __shared__ float scratch[32];
  const int64_t n = layout.row_length;
  for (int64_t row = blockIdx.x; row < layout.row_count; row += gridDim.x) {
    const Src* in = src + layout.rows.offset(row);
    Dst* out = dst + row * n;
    // Two passes (mean, then squared deviations) rather than E[x^2] - E[x]^2: no cancellation.
    float sum = 0.0f;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) sum += load_as_float(in, j * layout.inner_stride);
    const float mean = block_reduce(sum, SumOp{}, 0.0f, scratch) / static_cast<float>(n);
    float squares = 0.0f;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      const float centered = load_as_float(in, j * layout.inner_stride) - mean;
      squares += centered * centered;
    }
    const float variance = block_reduce(squares, SumOp{}, 0.0f, scratch) / static_cast<float>(n);
    const float inv_std = 1.0f / sqrtf(variance + eps);
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      const float normalized = (load_as_float(in, j * layout.inner_stride) - mean) * inv_std;
      store_from_float(out, j, normalized * weight.load(j, 1.0f) + bias.load(j, 0.0f));
    }
  }
}

template <typename Dst, typename Src>
__global__ void rms_norm_kernel(Dst* dst, const Src* src, RowLayout layout, ChannelVector weight, float eps) {
  __shared__ float scratch[32];
  const int64_t n = layout.row_length;
  for (int64_t row = blockIdx.x; row < layout.row_count; row += gridDim.x) {
    const Src* in = src + layout.rows.offset(row);
    Dst* out = dst + row * n;
    float squares = 0.0f;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      const float x = load_as_float(in, j * layout.inner_stride);
      squares += x * x;
    }
    const float mean_square = block_reduce(squares, SumOp{}, 0.0f, scratch) / static_cast<float>(n);
    const float inv_rms = 1.0f / sqrtf(mean_square + eps);
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      store_from_float(out, j, load_as_float(in, j * layout.inner_stride) * inv_rms * weight.load(j, 1.0f));
    }
  }
}

template <typename Dst, typename Src>
__global__ void l2_normalize_kernel(Dst* dst, const Src* src, RowLayout layout, float eps) {
  __shared__ float scratch[32];
  const int64_t n = layout.row_length;
  for (int64_t row = blockIdx.x; row < layout.row_count; row += gridDim.x) {
    const Src* in = src + layout.rows.offset(row);
    Dst* out = dst + row * n;
    float squares = 0.0f;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      const float x = load_as_float(in, j * layout.inner_stride);
      squares += x * x;
    }
    // x / max(||x||, eps) like F.normalize: an all-zero row stays zero instead of NaN.
    const float norm = fmaxf(sqrtf(block_reduce(squares, SumOp{}, 0.0f, scratch)), eps);
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      store_from_float(out, j, load_as_float(in, j * layout.inner_stride) / norm);
    }
  }
}

template <typename Dst, typename Src>
__global__ void softmax_kernel(Dst* dst, const Src* src, RowLayout layout, float scale) {
  __shared__ float scratch[32];
  const int64_t n = layout.row_length;
  for (int64_t row = blockIdx.x; row < layout.row_count; row += gridDim.x) {
    const Src* in = src + layout.rows.offset(row);
    Dst* out = dst + row * n;
    float local_max = -INFINITY;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      local_max = fmaxf(local_max, load_as_float(in, j * layout.inner_stride) * scale);
    }
    const float row_max = block_reduce(local_max, MaxOp{}, -INFINITY, scratch);
    if (row_max == -INFINITY) {
      // A fully masked row gives zeros rather than NaN (exp(-inf - -inf)), as in the reference.
      for (int64_t j = threadIdx.x; j < n; j += blockDim.x) store_from_float(out, j, 0.0f);
      continue;  // uniform across the block: every thread saw the same row_max
    }
    float local_sum = 0.0f;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      local_sum += expf(load_as_float(in, j * layout.inner_stride) * scale - row_max);
    }
    const float inv_sum = 1.0f / block_reduce(local_sum, SumOp{}, 0.0f, scratch);
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      store_from_float(out, j, expf(load_as_float(in, j * layout.inner_stride) * scale - row_max) * inv_sum);
    }
  }
}

template <typename T>
T* typed(const Tensor& tensor) {
  return static_cast<T*>(device_data(tensor));
}

// Dispatches dst and src dtypes and hands the typed pointers to `launch`.
template <typename Launch>
void dispatch_row_kernel(const Tensor& dst, const Tensor& src, Launch&& launch) {
  dispatch_float_dtype(dst.dtype(), [&](auto dst_tag) {
    using Dst = typename decltype(dst_tag)::type;
    dispatch_float_dtype(src.dtype(), [&](auto src_tag) {
      using Src = typename decltype(src_tag)::type;
      launch(typed<Dst>(dst), typed<const Src>(src));
    });
  });
}

}  // namespace

void launch_layer_norm(cudaStream_t stream, const Tensor& dst, const Tensor& src, const Tensor* weight,
                       const Tensor* bias, float eps) {
  const RowLayout layout = make_row_layout(src, "layer_norm");
  if (layout.row_count == 0) return;
  const ChannelVector weight_vector = channel_vector(weight);
  const ChannelVector bias_vector = channel_vector(bias);
  const int threads = threads_for_row(layout.row_length);
  dispatch_row_kernel(dst, src, [&](auto* out, const auto* in) {
    using Dst = std::remove_pointer_t<decltype(out)>;
    using Src = std::remove_const_t<std::remove_pointer_t<decltype(in)>>;
    layer_norm_kernel<Dst, Src><<<grid_for_rows(layout.row_count), threads, 0, stream>>>(
        out, in, layout, weight_vector, bias_vector, eps);
    check_launch("layer_norm_kernel");
  });
}

void launch_rms_norm(cudaStream_t stream, const Tensor& dst, const Tensor& src, const Tensor* weight, float eps) {
  const RowLayout layout = make_row_layout(src, "rms_norm");
  if (layout.row_count == 0) return;
  const ChannelVector weight_vector = channel_vector(weight);
  const int threads = threads_for_row(layout.row_length);
  dispatch_row_kernel(dst, src, [&](auto* out, const auto* in) {
    using Dst = std::remove_pointer_t<decltype(out)>;
    using Src = std::remove_const_t<std::remove_pointer_t<decltype(in)>>;
    rms_norm_kernel<Dst, Src><<<grid_for_rows(layout.row_count), threads, 0, stream>>>(out, in, layout,
                                                                                        weight_vector, eps);
    check_launch("rms_norm_kernel");
  });
}

void launch_l2_normalize(cudaStream_t stream, const Tensor& dst, const Tensor& src, float eps) {
  const RowLayout layout = make_row_layout(src, "l2_normalize");
  if (layout.row_count == 0) return;
  const int threads = threads_for_row(layout.row_length);
  dispatch_row_kernel(dst, src, [&](auto* out, const auto* in) {
    using Dst = std::remove_pointer_t<decltype(out)>;
    using Src = std::remove_const_t<std::remove_pointer_t<decltype(in)>>;
    l2_normalize_kernel<Dst, Src><<<grid_for_rows(layout.row_count), threads, 0, stream>>>(out, in, layout, eps);
    check_launch("l2_normalize_kernel");
  });
}

void launch_softmax(cudaStream_t stream, const Tensor& dst, const Tensor& src, float scale) {
  const RowLayout layout = make_row_layout(src, "softmax");
  if (layout.row_count == 0) return;
  const int threads = threads_for_row(layout.row_length);
  dispatch_row_kernel(dst, src, [&](auto* out, const auto* in) {
    using Dst = std::remove_pointer_t<decltype(out)>;
    using Src = std::remove_const_t<std::remove_pointer_t<decltype(in)>>;
    softmax_kernel<Dst, Src><<<grid_for_rows(layout.row_count), threads, 0, stream>>>(out, in, layout, scale);
    check_launch("softmax_kernel");
  });
}

}  // namespace inf::cuda
