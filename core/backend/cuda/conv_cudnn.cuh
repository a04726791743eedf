// conv2d through cuDNN's legacy API (cudnnConvolutionForward, NCHW, cross-correlation like
// PyTorch's Conv2d).
//
// What cuDNN cannot take as it is gets staged first, in one kernel: a strided, misaligned or
// mixed-dtype input, and the asymmetric part of the padding (the VAE's downsample pads only the
// bottom and right; cuDNN pads symmetrically, and for a stride-2 conv a shifted symmetric pad
// cannot be cropped back), written as explicit zeros around a contiguous copy.
//
// Precision, like the CPU reference (fp32 math, one rounding of the result):
//   - src, weight and dst of one dtype run in that dtype: f32 with CUDNN_FMA_MATH (no TF32),
//     bf16/f16 on tensor cores with fp32 accumulation;
//   - any mix runs in f32 (bf16/f16 -> f32 is exact) into an f32 scratch converted once into dst.
//   The bias is added by a broadcast kernel after the conv (for bf16/f16 outputs that is a
//   second rounding, well inside the bf16/f16 tolerances).
// Algorithms come from cudnnGetConvolutionForwardAlgorithm_v7, cached per shape and dtype; the
// workspace comes from the backend's memory pool and only grows.
#pragma once

#include <cudnn.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "backend/backend.h"
#include "backend/cuda/memory_pool.cuh"

namespace inf::cuda {

void cudnn_check(cudnnStatus_t status, const char* what, const char* file = __builtin_FILE(),
                 int line = __builtin_LINE());

class CudnnConv {
 public:
  // Creates the cuDNN handle bound to the pool's stream; `pool` must outlive this object.
  explicit CudnnConv(DeviceMemoryPool& pool);
  ~CudnnConv();
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;

  // Arguments are validated by the backend (shapes, dtypes, paddings, dst contiguous).
  void conv2d(const Tensor& dst, const Tensor& src, const Tensor& weight, const Tensor* bias,
              const Conv2dParams& params);

  size_t cached_plans() const { return plans_.size(); }

  // Everything the descriptors and the algorithm choice depend on (inputs are contiguous NCHW
  // by the time cuDNN sees them).
  struct PlanKey {
    int64_t batch = 0, in_channels = 0, in_h = 0, in_w = 0;
    int64_t out_channels = 0, kernel_h = 0, kernel_w = 0;
    int64_t stride = 1, pad_h = 0, pad_w = 0;  // symmetric padding cuDNN applies
    int32_t data_type = 0;                     // cudnnDataType_t
    bool operator==(const PlanKey& other) const;
  };
  struct PlanKeyHash {
    size_t operator()(const PlanKey& key) const;
  };
  struct Plan;  // descriptors + algorithm, defined in conv_cudnn.cu

 private:
  Plan& plan_for(const PlanKey& key);
  void* workspace(size_t bytes);

  DeviceMemoryPool& pool_;
  cudnnHandle_t handle_ = nullptr;
  std::shared_ptr<Buffer> workspace_;  // shared by every conv: they run in stream order
  size_t workspace_bytes_ = 0;
  std::unordered_map<PlanKey, std::unique_ptr<Plan>, PlanKeyHash> plans_;
};

// Algorithms needing more workspace than this are passed over (FFT variants can ask for GiBs).
constexpr size_t kMaxConvWorkspaceBytes = size_t{256} << 20;

}  // namespace inf::cuda
