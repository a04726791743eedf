// Row-wise kernels over the last dim: layer_norm, rms_norm, l2_normalize and softmax. One thread
// block per row (grid-striding over rows), fp32 accumulation with warp-shuffle + shared-memory
// reductions.
// Inputs may be strided views; dst is contiguous; weight/bias are optional [N] float vectors of
// any float dtype. The backend validates shapes and dtypes before calling these.
#pragma once

#include <cuda_runtime.h>

#include "backend/cuda/common.cuh"

namespace inf::cuda {

// (x - mean) / sqrt(var + eps) * weight + bias, biased variance like PyTorch's LayerNorm.
void launch_layer_norm(cudaStream_t stream, const Tensor& dst, const Tensor& src, const Tensor* weight,
                       const Tensor* bias, float eps);

// x / sqrt(mean(x^2) + eps) * weight
void launch_rms_norm(cudaStream_t stream, const Tensor& dst, const Tensor& src, const Tensor* weight, float eps);

// x / max(||x||_2, eps)
void launch_l2_normalize(cudaStream_t stream, const Tensor& dst, const Tensor& src, float eps);

// softmax(src * scale) over the last dim, max-subtracted; a row of only -inf gives zeros.
void launch_softmax(cudaStream_t stream, const Tensor& dst, const Tensor& src, float scale);

}  // namespace inf::cuda
