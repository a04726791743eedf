// The attention kernel: flash-attention style, on CUDA cores, fp32 throughout.
//
// Grid: (query tiles of kRowsPerBlock rows, heads, batch rows). A block keeps its query tile in
// shared memory, pre-multiplied by scale * log2(e) so the softmax can use exp2, and walks the
// keys in tiles of kTileKeys: the K tile (transposed) and the V tile are staged in shared memory
// as fp32; each warp scores its kRowsPerWarp query rows against the tile (a lane per key, two
// keys per lane), updates each row's running max and sum (online softmax: earlier partial
// results are rescaled when the max grows), and accumulates P V with a lane per head dim
// (kDimChunks dims per lane). Nothing of size Lq x Lk exists, so any key count fits.
//
// Inputs are read through load_any_float (run-time dtypes): each element is loaded once per
// block and then reused from shared memory by kRowsPerBlock rows, so the switch costs little and
// the kernel is instantiated only per (head-dim bucket, dst dtype).
#include "backend/cuda/attention.cuh"

#include <algorithm>
#include <climits>
#include <cmath>

namespace inf::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kRowsPerWarp = 8;  // each K/V value read from shared memory feeds 8 rows' FMAs
constexpr int kRowsPerBlock = kWarps * kRowsPerWarp;
constexpr int kTileKeys = 64;               // two keys per lane
constexpr int kKeyStride = kTileKeys + 1;   // transposed K rows padded so tile stores avoid bank conflicts
constexpr int kMaxBatchPerLaunch = 256;     // key counts travel by value as a kernel argument
constexpr float kLog2e = 1.4426950408889634f;

// A [B, L, H, hd] view: base pointer, run-time dtype and element strides.
struct HeadView {
  const void* data = nullptr;
  DType dtype = DType::f32;
  int64_t batch_stride = 0, seq_stride = 0, head_stride = 0, dim_stride = 0;

  __device__ __forceinline__ float load(int64_t b, int64_t l, int64_t h, int64_t d) const {
    return load_any_float(data, dtype, b * batch_stride + l * seq_stride + h * head_stride + d * dim_stride);
  }
};

HeadView head_view(const Tensor& t) {
  const auto& s = t.strides();
  return HeadView{device_data(t), t.dtype(), s[0], s[1], s[2], s[3]};
}

// Keys each batch row of one launch attends to (its key_length, or Lk).
struct KeyCounts {
  int32_t count[kMaxBatchPerLaunch];
};

struct AttentionParams {
  HeadView q, k, v;
  int64_t q_len = 0;
  int64_t first_batch = 0;  // the batch row of blockIdx.z == 0 in this launch
  int heads = 0;
  int head_dim = 0;
  int padded_dim = 0;     // head_dim rounded up to 4: q rows and K tiles are read 4 dims at a time
  float q_scale = 0.0f;   // scale * log2(e)
};

// Dynamic shared memory, in floats. Every buffer starts at a multiple of 4 floats (float4 reads).
struct SharedLayout {
  int q_tile, probabilities, v_tile, k_tile, total;
};

__host__ __device__ __forceinline__ SharedLayout shared_layout(int padded_dim, int value_stride) {
  SharedLayout layout{};
  layout.q_tile = 0;                                                  // [kRowsPerBlock, padded_dim]
  layout.probabilities = layout.q_tile + kRowsPerBlock * padded_dim;  // [kRowsPerBlock, kTileKeys]
  layout.v_tile = layout.probabilities + kRowsPerBlock * kTileKeys;   // [kTileKeys, value_stride]
  layout.k_tile = layout.v_tile + kTileKeys * value_stride;           // [padded_dim, kKeyStride]
  layout.total = layout.k_tile + padded_dim * kKeyStride;
  return layout;
}

__device__ __forceinline__ float warp_max(float value) {
  for (int offset = 16; offset > 0; offset >>= 1) value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
  return value;
}

