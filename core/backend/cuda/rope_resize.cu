#include "backend/cuda/rope_resize.cuh"

#include <type_traits>

namespace inf::cuda {
namespace {

// Element strides of a 4-D view, so kernels index (i0, i1, i2, i3) without div/mod walks.
struct Strides4 {
  int64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;

  __host__ __device__ __forceinline__ int64_t offset(int64_t i0, int64_t i1, int64_t i2, int64_t i3) const {
    return i0 * s0 + i1 * s1 + i2 * s2 + i3 * s3;
  }
};

Strides4 strides4(const Tensor& t) {
  const auto& s = t.strides();
  return Strides4{s[0], s[1], s[2], s[3]};
}

// A [L, hd/2] angle table read with its run-time dtype (f32 in practice), so the kernel is
// instantiated only for the dst and src dtypes.
struct AngleTable {
  const void* data = nullptr;
  DType dtype = DType::f32;
  int64_t row_stride = 0, col_stride = 0;

  __device__ __forceinline__ float load(int64_t l, int64_t p) const {
    return load_any_float(data, dtype, l * row_stride + p * col_stride);
  }
};

AngleTable angle_table(const Tensor& t) {
  return AngleTable{device_data(t), t.dtype(), t.strides()[0], t.strides()[1]};
}

__device__ __forceinline__ int64_t first_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() { return static_cast<int64_t>(blockDim.x) * gridDim.x; }

// One thread per rotary pair; pair i of the contiguous dst is elements 2i and 2i + 1.
template <typename Dst, typename Src>
__global__ void rope_kernel(Dst* dst, const Src* src, Strides4 src_strides, AngleTable cos_table,
                            AngleTable sin_table, int64_t length, int64_t heads, int64_t pairs, int64_t pair_count) {
  for (int64_t i = first_index(); i < pair_count; i += grid_stride()) {
    const int64_t p = i % pairs;
    const int64_t head_index = i / pairs;  // (b * L + l) * H + h
    const int64_t h = head_index % heads;
    const int64_t position = head_index / heads;
    const int64_t l = position % length, b = position / length;
    const float c = cos_table.load(l, p), s = sin_table.load(l, p);
    const float x0 = load_as_float(src, src_strides.offset(b, l, h, 2 * p));
    const float x1 = load_as_float(src, src_strides.offset(b, l, h, 2 * p + 1));
    store_from_float(dst, 2 * i, c * x0 - s * x1);
    store_from_float(dst, 2 * i + 1, s * x0 + c * x1);
  }
}

// Source taps of output index `o` along one axis. The coordinate is rounded like the CPU
// reference's (and PyTorch's) float expression: __fmul_rn/__fadd_rn keep nvcc from fusing it
// into an FMA, which could move a coordinate that lands on a pixel across the floor().
struct Taps {
  int64_t low, high;
  float high_weight;
};

__device__ __forceinline__ Taps resize_taps(int64_t o, float ratio, int64_t in_size) {
  const float source = fmaxf(__fadd_rn(__fmul_rn(static_cast<float>(o) + 0.5f, ratio), -0.5f), 0.0f);
  const int64_t low = min(static_cast<int64_t>(source), in_size - 1);
  return Taps{low, min(low + 1, in_size - 1), source - static_cast<float>(low)};
}

struct ResizeGeometry {
  int64_t channels, in_h, in_w, out_h, out_w;
  float ratio_h, ratio_w;  // in / out
};

// One thread per output pixel of the contiguous [B, C, H', W'] dst.
template <typename Dst, typename Src>
__global__ void resize_bilinear_kernel(Dst* dst, const Src* src, Strides4 src_strides, ResizeGeometry g,
                                       int64_t count) {
  for (int64_t i = first_index(); i < count; i += grid_stride()) {
    const int64_t x = i % g.out_w;
    const int64_t y = (i / g.out_w) % g.out_h;
    const int64_t plane = i / (g.out_w * g.out_h);
    const int64_t b = plane / g.channels, c = plane % g.channels;
    const Taps row = resize_taps(y, g.ratio_h, g.in_h);
    const Taps col = resize_taps(x, g.ratio_w, g.in_w);
    auto pixel = [&](int64_t r, int64_t q) { return load_as_float(src, src_strides.offset(b, c, r, q)); };
    const float top = (1.0f - col.high_weight) * pixel(row.low, col.low) + col.high_weight * pixel(row.low, col.high);
    const float bottom =
        (1.0f - col.high_weight) * pixel(row.high, col.low) + col.high_weight * pixel(row.high, col.high);
    store_from_float(dst, i, (1.0f - row.high_weight) * top + row.high_weight * bottom);
  }
}

template <typename T>
T* typed(const Tensor& tensor) {
  return static_cast<T*>(device_data(tensor));
}

// Dispatches dst and src dtypes and hands the typed pointers to `launch`.
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

}  // namespace

void launch_rope(cudaStream_t stream, const Tensor& dst, const Tensor& src, const Tensor& cos, const Tensor& sin) {
  const int64_t pair_count = dst.numel() / 2;
  if (pair_count == 0) return;
  const Strides4 src_strides = strides4(src);
  const AngleTable cos_table = angle_table(cos), sin_table = angle_table(sin);
  const int64_t length = src.dim(1), heads = src.dim(2), pairs = src.dim(3) / 2;
  dispatch_dst_src(dst, src, [&](auto* out, const auto* in) {
    using Dst = std::remove_pointer_t<decltype(out)>;
    using Src = std::remove_const_t<std::remove_pointer_t<decltype(in)>>;
    rope_kernel<Dst, Src><<<grid_for(pair_count), kElementwiseThreads, 0, stream>>>(
        out, in, src_strides, cos_table, sin_table, length, heads, pairs, pair_count);
    check_launch("rope_kernel");
  });
}

void launch_resize_bilinear(cudaStream_t stream, const Tensor& dst, const Tensor& src) {
  const int64_t count = dst.numel();
  if (count == 0) return;
  ResizeGeometry geometry{};
  geometry.channels = dst.dim(1);
  geometry.in_h = src.dim(2);
  geometry.in_w = src.dim(3);
  geometry.out_h = dst.dim(2);
  geometry.out_w = dst.dim(3);
  geometry.ratio_h = static_cast<float>(geometry.in_h) / static_cast<float>(geometry.out_h);
  geometry.ratio_w = static_cast<float>(geometry.in_w) / static_cast<float>(geometry.out_w);
  const Strides4 src_strides = strides4(src);
  dispatch_dst_src(dst, src, [&](auto* out, const auto* in) {
    using Dst = std::remove_pointer_t<decltype(out)>;
    using Src = std::remove_const_t<std::remove_pointer_t<decltype(in)>>;
    resize_bilinear_kernel<Dst, Src><<<grid_for(count), kElementwiseThreads, 0, stream>>>(out, in, src_strides,
                                                                                          geometry, count);
    check_launch("resize_bilinear_kernel");
  });
}

}  // namespace inf::cuda
