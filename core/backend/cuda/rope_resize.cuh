// Position-dependent resampling kernels: rotary embedding of [B, L, H, hd] heads and bilinear
// resize of [B, C, H, W] images. One thread per output pair / pixel, strided inputs read through
// their 4-D strides, contiguous dst. The backend validates shapes and dtypes before calling these.
#pragma once

#include <cuda_runtime.h>

#include "backend/cuda/common.cuh"

namespace inf::cuda {

// Interleaved pairs (x[2p], x[2p+1]) of every head at position l turned by the angle whose
// cos/sin are [l, p] of the [L, hd/2] tables.
void launch_rope(cudaStream_t stream, const Tensor& dst, const Tensor& src, const Tensor& cos, const Tensor& sin);

// align_corners=False bilinear resize without antialiasing (PyTorch's F.interpolate).
void launch_resize_bilinear(cudaStream_t stream, const Tensor& dst, const Tensor& src);

}  // namespace inf::cuda
