// Elementwise kernels: convert, unary, binary (with broadcasting) and scale. Each launcher takes
// tensors the backend has already validated (dtypes, dst shape, devices), reads inputs through
// strided views, writes a contiguous dst and enqueues on `stream`; none of them synchronises.
#pragma once

#include <cuda_runtime.h>

#include "backend/backend.h"
#include "backend/cuda/common.cuh"

namespace inf::cuda {

// dst = src in dst's dtype: any dtype -> float (through fp32), or a same-dtype copy of any dtype.
void launch_convert(cudaStream_t stream, const Tensor& dst, const Tensor& src);

void launch_unary(cudaStream_t stream, UnaryOp op, const Tensor& dst, const Tensor& src);

// Strides that read `b` as if it had `target` shape (NumPy broadcasting: trailing dims align,
// size-1 or missing dims get stride 0). Throws invalid_argument naming `op` and both shapes when
// b does not broadcast onto target.
std::vector<int64_t> broadcast_strides(const Tensor& b, const Shape& target, const char* op);

// dst = a (op) b, b broadcast onto a's shape. dst may be the same contiguous tensor as a
// (in-place), which the GEMM uses to add a bias.
void launch_binary(cudaStream_t stream, BinaryOp op, const Tensor& dst, const Tensor& a, const Tensor& b);

// dst = src * alpha + beta
void launch_scale(cudaStream_t stream, const Tensor& dst, const Tensor& src, float alpha, float beta);

}  // namespace inf::cuda
