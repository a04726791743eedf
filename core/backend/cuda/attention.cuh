// Fused multi-head attention on CUDA cores: softmax(q k^T * scale) v without materialising the
// scores, fp32 accumulation, any float dtypes, strided q/k/v (KV-cache views), optional per-batch
// key lengths. The backend validates shapes, dtypes and key lengths before calling it.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "backend/cuda/common.cuh"

namespace inf::cuda {

// The largest head dim the kernel handles (its per-lane accumulators are sized at compile time).
constexpr int64_t kAttentionMaxHeadDim = 256;

// q [B, Lq, H, hd], k and v [B, Lk, H, hd], dst [B, Lq, H, hd] contiguous. key_lengths (B
// entries, each in [0, Lk]) or null; a length of 0 gives zero rows.
void launch_attention(cudaStream_t stream, const Tensor& dst, const Tensor& q, const Tensor& k, const Tensor& v,
                      float scale, const std::vector<int32_t>* key_lengths);

}  // namespace inf::cuda
