#include "backend/cuda/gemm_cublaslt.cuh"

#include <climits>
#include <cstdio>
#include <string>
#include <functional>
#include <tuple>
#include <utility>
#include <vector>

#include "backend/cuda/elementwise.cuh"
#include "common/log.h"

namespace inf::cuda {

void cublas_check(cublasStatus_t status, const char* what, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  const ErrorKind kind = status == CUBLAS_STATUS_ALLOC_FAILED   ? ErrorKind::out_of_memory
                         : status == CUBLAS_STATUS_NOT_SUPPORTED || status == CUBLAS_STATUS_ARCH_MISMATCH
                             ? ErrorKind::unsupported
                             : ErrorKind::internal;
  fail(kind, "cuda: ", what, " failed at ", source_basename(file), ":", line, ": ", cublasLtGetStatusName(status),
       " (", cublasLtGetStatusString(status), ")");
}

namespace {

void report_cublas_in_destructor(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  std::fprintf(stderr, "infinode: cuda: %s failed in a destructor: %s\n", what, cublasLtGetStatusName(status));
}

cudaDataType_t cuda_data_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return CUDA_R_32F;
    case DType::bf16: return CUDA_R_16BF;
    case DType::f16: return CUDA_R_16F;
    default: fail(ErrorKind::internal, "cuda matmul: no cuBLASLt type for ", dtype_name(dtype));
  }
}

// A matrix operand as cuBLASLt sees it: `batch` row-major [rows, cols] matrices with row stride
// `ld`, `batch_stride` elements apart. `tensor` is what is actually read (maybe a copy).
struct MatrixOperand {
  Tensor tensor;
  int64_t rows = 0, cols = 0, ld = 0;
  int64_t batch = 1, batch_stride = 0;
};

// Fills `out` when `t` is expressible as strided-batched matrices: last dim contiguous, rows not
// overlapping, and all batch dims collapsing to one uniform stride. False means: copy it first.
bool describe_matrix(const Tensor& t, MatrixOperand& out) {
  const int nd = t.ndim();
  const auto& shape = t.shape();
  const auto& strides = t.strides();
  out.tensor = t;
  out.rows = shape[nd - 2];
  out.cols = shape[nd - 1];
  if (out.cols > 1 && strides[nd - 1] != 1) return false;
  out.ld = out.rows > 1 ? strides[nd - 2] : out.cols;  // a single row may carry any stride
  if (out.ld < out.cols) return false;                   // cuBLASLt needs ld >= row length
  // Batch dims: drop size-1 dims, then they must merge into one (same rule as make_indexer).
  std::vector<std::pair<int64_t, int64_t>> dims;  // (size, stride), innermost first
  for (int d = nd - 3; d >= 0; --d) {
    if (shape[d] == 1) continue;
    if (!dims.empty() && strides[d] == dims.back().second * dims.back().first) {
      dims.back().first *= shape[d];
    } else {
      dims.emplace_back(shape[d], strides[d]);
    }
  }
  if (dims.size() > 1) return false;
  out.batch = dims.empty() ? 1 : dims[0].first;
  out.batch_stride = dims.empty() ? 0 : dims[0].second;
  return true;
}

// A contiguous copy of `t` in `dtype` (Tensor shape unchanged), enqueued on the pool's stream.
Tensor contiguous_copy(const Tensor& t, DType dtype, DeviceMemoryPool& pool) {
  Tensor copy = pool.alloc_tensor(dtype, t.shape());  // same shape as t, contiguous
  launch_convert(pool.stream(), copy, t);
  return copy;
}

MatrixOperand matrix_operand(const Tensor& t, DType dtype, DeviceMemoryPool& pool) {
  MatrixOperand operand;
  const Tensor source = t.dtype() == dtype ? t : contiguous_copy(t, dtype, pool);
  if (describe_matrix(source, operand)) return operand;
  const bool ok = describe_matrix(contiguous_copy(source, dtype, pool), operand);
  INF_CHECK(ok, ErrorKind::internal, "cuda matmul: contiguous copy of ", t.describe(), " is not a matrix");
  return operand;
}

