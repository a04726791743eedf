// Image kernels of the BSQ-VAE on [B, C, H, W] tensors: GroupNorm (+ swish), nearest upsampling
// and area resize (adaptive average pooling), plus the (plane, pixel) launch geometry and the
// 4-D strides they and the conv staging kernels share. Inputs may be strided views; dst is
// contiguous. The backend validates shapes and dtypes before calling these.
#pragma once

#include <cuda_runtime.h>

#include "backend/cuda/common.cuh"
#include "backend/cuda/memory_pool.cuh"

namespace inf::cuda {

// Element strides of a [B, C, H, W] view, so kernels index (b, c, y, x) without div/mod walks.
struct ImageStrides {
  int64_t batch = 0, channel = 0, row = 0, column = 0;

  __host__ __device__ __forceinline__ int64_t offset(int64_t b, int64_t c, int64_t y, int64_t x) const {
    return b * batch + c * channel + y * row + x * column;
  }
};

ImageStrides image_strides(const Tensor& t);

// An optional per-channel [C] vector (norm weight or bias, conv bias) read with its run-time
// dtype, so kernels are instantiated only for their image dtypes.
struct ChannelValues {
  const void* data = nullptr;  // null: absent
  DType dtype = DType::f32;
  int64_t stride = 1;

  __device__ __forceinline__ float load(int64_t c, float absent_value) const {
    return data == nullptr ? absent_value : load_any_float(data, dtype, c * stride);
  }
};

ChannelValues channel_values(const Tensor* t);  // absent when t is null

// Kernels over (plane, pixel) pairs of an image: threads and grid x walk the pixels of a plane,
// grid y walks the B*C planes, both grid-strided. One division per pixel (its row) at most,
// instead of three for a flat index.
//   for (int64_t plane = blockIdx.y; plane < planes; plane += gridDim.y)
//     for (int64_t pixel = first_pixel(); pixel < pixels; pixel += pixel_step())
constexpr int kPlaneThreads = 256;
dim3 plane_grid(int64_t planes, int64_t pixels_per_plane);

__device__ __forceinline__ int64_t first_pixel() { return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t pixel_step() { return static_cast<int64_t>(blockDim.x) * gridDim.x; }

// GroupNorm: statistics per (batch, group) in fp32 (two passes over values shifted by the
// group's first value), then an elementwise pass applying them, the optional per-channel
// weight/bias and swish. A [B*groups] statistics buffer comes from `pool`.
void launch_group_norm(DeviceMemoryPool& pool, const Tensor& dst, const Tensor& src, int groups, const Tensor* weight,
                       const Tensor* bias, float eps, bool swish);

// dst pixel (y, x) = src pixel (y / fy, x / fx), the integer factors dst's shape implies.
void launch_upsample_nearest(cudaStream_t stream, const Tensor& dst, const Tensor& src);

// dst cell (i, j) = mean of src rows [floor(i*H/h), ceil((i+1)*H/h)) x the same for columns.
void launch_resize_area(cudaStream_t stream, const Tensor& dst, const Tensor& src);

}  // namespace inf::cuda
