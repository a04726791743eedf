#include "backend/cuda/elementwise.cuh"

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace inf::cuda {

// ---- strided indexing (declared in common.cuh) ----

StridedIndexer make_indexer(const Shape& sizes, const std::vector<int64_t>& strides, const char* op) {
  INF_CHECK(sizes.size() == strides.size(), ErrorKind::internal, "cuda ", op, ": ", sizes.size(),
            " sizes but ", strides.size(), " strides");
  // Dims of size 1 never move the index; drop them, then merge from the innermost outwards.
  std::vector<std::pair<int64_t, int64_t>> dims;  // (size, stride), outermost first
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] != 1) dims.emplace_back(sizes[d], strides[d]);
  }
  std::vector<std::pair<int64_t, int64_t>> merged;  // innermost first while building
  for (auto it = dims.rbegin(); it != dims.rend(); ++it) {
    if (!merged.empty()) {
      auto& inner = merged.back();
      // `*it` steps exactly over a whole run of `inner`: the two walk memory as one dim.
      if (it->second == inner.second * inner.first) {
        inner.first *= it->first;
        continue;
      }
    }
    merged.push_back(*it);
  }
  StridedIndexer indexer;
  if (merged.empty() || (merged.size() == 1 && merged[0].second == 1)) return indexer;  // offset == index
  INF_CHECK(merged.size() <= static_cast<size_t>(kMaxDims), ErrorKind::unsupported, "cuda ", op, ": view ",
            shape_string(sizes), " needs ", merged.size(), " strided dims; at most ", kMaxDims, " are supported");
  indexer.ndim = static_cast<int>(merged.size());
  for (int d = 0; d < indexer.ndim; ++d) {
    const auto& dim = merged[merged.size() - 1 - static_cast<size_t>(d)];  // back to outermost first
    indexer.sizes[d] = dim.first;
    indexer.strides[d] = dim.second;
  }
  return indexer;
}

std::vector<int64_t> broadcast_strides(const Tensor& b, const Shape& target, const char* op) {
  const int target_ndim = static_cast<int>(target.size());
  const int b_ndim = b.ndim();
  bool ok = b_ndim <= target_ndim;  // as in the CPU reference, b never has more dims than a
  std::vector<int64_t> strides(target.size(), 0);
  for (int d = 0; d < target_ndim && ok; ++d) {
    const int bd = b_ndim - target_ndim + d;  // b's dim aligned with target dim d
    if (bd < 0) continue;                     // missing in b: broadcast
    const int64_t size = b.shape()[bd];
    if (size == target[d]) {
      strides[d] = b.strides()[bd];
    } else if (size != 1) {
      ok = false;
    }
  }
  INF_CHECK(ok, ErrorKind::invalid_argument, "cuda ", op, ": b ", b.describe(), " does not broadcast onto ",
            shape_string(target));
  return strides;
}

namespace {

// Grid-stride loops over [0, count) with 64-bit indices: any count works with a capped grid.
__device__ __forceinline__ int64_t first_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() { return static_cast<int64_t>(blockDim.x) * gridDim.x; }

// ---- convert ----

template <typename Dst, typename Src>
__global__ void convert_kernel(Dst* dst, const Src* src, StridedIndexer src_index, int64_t count) {
  for (int64_t i = first_index(); i < count; i += grid_stride()) {
    if constexpr (std::is_same_v<Dst, Src>) {
      dst[i] = src[src_index.offset(i)];  // exact copy, any dtype
    } else if constexpr (is_device_float_v<Src>) {
      store_from_float(dst, i, load_as_float(src, src_index.offset(i)));
    } else {
      store_from_float(dst, i, static_cast<float>(src[src_index.offset(i)]));  // integer -> float
    }
  }
}

// ---- unary ----

__device__ __forceinline__ float apply_unary(UnaryOp op, float x) {
  switch (op) {
    case UnaryOp::gelu_tanh: {
      const float sqrt_2_over_pi = 0.7978845608028654f;
      const float inner = sqrt_2_over_pi * (x + 0.044715f * x * x * x);
      return 0.5f * x * (1.0f + tanhf(inner));
    }
    case UnaryOp::silu: return x / (1.0f + expf(-x));
    case UnaryOp::neg: return -x;
    case UnaryOp::exp: return expf(x);
  }
  return x;  // unreachable: the host validates the op
}

template <typename Dst, typename Src>
__global__ void unary_kernel(UnaryOp op, Dst* dst, const Src* src, StridedIndexer src_index, int64_t count) {
  for (int64_t i = first_index(); i < count; i += grid_stride()) {
    store_from_float(dst, i, apply_unary(op, load_as_float(src, src_index.offset(i))));
  }
}

// ---- binary ----

__device__ __forceinline__ float apply_binary(BinaryOp op, float a, float b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
  }
  return a;  // unreachable
}