__device__ __forceinline__ float warp_sum(float value) {
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

template <int kDimChunks, typename Dst>
__global__ void __launch_bounds__(kThreads) attention_kernel(Dst* dst, AttentionParams p, KeyCounts counts) {
  constexpr int kValueStride = kDimChunks * 32;  // lane owns output dims lane + 32 * c
  extern __shared__ float4 shared_storage[];
  float* shared = reinterpret_cast<float*>(shared_storage);
  const SharedLayout layout = shared_layout(p.padded_dim, kValueStride);
  float* q_tile = shared + layout.q_tile;
  float* v_tile = shared + layout.v_tile;
  float* k_tile = shared + layout.k_tile;

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t h = blockIdx.y;
  const int64_t b = p.first_batch + blockIdx.z;
  const int key_count = counts.count[blockIdx.z];
  const int64_t first_row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock;
  auto dst_index = [&](int64_t row, int d) { return ((b * p.q_len + row) * p.heads + h) * p.head_dim + d; };

  if (key_count == 0) {  // no keys (an empty prompt): zero rows, as the interface defines
    for (int i = threadIdx.x; i < kRowsPerBlock * p.head_dim; i += kThreads) {
      const int64_t row = first_row + i / p.head_dim;
      if (row < p.q_len) store_from_float(dst, dst_index(row, i % p.head_dim), 0.0f);
    }
    return;
  }

  for (int r = warp; r < kRowsPerBlock; r += kWarps) {
    const int64_t row = first_row + r;
    for (int d = lane; d < p.padded_dim; d += 32)
      q_tile[r * p.padded_dim + d] = row < p.q_len && d < p.head_dim ? p.q.load(b, row, h, d) * p.q_scale : 0.0f;
  }

  float acc[kRowsPerWarp][kDimChunks];
  float running_max[kRowsPerWarp];
  float lane_sum[kRowsPerWarp];  // this lane's share of each row's softmax denominator
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    running_max[r] = -INFINITY;
    lane_sum[r] = 0.0f;
#pragma unroll
    for (int c = 0; c < kDimChunks; ++c) acc[r][c] = 0.0f;
  }
  const int64_t warp_first_row = first_row + warp * kRowsPerWarp;
  const bool warp_has_rows = warp_first_row < p.q_len;
  const float* warp_q = q_tile + warp * kRowsPerWarp * p.padded_dim;
  float* warp_p = shared + layout.probabilities + warp * kRowsPerWarp * kTileKeys;

  for (int tile_start = 0; tile_start < key_count; tile_start += kTileKeys) {
    __syncthreads();  // the q tile is complete, and every warp is done with the previous K/V tile
    for (int key = warp; key < kTileKeys; key += kWarps) {
      const int j = tile_start + key;
      const bool valid = j < key_count;
      for (int d = lane; d < p.padded_dim; d += 32)
        k_tile[d * kKeyStride + key] = valid && d < p.head_dim ? p.k.load(b, j, h, d) : 0.0f;
      for (int d = lane; d < kValueStride; d += 32)
        v_tile[key * kValueStride + d] = valid && d < p.head_dim ? p.v.load(b, j, h, d) : 0.0f;
    }
    __syncthreads();
    if (!warp_has_rows) continue;  // still reaches the barrier at the top of the next tile

    // Scores in log2 units; this lane's keys are tile_start + lane and tile_start + lane + 32.
    float score[kRowsPerWarp][2];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) score[r][0] = score[r][1] = 0.0f;
    for (int d = 0; d < p.padded_dim; d += 4) {
      float key0[4], key1[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        key0[i] = k_tile[(d + i) * kKeyStride + lane];
        key1[i] = k_tile[(d + i) * kKeyStride + lane + 32];
      }
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) {
        const float4 query = *reinterpret_cast<const float4*>(warp_q + r * p.padded_dim + d);  // broadcast
        score[r][0] = fmaf(query.x, key0[0], fmaf(query.y, key0[1], fmaf(query.z, key0[2], fmaf(query.w, key0[3], score[r][0]))));
        score[r][1] = fmaf(query.x, key1[0], fmaf(query.y, key1[1], fmaf(query.z, key1[2], fmaf(query.w, key1[3], score[r][1]))));
      }
    }

    // Online softmax: rescale what was accumulated under the old max, add this tile's weights.
    const bool valid0 = tile_start + lane < key_count;
    const bool valid1 = tile_start + lane + 32 < key_count;
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const float s0 = valid0 ? score[r][0] : -INFINITY;
      const float s1 = valid1 ? score[r][1] : -INFINITY;
      const float new_max = fmaxf(running_max[r], warp_max(fmaxf(s0, s1)));
      // Lane 0's key is always valid, so new_max is finite for finite inputs; the guard keeps
      // (-inf) - (-inf) = NaN out regardless.
      const float base = new_max == -INFINITY ? 0.0f : new_max;
      const float correction = exp2f(running_max[r] - base);  // 0 on the first tile
      const float p0 = exp2f(s0 - base), p1 = exp2f(s1 - base);
      running_max[r] = new_max;
      lane_sum[r] = lane_sum[r] * correction + p0 + p1;
#pragma unroll
      for (int c = 0; c < kDimChunks; ++c) acc[r][c] *= correction;
      warp_p[r * kTileKeys + lane] = p0;
      warp_p[r * kTileKeys + lane + 32] = p1;
    }
    __syncwarp();

    // acc += P V over this tile's keys, 4 keys at a time (masked keys have p = 0 and v = 0).
    const int tile_keys = min(kTileKeys, key_count - tile_start);
    for (int j = 0; j < tile_keys; j += 4) {
      float value[4][kDimChunks];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int c = 0; c < kDimChunks; ++c) value[i][c] = v_tile[(j + i) * kValueStride + lane + 32 * c];
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) {
        const float4 weight = *reinterpret_cast<const float4*>(warp_p + r * kTileKeys + j);  // broadcast
#pragma unroll
        for (int c = 0; c < kDimChunks; ++c)
          acc[r][c] = fmaf(weight.x, value[0][c],
                           fmaf(weight.y, value[1][c], fmaf(weight.z, value[2][c], fmaf(weight.w, value[3][c], acc[r][c]))));
      }
    }
    __syncwarp();  // warp_p is rewritten by the next tile
  }

  if (!warp_has_rows) return;
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const float total = warp_sum(lane_sum[r]);  // the whole warp reduces before any row is skipped
    const int64_t row = warp_first_row + r;
    if (row >= p.q_len) continue;
    const float inv_total = 1.0f / total;