// Largest power of two (<= 256) dividing the address of every batch's first element: what the
// heuristic may assume about alignment (cuBLASLt's default assumption is 256 bytes).
int32_t guaranteed_alignment(const void* data, int64_t batch, int64_t batch_stride, size_t element_size) {
  uint64_t bits = reinterpret_cast<uintptr_t>(data);
  if (batch > 1) bits |= static_cast<uint64_t>(batch_stride) * element_size;
  int32_t alignment = 256;
  while (alignment > 1 && bits % static_cast<uint64_t>(alignment) != 0) alignment >>= 1;
  return alignment;
}

template <typename T>
void set_desc(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attribute, const T& value,
              const char* what) {
  cublas_check(cublasLtMatmulDescSetAttribute(desc, attribute, &value, sizeof(value)), what);
}

template <typename T>
void set_layout(cublasLtMatrixLayout_t layout, cublasLtMatrixLayoutAttribute_t attribute, const T& value,
                const char* what) {
  cublas_check(cublasLtMatrixLayoutSetAttribute(layout, attribute, &value, sizeof(value)), what);
}

template <typename T>
void set_preference(cublasLtMatmulPreference_t pref, cublasLtMatmulPreferenceAttributes_t attribute, const T& value,
                    const char* what) {
  cublas_check(cublasLtMatmulPreferenceSetAttribute(pref, attribute, &value, sizeof(value)), what);
}

// ---- fallback GEMM ----
// One thread per output element, fp32 accumulation. Only for configurations cuBLASLt declines
// (unusual alignments or strides); nothing here aims at speed.
struct FallbackGemm {
  int64_t m = 0, n = 0, k = 0, batch = 1;
  int64_t lda = 0, ldb = 0, ldd = 0, stride_a = 0, stride_b = 0, stride_d = 0;
  bool transpose_b = true;
  float alpha = 1.0f;
};

template <typename In, typename Out>
__global__ void fallback_gemm_kernel(FallbackGemm g, const In* a, const In* b, Out* d, const Out* bias) {
  const int64_t count = g.batch * g.m * g.n;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t col = i % g.n;
    const int64_t row = (i / g.n) % g.m;
    const int64_t which = i / (g.n * g.m);
    const In* a_row = a + which * g.stride_a + row * g.lda;
    const In* b_batch = b + which * g.stride_b;
    float sum = 0.0f;
    for (int64_t t = 0; t < g.k; ++t) {
      const int64_t b_index = g.transpose_b ? col * g.ldb + t : t * g.ldb + col;
      sum += load_as_float(a_row, t) * load_as_float(b_batch, b_index);
    }
    const float bias_value = bias == nullptr ? 0.0f : load_as_float(bias, col);
    store_from_float(d + which * g.stride_d + row * g.ldd, col, g.alpha * sum + bias_value);
  }
}

}  // namespace

// ---- plan cache ----

struct CublasLtGemm::Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t layout_b = nullptr;  // cuBLAS operand A: our b
  cublasLtMatrixLayout_t layout_a = nullptr;  // cuBLAS operand B: our a
  cublasLtMatrixLayout_t layout_d = nullptr;  // C and D: our dst, column-major [N, M]
  cublasLtMatmulAlgo_t algo{};
  bool fused_bias = false;  // false when bias is absent or no algorithm supports the epilogue
  bool use_fallback = false;  // cuBLASLt offered no algorithm: run fallback_gemm_kernel instead

  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() {
    if (layout_d) report_cublas_in_destructor(cublasLtMatrixLayoutDestroy(layout_d), "cublasLtMatrixLayoutDestroy");
    if (layout_a) report_cublas_in_destructor(cublasLtMatrixLayoutDestroy(layout_a), "cublasLtMatrixLayoutDestroy");
    if (layout_b) report_cublas_in_destructor(cublasLtMatrixLayoutDestroy(layout_b), "cublasLtMatrixLayoutDestroy");
    if (desc) report_cublas_in_destructor(cublasLtMatmulDescDestroy(desc), "cublasLtMatmulDescDestroy");
  }
};

