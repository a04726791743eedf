#include "backend/cuda/image_ops.cuh"

#include <algorithm>
#include <type_traits>

namespace inf::cuda {

ImageStrides image_strides(const Tensor& t) {
  const auto& s = t.strides();
  return ImageStrides{s[0], s[1], s[2], s[3]};
}

ChannelValues channel_values(const Tensor* t) {
  ChannelValues values;
  if (t == nullptr || !t->defined()) return values;
  values.data = device_data(*t);
  values.dtype = t->dtype();
  values.stride = t->strides()[0];
  return values;
}

dim3 plane_grid(int64_t planes, int64_t pixels_per_plane) {
  // Enough x blocks to cover a plane (capped: the kernels grid-stride), y up to CUDA's limit.
  const int64_t x = std::clamp<int64_t>((pixels_per_plane + kPlaneThreads - 1) / kPlaneThreads, 1, 4096);
  const int64_t y = std::clamp<int64_t>(planes, 1, 65535);
  return dim3(static_cast<unsigned int>(x), static_cast<unsigned int>(y));
}

namespace {

struct ImageShape {
  int64_t channels = 0, height = 0, width = 0;
};

ImageShape image_shape(const Tensor& t) { return ImageShape{t.dim(1), t.dim(2), t.dim(3)}; }

// ---- group_norm ----

// Statistics of one (batch, group): mean and inverse std of values shifted by `shift`, the
// group's first value. Shifting keeps fp32 sums of activations far from zero from losing the
// variance to cancellation; the normalise pass subtracts shift, then mean.
struct GroupStats {
  float shift, mean, inv_std;
};

constexpr int kStatsThreads = 512;

__device__ float block_sum(float value, float* scratch) {
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  __syncthreads();  // earlier readers of scratch[0] are done before it is overwritten
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  if (warp == 0) {
    value = lane < warps ? scratch[lane] : 0.0f;
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
    if (lane == 0) scratch[0] = value;
  }
  __syncthreads();
  return scratch[0];
}

// One block per (batch, group). Each warp takes whole rows (channel, y) of the group and its
// lanes walk the row, so strided views cost no per-element division.
template <typename Src>
__global__ void group_stats_kernel(GroupStats* stats, const Src* src, ImageStrides strides, ImageShape shape,
                                   int64_t groups, float eps) {
  __shared__ float scratch[32];
  const int64_t b = blockIdx.x / groups, channels_per_group = shape.channels / groups;
  const int64_t first_channel = blockIdx.x % groups * channels_per_group;
  const int64_t rows = channels_per_group * shape.height;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  const float shift = load_as_float(src, strides.offset(b, first_channel, 0, 0));
  auto row_start = [&](int64_t row) {
    return src + strides.offset(b, first_channel + row / shape.height, row % shape.height, 0);
  };

  float sum = 0.0f;
  for (int64_t row = warp; row < rows; row += warps) {
    const Src* line = row_start(row);
    for (int64_t x = lane; x < shape.width; x += 32) sum += load_as_float(line, x * strides.column) - shift;
  }
  const float count = static_cast<float>(rows * shape.width);
  const float mean = block_sum(sum, scratch) / count;
  // Second pass over the deviations rather than E[x^2] - E[x]^2: no cancellation.
  float squares = 0.0f;
  for (int64_t row = warp; row < rows; row += warps) {
    const Src* line = row_start(row);
    for (int64_t x = lane; x < shape.width; x += 32) {
      const float deviation = (load_as_float(line, x * strides.column) - shift) - mean;
      squares += deviation * deviation;
    }
  }
  const float variance = block_sum(squares, scratch) / count;  // biased, like PyTorch
  if (threadIdx.x == 0) stats[blockIdx.x] = GroupStats{shift, mean, 1.0f / sqrtf(variance + eps)};
}

template <typename Dst, typename Src>
__global__ void group_normalize_kernel(Dst* dst, const Src* src, ImageStrides strides, ImageShape shape,
                                       const GroupStats* stats, int64_t groups, ChannelValues weight,
                                       ChannelValues bias, int64_t planes, bool swish) {
  const int64_t pixels = shape.height * shape.width;
  for (int64_t plane = blockIdx.y; plane < planes; plane += gridDim.y) {
    const int64_t b = plane / shape.channels, c = plane % shape.channels;
    const GroupStats group = stats[b * groups + c / (shape.channels / groups)];
    const float scale = group.inv_std * weight.load(c, 1.0f), offset = bias.load(c, 0.0f);
    for (int64_t pixel = first_pixel(); pixel < pixels; pixel += pixel_step()) {
      const int64_t y = pixel / shape.width, x = pixel - y * shape.width;
      float value = ((load_as_float(src, strides.offset(b, c, y, x)) - group.shift) - group.mean) * scale + offset;
      if (swish) value = value / (1.0f + expf(-value));
      store_from_float(dst, plane * pixels + pixel, value);
    }
  }
}

// ---- resampling ----

template <typename Dst, typename Src>
__global__ void upsample_nearest_kernel(Dst* dst, const Src* src, ImageStrides strides, ImageShape in,
                                        ImageShape out, int64_t planes) {
  const int64_t pixels = out.height * out.width;
  const int64_t factor_h = out.height / in.height, factor_w = out.width / in.width;
  for (int64_t plane = blockIdx.y; plane < planes; plane += gridDim.y) {
    const int64_t b = plane / out.channels, c = plane % out.channels;
    for (int64_t pixel = first_pixel(); pixel < pixels; pixel += pixel_step()) {
      const int64_t y = pixel / out.width, x = pixel - y * out.width;
      store_from_float(dst, plane * pixels + pixel,
                       load_as_float(src, strides.offset(b, c, y / factor_h, x / factor_w)));
    }
  }
}

// One thread per output cell. Windows are at most a few thousand pixels in the quantizer (a
// 64x64 latent down to 1x1); the sum is kept in double so even a whole 1024x1024 plane
// averages to within fp32 rounding.
template <typename Dst, typename Src>
__global__ void resize_area_kernel(Dst* dst, const Src* src, ImageStrides strides, ImageShape in, ImageShape out,
                                   int64_t planes) {
  const int64_t pixels = out.height * out.width;
  for (int64_t plane = blockIdx.y; plane < planes; plane += gridDim.y) {
    const int64_t b = plane / out.channels, c = plane % out.channels;
    for (int64_t pixel = first_pixel(); pixel < pixels; pixel += pixel_step()) {
      const int64_t i = pixel / out.width, j = pixel - i * out.width;
      const int64_t y_begin = i * in.height / out.height, y_end = ((i + 1) * in.height + out.height - 1) / out.height;
      const int64_t x_begin = j * in.width / out.width, x_end = ((j + 1) * in.width + out.width - 1) / out.width;
      double sum = 0.0;
      for (int64_t y = y_begin; y < y_end; ++y)
        for (int64_t x = x_begin; x < x_end; ++x) sum += load_as_float(src, strides.offset(b, c, y, x));
      store_from_float(dst, plane * pixels + pixel,
                       static_cast<float>(sum / static_cast<double>((y_end - y_begin) * (x_end - x_begin))));
    }
  }
}

template <typename T>
T* typed(const Tensor& tensor) {
  return static_cast<T*>(device_data(tensor));
}

// The one dtype switch of these ops: dst and src dtypes, handed to `launch` as typed pointers.
template <typename Launch>
void dispatch_dst_src(const Tensor& dst, const Tensor& src, Launch&& launch) {
  dispatch_float_dtype(dst.dtype(), [&](auto dst_tag) {
    using Dst = typename decltype(dst_tag)::type;
    dispatch_float_dtype(src.dtype(), [&](auto src_tag) {
      using Src = typename decltype(src_tag)::type;
      launch(typed<Dst>(dst), typed<const Src>(src));
    });
  });
}

template <typename Pointer>
using element_of = std::remove_const_t<std::remove_pointer_t<Pointer>>;

}  // namespace

void launch_group_norm(DeviceMemoryPool& pool, const Tensor& dst, const Tensor& src, int groups, const Tensor* weight,
                       const Tensor* bias, float eps, bool swish) {
  if (dst.numel() == 0) return;
  const cudaStream_t stream = pool.stream();
  const int64_t batch = src.dim(0), planes = batch * src.dim(1);
  const ImageShape shape = image_shape(src);
  const ImageStrides strides = image_strides(src);
  const std::shared_ptr<Buffer> stats_buffer = pool.allocate(static_cast<size_t>(batch * groups) * sizeof(GroupStats));
  auto* stats = static_cast<GroupStats*>(stats_buffer->data());  // [B, groups]
  dispatch_float_dtype(src.dtype(), [&](auto src_tag) {
    using Src = typename decltype(src_tag)::type;
    group_stats_kernel<Src><<<static_cast<unsigned int>(batch * groups), kStatsThreads, 0, stream>>>(
        stats, typed<const Src>(src), strides, shape, groups, eps);
    check_launch("group_stats_kernel");
  });
  dispatch_dst_src(dst, src, [&](auto* out, const auto* in) {
    group_normalize_kernel<element_of<decltype(out)>, element_of<decltype(in)>>
        <<<plane_grid(planes, shape.height * shape.width), kPlaneThreads, 0, stream>>>(
            out, in, strides, shape, stats, groups, channel_values(weight), channel_values(bias), planes, swish);
    check_launch("group_normalize_kernel");
  });
}

void launch_upsample_nearest(cudaStream_t stream, const Tensor& dst, const Tensor& src) {
  if (dst.numel() == 0) return;
  const int64_t planes = dst.dim(0) * dst.dim(1);
  dispatch_dst_src(dst, src, [&](auto* out, const auto* in) {
    upsample_nearest_kernel<element_of<decltype(out)>, element_of<decltype(in)>>
        <<<plane_grid(planes, dst.dim(2) * dst.dim(3)), kPlaneThreads, 0, stream>>>(
            out, in, image_strides(src), image_shape(src), image_shape(dst), planes);
    check_launch("upsample_nearest_kernel");
  });
}

void launch_resize_area(cudaStream_t stream, const Tensor& dst, const Tensor& src) {
  if (dst.numel() == 0) return;
  const int64_t planes = dst.dim(0) * dst.dim(1);
  dispatch_dst_src(dst, src, [&](auto* out, const auto* in) {
    resize_area_kernel<element_of<decltype(out)>, element_of<decltype(in)>>
        <<<plane_grid(planes, dst.dim(2) * dst.dim(3)), kPlaneThreads, 0, stream>>>(
            out, in, image_strides(src), image_shape(src), image_shape(dst), planes);
    check_launch("resize_area_kernel");
  });
}

}  // namespace inf::cuda
