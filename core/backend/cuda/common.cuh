// Shared pieces of the CUDA backend: error checking that throws inf::Error, the mapping from
// inf::DType to device element types, the one dtype dispatch switch, and the strided indexer
// every elementwise and row kernel uses to read views of up to six dims.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "common/error.h"
#include "tensor/dtype.h"
#include "tensor/tensor.h"

namespace inf::cuda {

// ---- error checking ----

// Keeps messages short: "backend_cuda.cu:120" rather than the build machine's absolute path.
inline const char* source_basename(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

inline ErrorKind error_kind_of(cudaError_t status) {
  switch (status) {
    case cudaErrorMemoryAllocation: return ErrorKind::out_of_memory;
    // The build or machine cannot run this, which is not a bug in infinode.
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorInvalidDevice:
    case cudaErrorNotSupported:
    case cudaErrorUnsupportedPtxVersion: return ErrorKind::unsupported;
    default: return ErrorKind::internal;
  }
}

// cuda_check(cudaMemcpyAsync(...), "upload") throws inf::Error naming the call site and CUDA's
// reason. The file/line default arguments stand in for a macro (core keeps to INF_CHECK only).
inline void cuda_check(cudaError_t status, const char* what, const char* file = __builtin_FILE(),
                       int line = __builtin_LINE()) {
  if (status == cudaSuccess) return;
  fail(error_kind_of(status), "cuda: ", what, " failed at ", source_basename(file), ":", line, ": ",
       cudaGetErrorName(status), " (", cudaGetErrorString(status), ")");
}

// After a kernel launch: a launch error (bad configuration, missing kernel image) shows up here;
// faults inside the kernel surface later at synchronize().
inline void check_launch(const char* kernel, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  cuda_check(cudaGetLastError(), kernel, file, line);
}

// Destructors cannot throw; they report and carry on. Errors during process teardown (the
// runtime already unloaded) are expected and stay quiet.
void report_cuda_error_in_destructor(cudaError_t status, const char* what);

// Makes `device` current on the calling thread, so the backend works from any thread. It is
// deliberately not restored afterwards: since CUDA 12, cudaSetDevice creates the primary context,
// so "restoring" device 0 on a thread that never used it would cost a stray context (hundreds of
// MiB) on every multi-GPU machine.
inline void make_current(int device) {
  int current = -1;
  cuda_check(cudaGetDevice(&current), "cudaGetDevice");
  if (current != device) cuda_check(cudaSetDevice(device), "cudaSetDevice");
}

// ---- element types ----

// Device element type for each DType. Floats are stored as their CUDA types and read/written
// through fp32; integer types exist only so same-dtype copies of any tensor can be dispatched.
template <DType D>
struct DeviceType;
template <>
struct DeviceType<DType::f32> {
  using type = float;
};
template <>
struct DeviceType<DType::bf16> {
  using type = __nv_bfloat16;
};
template <>
struct DeviceType<DType::f16> {
  using type = __half;
};
template <>
struct DeviceType<DType::u8> {
  using type = uint8_t;
};
template <>
struct DeviceType<DType::i32> {
  using type = int32_t;
};
template <>
struct DeviceType<DType::i64> {
  using type = int64_t;
};

template <typename T>
constexpr bool is_device_float_v =
    std::is_same_v<T, float> || std::is_same_v<T, __nv_bfloat16> || std::is_same_v<T, __half>;

template <typename T>
__device__ __forceinline__ float load_as_float(const T* data, int64_t index) {
  static_assert(is_device_float_v<T>, "load_as_float needs a float element type");
  if constexpr (std::is_same_v<T, float>) {
    return data[index];
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __bfloat162float(data[index]);
  } else {
    return __half2float(data[index]);
  }
}

// Round-to-nearest-even, like the host conversions in tensor/dtype.h.
template <typename T>
__device__ __forceinline__ void store_from_float(T* data, int64_t index, float value) {
  static_assert(is_device_float_v<T>, "store_from_float needs a float element type");
  if constexpr (std::is_same_v<T, float>) {
    data[index] = value;
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    data[index] = __float2bfloat16_rn(value);
  } else {
    data[index] = __float2half_rn(value);
  }
}

// Reads one element of a float tensor whose dtype is known only at run time. Used for small
// per-channel operands (norm weight and bias) so kernels need not be instantiated for them.
__device__ __forceinline__ float load_any_float(const void* data, DType dtype, int64_t index) {
  switch (dtype) {
    case DType::bf16: return load_as_float(static_cast<const __nv_bfloat16*>(data), index);
    case DType::f16: return load_as_float(static_cast<const __half*>(data), index);
    default: return load_as_float(static_cast<const float*>(data), index);
  }
}

// ---- dtype dispatch ----

template <typename T>
struct TypeTag {
  using type = T;
};

// The one switch from a run-time DType to a compile-time element type:
//   dispatch_dtype(t, [&](auto tag) { using T = typename decltype(tag)::type; ... });
template <typename Fn>
decltype(auto) dispatch_dtype(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::f32: return fn(TypeTag<DeviceType<DType::f32>::type>{});
    case DType::bf16: return fn(TypeTag<DeviceType<DType::bf16>::type>{});
    case DType::f16: return fn(TypeTag<DeviceType<DType::f16>::type>{});
    case DType::u8: return fn(TypeTag<DeviceType<DType::u8>::type>{});
    case DType::i32: return fn(TypeTag<DeviceType<DType::i32>::type>{});
    case DType::i64: return fn(TypeTag<DeviceType<DType::i64>::type>{});
  }
  fail(ErrorKind::internal, "cuda: unknown dtype ", static_cast<int>(dtype));
}

// Like dispatch_dtype but only instantiates `fn` for float types; callers validate dtypes
// first, so reaching an integer type here is a bug.
template <typename Fn>
void dispatch_float_dtype(DType dtype, Fn&& fn) {
  dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (is_device_float_v<T>) {
      fn(tag);
    } else {
      fail(ErrorKind::internal, "cuda: float kernel dispatched with dtype ", dtype_name(dtype));
    }
  });
}