#pragma unroll
    for (int c = 0; c < kDimChunks; ++c) {
      const int d = lane + 32 * c;
      if (d < p.head_dim) store_from_float(dst, dst_index(row, d), acc[r][c] * inv_total);
    }
  }
}

// Launches the kernel for one head-dim bucket, in slices of at most kMaxBatchPerLaunch batch rows.
template <int kDimChunks, typename Dst>
void launch_bucket(cudaStream_t stream, Dst* dst, AttentionParams params, const std::vector<int32_t>& key_counts) {
  const auto kernel = attention_kernel<kDimChunks, Dst>;
  const size_t shared_bytes = static_cast<size_t>(shared_layout(params.padded_dim, kDimChunks * 32).total) * sizeof(float);
  int device = 0, shared_limit = 0;
  cuda_check(cudaGetDevice(&device), "cudaGetDevice");
  cuda_check(cudaDeviceGetAttribute(&shared_limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
             "cudaDeviceGetAttribute (shared memory per block)");
  INF_CHECK(shared_bytes <= static_cast<size_t>(shared_limit), ErrorKind::unsupported, "cuda attention: head dim ",
            params.head_dim, " needs ", shared_bytes, " bytes of shared memory per block; this device allows ",
            shared_limit);
  // More than the default 48 KiB needs an opt-in; preferring shared memory over L1 lets two
  // blocks share an SM at hd 128.
  cuda_check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared_bytes)),
             "cudaFuncSetAttribute (attention shared memory)");
  cuda_check(cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout, cudaSharedmemCarveoutMaxShared),
             "cudaFuncSetAttribute (attention carveout)");
  const int64_t query_tiles = (params.q_len + kRowsPerBlock - 1) / kRowsPerBlock;
  const auto batch = static_cast<int64_t>(key_counts.size());
  for (int64_t first = 0; first < batch; first += kMaxBatchPerLaunch) {
    const int64_t rows = std::min<int64_t>(kMaxBatchPerLaunch, batch - first);
    KeyCounts counts{};
    for (int64_t i = 0; i < rows; ++i) counts.count[i] = key_counts[static_cast<size_t>(first + i)];
    params.first_batch = first;
    const dim3 grid(static_cast<unsigned>(query_tiles), static_cast<unsigned>(params.heads), static_cast<unsigned>(rows));
    kernel<<<grid, kThreads, shared_bytes, stream>>>(dst, params, counts);
    check_launch("attention_kernel");
  }
}

}  // namespace

void launch_attention(cudaStream_t stream, const Tensor& dst, const Tensor& q, const Tensor& k, const Tensor& v,
                      float scale, const std::vector<int32_t>* key_lengths) {
  if (dst.numel() == 0) return;
  const int64_t batch = q.dim(0), q_len = q.dim(1), heads = q.dim(2), head_dim = q.dim(3), k_len = k.dim(1);
  INF_CHECK(head_dim <= kAttentionMaxHeadDim, ErrorKind::unsupported, "cuda attention: head dim ", head_dim,
            " of q ", q.describe(), " is above the kernel's ", kAttentionMaxHeadDim);
  INF_CHECK(heads <= 65535 && k_len <= INT_MAX && (q_len + kRowsPerBlock - 1) / kRowsPerBlock <= INT_MAX,
            ErrorKind::unsupported, "cuda attention: q ", q.describe(), " / k ", k.describe(),
            " exceed the launch grid (at most 65535 heads and 2^31 - 1 keys)");
  AttentionParams params;
  params.q = head_view(q);
  params.k = head_view(k);
  params.v = head_view(v);
  params.q_len = q_len;
  params.heads = static_cast<int>(heads);
  params.head_dim = static_cast<int>(head_dim);
  params.padded_dim = static_cast<int>((head_dim + 3) / 4 * 4);
  params.q_scale = scale * kLog2e;
  const std::vector<int32_t> key_counts =
      key_lengths != nullptr ? *key_lengths : std::vector<int32_t>(static_cast<size_t>(batch), static_cast<int32_t>(k_len));
  dispatch_float_dtype(dst.dtype(), [&](auto tag) {
    using Dst = typename decltype(tag)::type;
    Dst* out = static_cast<Dst*>(device_data(dst));
    if (head_dim <= 64) {
      launch_bucket<2>(stream, out, params, key_counts);
    } else if (head_dim <= 128) {
      launch_bucket<4>(stream, out, params, key_counts);
    } else {
      launch_bucket<8>(stream, out, params, key_counts);
    }
  });
}

}  // namespace inf::cuda