template <typename Dst, typename A, typename B>
__global__ void binary_kernel(BinaryOp op, Dst* dst, const A* a, StridedIndexer a_index, const B* b,
                              StridedIndexer b_index, int64_t count) {
  for (int64_t i = first_index(); i < count; i += grid_stride()) {
    const float x = load_as_float(a, a_index.offset(i));
    const float y = load_as_float(b, b_index.offset(i));
    store_from_float(dst, i, apply_binary(op, x, y));
  }
}

// ---- scale ----

template <typename Dst, typename Src>
__global__ void scale_kernel(Dst* dst, const Src* src, StridedIndexer src_index, float alpha, float beta,
                             int64_t count) {
  for (int64_t i = first_index(); i < count; i += grid_stride()) {
    store_from_float(dst, i, load_as_float(src, src_index.offset(i)) * alpha + beta);
  }
}

template <typename T>
T* typed(const Tensor& tensor) {
  return static_cast<T*>(device_data(tensor));
}

}  // namespace

void launch_convert(cudaStream_t stream, const Tensor& dst, const Tensor& src) {
  const int64_t count = dst.numel();
  if (count == 0) return;
  const StridedIndexer src_index = make_indexer(src, "convert");
  dispatch_dtype(dst.dtype(), [&](auto dst_tag) {
    using Dst = typename decltype(dst_tag)::type;
    dispatch_dtype(src.dtype(), [&](auto src_tag) {
      using Src = typename decltype(src_tag)::type;
      // Only conversions to float and same-type copies are instantiated.
      if constexpr (std::is_same_v<Dst, Src> || is_device_float_v<Dst>) {
        convert_kernel<Dst, Src><<<grid_for(count), kElementwiseThreads, 0, stream>>>(
            typed<Dst>(dst), typed<const Src>(src), src_index, count);
        check_launch("convert_kernel");
      } else {
        fail(ErrorKind::invalid_argument, "cuda convert: cannot convert ", src.describe(), " to ", dst.describe());
      }
    });
  });
}

void launch_unary(cudaStream_t stream, UnaryOp op, const Tensor& dst, const Tensor& src) {
  const int64_t count = dst.numel();
  if (count == 0) return;
  const StridedIndexer src_index = make_indexer(src, "unary");
  dispatch_float_dtype(dst.dtype(), [&](auto dst_tag) {
    using Dst = typename decltype(dst_tag)::type;
    dispatch_float_dtype(src.dtype(), [&](auto src_tag) {
      using Src = typename decltype(src_tag)::type;
      unary_kernel<Dst, Src><<<grid_for(count), kElementwiseThreads, 0, stream>>>(op, typed<Dst>(dst),
                                                                                  typed<const Src>(src), src_index,
                                                                                  count);
      check_launch("unary_kernel");
    });
  });
}

void launch_binary(cudaStream_t stream, BinaryOp op, const Tensor& dst, const Tensor& a, const Tensor& b) {
  const std::string label = std::string("binary(") + binary_op_name(op) + ")";
  // Validate the broadcast before the empty-tensor shortcut so bad shapes always throw.
  const std::vector<int64_t> b_strides = broadcast_strides(b, a.shape(), label.c_str());
  const int64_t count = dst.numel();
  if (count == 0) return;
  const StridedIndexer a_index = make_indexer(a, label.c_str());
  const StridedIndexer b_index = make_indexer(a.shape(), b_strides, label.c_str());
  dispatch_float_dtype(dst.dtype(), [&](auto dst_tag) {
    using Dst = typename decltype(dst_tag)::type;
    dispatch_float_dtype(a.dtype(), [&](auto a_tag) {
      using A = typename decltype(a_tag)::type;
      dispatch_float_dtype(b.dtype(), [&](auto b_tag) {
        using B = typename decltype(b_tag)::type;
        binary_kernel<Dst, A, B><<<grid_for(count), kElementwiseThreads, 0, stream>>>(
            op, typed<Dst>(dst), typed<const A>(a), a_index, typed<const B>(b), b_index, count);
        check_launch("binary_kernel");
      });
    });
  });
}

void launch_scale(cudaStream_t stream, const Tensor& dst, const Tensor& src, float alpha, float beta) {
  const int64_t count = dst.numel();
  if (count == 0) return;
  const StridedIndexer src_index = make_indexer(src, "scale");
  dispatch_float_dtype(dst.dtype(), [&](auto dst_tag) {
    using Dst = typename decltype(dst_tag)::type;
    dispatch_float_dtype(src.dtype(), [&](auto src_tag) {
      using Src = typename decltype(src_tag)::type;
      scale_kernel<Dst, Src><<<grid_for(count), kElementwiseThreads, 0, stream>>>(
          typed<Dst>(dst), typed<const Src>(src), src_index, alpha, beta, count);
      check_launch("scale_kernel");
    });
  });
}

}  // namespace inf::cuda
