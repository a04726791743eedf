// Matmul through cuBLASLt: dst[..., M, N] = alpha * a[..., M, K] @ op(b) + bias[N].
//
// Tensors are row-major; cuBLASLt is column-major. A row-major [R, C] matrix with row stride ld is
// the column-major [C, R] matrix with the same ld, so instead of D = A.op(B) we ask cuBLASLt for
// D^T = op(B)^T . A^T, which needs no data movement: cuBLAS's "A" operand is our b, its "B"
// operand is our a, and its [N, M] output is our row-major [M, N] dst.
//
// Precision: f32 inputs use CUBLAS_COMPUTE_32F (no TF32: the reference is plain fp32); bf16/f16
// inputs accumulate in fp32 and write bf16/f16 or f32. Any other dtype mix is promoted to f32
// copies (bf16/f16 -> f32 is exact), computed, and converted once into dst, so every path rounds
// the result exactly once, like the CPU reference.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "backend/backend.h"
#include "backend/cuda/memory_pool.cuh"

namespace inf::cuda {

void cublas_check(cublasStatus_t status, const char* what, const char* file = __builtin_FILE(),
                  int line = __builtin_LINE());

class CublasLtGemm {
 public:
  // `pool` must outlive this object (the backend declares the pool first).
  explicit CublasLtGemm(DeviceMemoryPool& pool);
  ~CublasLtGemm();
  CublasLtGemm(const CublasLtGemm&) = delete;
  CublasLtGemm& operator=(const CublasLtGemm&) = delete;

  // Arguments are validated by the backend: float dtypes, a is [..., M, K], b is [N, K]
  // (transpose_b) or [K, N], 2-D or with a's batch dims, dst is contiguous [..., M, N], bias [N].
  void matmul(const Tensor& dst, const Tensor& a, const Tensor& b, const MatmulOptions& options);

  size_t cached_plans() const { return plans_.size(); }

  // Everything that decides the descriptors and the heuristic's choice of algorithm.
  struct PlanKey {
    int64_t m = 0, n = 0, k = 0, batch = 1;
    int64_t lda = 0, ldb = 0, ldd = 0;                          // leading dims (row strides)
    int64_t stride_a = 0, stride_b = 0, stride_d = 0;           // batch strides, elements
    int32_t input_type = 0, output_type = 0;                    // cudaDataType
    int32_t transpose_b = 0, fused_bias = 0;
    int32_t align_a = 0, align_b = 0, align_d = 0;              // guaranteed pointer alignment, bytes
    bool operator==(const PlanKey& other) const;
  };
  struct PlanKeyHash {
    size_t operator()(const PlanKey& key) const;
  };
  struct Plan;  // descriptors + algorithm, defined in gemm_cublaslt.cu

 private:
  Plan& plan_for(const PlanKey& key);

  DeviceMemoryPool& pool_;
  cublasLtHandle_t handle_ = nullptr;
  std::shared_ptr<Buffer> workspace_;  // one workspace serves every matmul: they run in stream order
  std::unordered_map<PlanKey, std::unique_ptr<Plan>, PlanKeyHash> plans_;
};

// Workspace handed to cuBLASLt; 32 MiB covers the split-K and stream-K algorithms Hopper picks.
constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;

}  // namespace inf::cuda