// ---- tensors on the device ----

// Address of element 0. Tensor::data() is for host tensors only, so device kernels take the
// buffer's base plus the view's byte offset.
inline void* device_data(const Tensor& tensor) {
  return static_cast<char*>(tensor.buffer()->data()) + tensor.byte_offset();
}

constexpr int kMaxDims = 6;

// Maps the row-major linear index of a logical shape to an element offset in a strided view.
// Passed by value to kernels, so it stays a small POD.
struct StridedIndexer {
  int ndim = 0;  // 0: a scalar or a fully contiguous range (offset == index)
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};

  __host__ __device__ __forceinline__ int64_t offset(int64_t index) const {
    if (ndim == 0) return index;
    int64_t result = 0;
    for (int d = ndim - 1; d > 0; --d) {
      const int64_t size = sizes[d];
      result += (index % size) * strides[d];
      index /= size;
    }
    return result + index * strides[0];
  }
};

// Builds an indexer for `sizes`/`strides` (same length; stride 0 broadcasts). Size-1 dims are
// dropped and adjacent dims that step through memory as one are merged, so a contiguous view
// costs no divisions and most strided views need one or two. Throws `unsupported` when more
// than kMaxDims dims remain.
StridedIndexer make_indexer(const Shape& sizes, const std::vector<int64_t>& strides, const char* op);

// The indexer for a tensor's own shape and strides.
inline StridedIndexer make_indexer(const Tensor& tensor, const char* op) {
  return make_indexer(tensor.shape(), tensor.strides(), op);
}

// Launch geometry for grid-stride loops: enough blocks to fill the device several times over,
// never more than CUDA allows, never zero.
constexpr int kElementwiseThreads = 256;
inline unsigned int grid_for(int64_t count, int threads = kElementwiseThreads) {
  const int64_t wanted = (count + threads - 1) / threads;
  const int64_t cap = 65535LL * 16;
  const int64_t blocks = wanted < 1 ? 1 : (wanted > cap ? cap : wanted);
  return static_cast<unsigned int>(blocks);
}

}  // namespace inf::cuda