bool CublasLtGemm::PlanKey::operator==(const PlanKey& o) const {
  auto fields = [](const PlanKey& key) {
    return std::tie(key.m, key.n, key.k, key.batch, key.lda, key.ldb, key.ldd, key.stride_a, key.stride_b,
                    key.stride_d, key.input_type, key.output_type, key.transpose_b, key.fused_bias, key.align_a,
                    key.align_b, key.align_d);
  };
  return fields(*this) == fields(o);
}

size_t CublasLtGemm::PlanKeyHash::operator()(const PlanKey& key) const {
  const int64_t fields[] = {key.m,          key.n,           key.k,          key.batch,    key.lda,
                            key.ldb,        key.ldd,         key.stride_a,   key.stride_b, key.stride_d,
                            key.input_type, key.output_type, key.transpose_b, key.fused_bias, key.align_a,
                            key.align_b,    key.align_d};
  size_t seed = 0;
  for (int64_t field : fields) {
    seed ^= std::hash<int64_t>{}(field) + 0x9e3779b97f4a7c15ull + (seed << 6) + (seed >> 2);
  }
  return seed;
}

namespace {

// Builds descriptors for `key` and asks the heuristic for an algorithm; nullptr (and the
// reason in `why_not`) when cuBLASLt declines this configuration, so the caller can retry
// without the bias epilogue or fall back.
std::unique_ptr<CublasLtGemm::Plan> build_plan(cublasLtHandle_t handle, const CublasLtGemm::PlanKey& key,
                                               bool with_bias, std::string& why_not) {
  auto plan = std::make_unique<CublasLtGemm::Plan>();
  const auto input_type = static_cast<cudaDataType_t>(key.input_type);
  const auto output_type = static_cast<cudaDataType_t>(key.output_type);

  cublas_check(cublasLtMatmulDescCreate(&plan->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
  const cublasOperation_t op_b = key.transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = CUBLAS_OP_N;
  set_desc(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA, op_b, "set TRANSA");
  set_desc(plan->desc, CUBLASLT_MATMUL_DESC_TRANSB, op_a, "set TRANSB");
  if (with_bias) {
    // One [N] vector over D's rows (our columns), shared by every batch (bias batch stride 0).
    set_desc(plan->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, CUBLASLT_EPILOGUE_BIAS, "set EPILOGUE");
    set_desc(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, static_cast<int32_t>(output_type),
             "set BIAS_DATA_TYPE");
    set_desc(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE, int64_t{0}, "set BIAS_BATCH_STRIDE");
  }

  // Our b: [N, K] row-major is column-major [K, N] (transposed by the op), [K, N] is [N, K].
  const uint64_t b_rows = static_cast<uint64_t>(key.transpose_b ? key.k : key.n);
  const uint64_t b_cols = static_cast<uint64_t>(key.transpose_b ? key.n : key.k);
  cublas_check(cublasLtMatrixLayoutCreate(&plan->layout_b, input_type, b_rows, b_cols, key.ldb),
               "cublasLtMatrixLayoutCreate(b)");
  // Our a: [M, K] row-major is column-major [K, M].
  cublas_check(cublasLtMatrixLayoutCreate(&plan->layout_a, input_type, static_cast<uint64_t>(key.k),
                                          static_cast<uint64_t>(key.m), key.lda),
               "cublasLtMatrixLayoutCreate(a)");
  // Our dst: [M, N] row-major is column-major [N, M].
  cublas_check(cublasLtMatrixLayoutCreate(&plan->layout_d, output_type, static_cast<uint64_t>(key.n),
                                          static_cast<uint64_t>(key.m), key.ldd),
               "cublasLtMatrixLayoutCreate(d)");
  if (key.batch > 1) {
    const auto batch = static_cast<int32_t>(key.batch);
    const std::pair<cublasLtMatrixLayout_t, int64_t> layouts[] = {
        {plan->layout_b, key.stride_b}, {plan->layout_a, key.stride_a}, {plan->layout_d, key.stride_d}};
    for (const auto& [layout, stride] : layouts) {
      set_layout(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, batch, "set BATCH_COUNT");
      set_layout(layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, stride, "set STRIDED_BATCH_OFFSET");
    }
  }

  cublasLtMatmulPreference_t preference = nullptr;
  cublas_check(cublasLtMatmulPreferenceCreate(&preference), "cublasLtMatmulPreferenceCreate");
  // Destroy the preference however this scope is left.
  std::unique_ptr<cublasLtMatmulPreferenceOpaque_t, void (*)(cublasLtMatmulPreference_t)> preference_owner(
      preference, [](cublasLtMatmulPreference_t p) {
        report_cublas_in_destructor(cublasLtMatmulPreferenceDestroy(p), "cublasLtMatmulPreferenceDestroy");
      });
  set_preference(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, uint64_t{kCublasWorkspaceBytes},
                 "set MAX_WORKSPACE_BYTES");
  set_preference(preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, static_cast<uint32_t>(key.align_b),
                 "set MIN_ALIGNMENT_A_BYTES");
  set_preference(preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, static_cast<uint32_t>(key.align_a),
                 "set MIN_ALIGNMENT_B_BYTES");
  set_preference(preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, static_cast<uint32_t>(key.align_d),
                 "set MIN_ALIGNMENT_C_BYTES");
  set_preference(preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, static_cast<uint32_t>(key.align_d),
                 "set MIN_ALIGNMENT_D_BYTES");

  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(handle, plan->desc, plan->layout_b, plan->layout_a,
                                                               plan->layout_d, plan->layout_d, preference, 1,
                                                               &result, &found);
  // NOT_SUPPORTED: no kernel fits; INVALID_VALUE: a combination (e.g. an epilogue with these
  // types) this cuBLASLt rejects. Both mean "not this way", not a broken device.
  if (status == CUBLAS_STATUS_NOT_SUPPORTED || status == CUBLAS_STATUS_INVALID_VALUE) {
    why_not = cublasLtGetStatusName(status);
    return nullptr;
  }
  cublas_check(status, "cublasLtMatmulAlgoGetHeuristic");
  if (found == 0 || result.state != CUBLAS_STATUS_SUCCESS) {
    why_not = found == 0 ? "no algorithm returned" : cublasLtGetStatusName(result.state);
    return nullptr;
  }
  plan->algo = result.algo;
  plan->fused_bias = with_bias;
  return plan;
}

std::string describe_key(const CublasLtGemm::PlanKey& key) {
  return detail::concat("m=", key.m, " n=", key.n, " k=", key.k, " batch=", key.batch, " lda=", key.lda,
                        " ldb=", key.ldb, " ldd=", key.ldd, " input type ", key.input_type, " output type ",
                        key.output_type, key.transpose_b ? " (b transposed)" : "", " alignment a/b/d ",
                        key.align_a, "/", key.align_b, "/", key.align_d);
}

}  // namespace

CublasLtGemm::Plan& CublasLtGemm::plan_for(const PlanKey& key) {
  auto found = plans_.find(key);
  if (found != plans_.end()) return *found->second;
  std::string why_not;
  std::unique_ptr<Plan> plan = build_plan(handle_, key, key.fused_bias != 0, why_not);
  // Some shapes/alignments have no kernel with the bias epilogue; the bias is then added by a
  // separate broadcast kernel (Plan::fused_bias tells matmul()).
  if (!plan && key.fused_bias) plan = build_plan(handle_, key, false, why_not);
  if (!plan) {
    // Correct but slow; cached like any plan, so the warning comes once per shape.
    log_warn("cuda matmul: cuBLASLt has no algorithm for ", describe_key(key), " (", why_not,
             "); using the fallback kernel");
    plan = std::make_unique<Plan>();
    plan->use_fallback = true;
  }
  return *plans_.emplace(key, std::move(plan)).first->second;
}

// ---- CublasLtGemm ----

CublasLtGemm::CublasLtGemm(DeviceMemoryPool& pool) : pool_(pool) {
  make_current(pool_.device());
  cublas_check(cublasLtCreate(&handle_), "cublasLtCreate");
  try {
    workspace_ = pool_.allocate(kCublasWorkspaceBytes);
  } catch (...) {
    report_cublas_in_destructor(cublasLtDestroy(handle_), "cublasLtDestroy");
    throw;
  }
}

CublasLtGemm::~CublasLtGemm() {
  plans_.clear();  // descriptors before the handle
  if (handle_) report_cublas_in_destructor(cublasLtDestroy(handle_), "cublasLtDestroy");
  // workspace_ is freed in stream order after any matmul still queued.
}

void CublasLtGemm::matmul(const Tensor& dst, const Tensor& a, const Tensor& b, const MatmulOptions& options) {
  const cudaStream_t stream = pool_.stream();
  const Tensor* bias = options.bias;
  if (dst.numel() == 0) return;
  const int64_t k = a.dim(-1);
  if (k == 0) {
    // An empty sum: dst = bias (or 0). All-zero bits are 0.0 in every float dtype.
    cuda_check(cudaMemsetAsync(device_data(dst), 0, dst.nbytes(), stream), "cudaMemsetAsync");
    if (bias != nullptr) launch_binary(stream, BinaryOp::add, dst, dst, *bias);
    return;
  }

  // Operand dtype: cuBLASLt wants a and b alike; mixed inputs go through exact f32 copies.
  const DType input_dtype = a.dtype() == b.dtype() ? a.dtype() : DType::f32;
  MatrixOperand a_op = matrix_operand(a, input_dtype, pool_);
  MatrixOperand b_op = matrix_operand(b, input_dtype, pool_);
  const bool shared_b = b.ndim() == 2;

  // Output dtype cuBLASLt writes: f32 inputs -> f32 only; bf16/f16 inputs -> same or f32.
  DType output_dtype = dst.dtype();
  if (output_dtype != DType::f32 && output_dtype != input_dtype) output_dtype = DType::f32;
  // The epilogue's bias has D's dtype; a different bias dtype computes D in f32 (with an exact
  // f32 copy of the bias) so the sum is still rounded only once.
  Tensor bias_vector;  // [N], contiguous, output_dtype
  if (bias != nullptr) {
    if (bias->dtype() != output_dtype) output_dtype = DType::f32;
    bias_vector = *bias;
    const bool aligned = reinterpret_cast<uintptr_t>(device_data(*bias)) % 16 == 0;  // epilogue needs 16 B
    const bool contiguous = bias->numel() <= 1 || bias->strides().back() == 1;
    if (bias->dtype() != output_dtype || !aligned || !contiguous) {
      bias_vector = contiguous_copy(*bias, output_dtype, pool_);
    }
  }

  // Where cuBLASLt writes: dst itself, or an f32 scratch converted into dst afterwards.
  const bool direct = output_dtype == dst.dtype();
  const Tensor out = direct ? dst : pool_.alloc_tensor(DType::f32, dst.shape());  // [..., M, N] like dst

  const int64_t n = dst.dim(-1);
  int64_t m = a_op.rows;
  int64_t batch = a_op.batch;
  // With a shared weight, batches whose rows follow each other evenly are one taller matrix:
  // one large GEMM instead of many small ones ([B, L, C] @ W^T is a [B*L, C] GEMM).
  if (shared_b && batch > 1) {
    if (a_op.batch_stride == a_op.rows * a_op.ld) {
      m *= batch;
      batch = 1;
    } else if (a_op.rows == 1 && a_op.batch_stride >= a_op.cols) {
      a_op.ld = a_op.batch_stride;
      m = batch;
      batch = 1;
    }
  }
  INF_CHECK(shared_b || b_op.batch == batch, ErrorKind::internal, "cuda matmul: a has ", batch,
            " batches but b has ", b_op.batch);
  INF_CHECK(m <= INT32_MAX && n <= INT32_MAX && k <= INT32_MAX && batch <= INT32_MAX, ErrorKind::unsupported,
            "cuda matmul: ", a.describe(), " @ ", b.describe(), " exceeds cuBLASLt's 32-bit dimensions");

  PlanKey key;
  key.m = m;
  key.n = n;
  key.k = k;
  key.batch = batch;
  key.lda = a_op.ld;
  key.ldb = b_op.ld;
  key.ldd = n;
  key.stride_a = batch > 1 ? a_op.batch_stride : 0;
  key.stride_b = batch > 1 && !shared_b ? b_op.batch_stride : 0;  // 0: every batch reads the same weight
  key.stride_d = batch > 1 ? m * n : 0;
  key.input_type = static_cast<int32_t>(cuda_data_type(input_dtype));
  key.output_type = static_cast<int32_t>(cuda_data_type(output_dtype));
  key.transpose_b = options.transpose_b ? 1 : 0;
  key.fused_bias = bias != nullptr ? 1 : 0;
  const size_t in_size = dtype_size(input_dtype);
  key.align_a = guaranteed_alignment(device_data(a_op.tensor), batch, key.stride_a, in_size);
  key.align_b = guaranteed_alignment(device_data(b_op.tensor), batch, key.stride_b, in_size);
  key.align_d = guaranteed_alignment(device_data(out), batch, key.stride_d, dtype_size(output_dtype));

  Plan& plan = plan_for(key);
  if (plan.use_fallback) {
    FallbackGemm g;
    g.m = m, g.n = n, g.k = k, g.batch = batch;
    g.lda = key.lda, g.ldb = key.ldb, g.ldd = key.ldd;
    g.stride_a = key.stride_a, g.stride_b = key.stride_b, g.stride_d = key.stride_d;
    g.transpose_b = options.transpose_b;
    g.alpha = options.alpha;
    dispatch_float_dtype(input_dtype, [&](auto in_tag) {
      using In = typename decltype(in_tag)::type;
      dispatch_float_dtype(output_dtype, [&](auto out_tag) {
        using Out = typename decltype(out_tag)::type;
        const Out* bias_data = bias != nullptr ? static_cast<const Out*>(device_data(bias_vector)) : nullptr;
        fallback_gemm_kernel<In, Out><<<grid_for(batch * m * n), kElementwiseThreads, 0, stream>>>(
            g, static_cast<const In*>(device_data(a_op.tensor)), static_cast<const In*>(device_data(b_op.tensor)),
            static_cast<Out*>(device_data(out)), bias_data);
        check_launch("fallback_gemm_kernel");
      });
    });
    if (!direct) launch_convert(stream, dst, out);
    return;
  }
  if (plan.fused_bias) {
    const void* bias_data = device_data(bias_vector);
    set_desc(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias_data, "set BIAS_POINTER");
  }
  const float alpha = options.alpha;
  const float beta = 0.0f;  // C is not read; it aliases D only because cuBLASLt wants a pointer
  void* d_data = device_data(out);
  cublas_check(cublasLtMatmul(handle_, plan.desc, &alpha, device_data(b_op.tensor), plan.layout_b,
                              device_data(a_op.tensor), plan.layout_a, &beta, d_data, plan.layout_d, d_data,
                              plan.layout_d, &plan.algo, workspace_->data(), kCublasWorkspaceBytes, stream),
               "cublasLtMatmul");
  if (bias != nullptr && !plan.fused_bias) launch_binary(stream, BinaryOp::add, out, out, bias_vector);
  if (!direct) launch_convert(stream, dst, out);
}

}  // namespace inf::cuda
