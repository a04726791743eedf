// 2-D convolution on the CPU: im2col + BLAS, one chunk of output pixels at a time.
//
// A full im2col matrix of the VAE decoder's 1024x1024, 128-channel 3x3 convs would be
// 128*9 x 1024*1024 floats (4.5 GiB), so output pixels (row-major over [Ho, Wo], i.e. bands of
// output rows, split inside a row when one row is already too wide) are cut into chunks small
// enough that every thread's column matrix fits in a shared 64 MiB budget. Each chunk is one
// single-threaded sgemm, out[Cout, n] = W[Cout, K] @ columns[K, n] with K = Cin*kh*kw, and the
// chunks are spread over the CPU pool (BLAS itself runs on 1 thread, see backend_cpu.cpp).
// 1x1 stride-1 unpadded convs on f32 inputs whose planes are contiguous skip im2col: the input
// plane already is the [Cin, H*W] column matrix.
#include <cblas.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "backend/cpu/cpu_ops.h"
#include "common/error.h"
#include "common/thread_pool.h"

namespace inf::cpu {
namespace {

// All threads' scratch together (column matrices plus f32 output rows for bf16/f16 outputs).
constexpr int64_t kScratchBudgetFloats = int64_t{16} << 20;  // 64 MiB
// Chunks narrower than this make BLAS calls dominated by their fixed cost.
constexpr int64_t kMinChunkPixels = 64;

struct ConvGeometry {
  int64_t batch = 0, in_channels = 0, in_h = 0, in_w = 0;
  int64_t out_channels = 0, kernel_h = 0, kernel_w = 0, out_h = 0, out_w = 0;
  int64_t stride = 1, pad_top = 0, pad_left = 0;

  int64_t patch_size() const { return in_channels * kernel_h * kernel_w; }  // K of the GEMM
  int64_t out_pixels() const { return out_h * out_w; }
};

// Reads element `index` of a host tensor of dtype D as f32. D is a template parameter so the
// im2col loops carry no dtype switch; with_float_dtype() is the one switch.
template <DType D>
float widen_at(const void* base, int64_t index) {
  if constexpr (D == DType::f32) {
    return static_cast<const float*>(base)[index];
  } else if constexpr (D == DType::bf16) {
    return bf16_to_f32(static_cast<const uint16_t*>(base)[index]);
  } else {
    return f16_to_f32(static_cast<const uint16_t*>(base)[index]);
  }
}

template <typename Fn>
void with_float_dtype(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::f32: return fn(std::integral_constant<DType, DType::f32>{});
    case DType::bf16: return fn(std::integral_constant<DType, DType::bf16>{});
    case DType::f16: return fn(std::integral_constant<DType, DType::f16>{});
    default: fail(ErrorKind::internal, "conv2d: no float reader for ", dtype_name(dtype));
  }
}

// out[i] = element start + i*step, widened. The unit-step branch lets the compiler vectorise.
template <DType D>
void widen_run(const void* base, int64_t start, int64_t step, int64_t count, float* out) {
  if (step == 1) {
    for (int64_t i = 0; i < count; ++i) out[i] = widen_at<D>(base, start + i);
  } else {
    for (int64_t i = 0; i < count; ++i) out[i] = widen_at<D>(base, start + i * step);
  }
}

// dst elements [start, start + count) = values, rounded to dst's bf16/f16 dtype.
void narrow_run(const Tensor& dst, int64_t start, const float* values, int64_t count) {
  auto* out = static_cast<uint16_t*>(dst.data()) + start;
  if (dst.dtype() == DType::bf16) {
    for (int64_t i = 0; i < count; ++i) out[i] = f32_to_bf16(values[i]);
  } else {
    for (int64_t i = 0; i < count; ++i) out[i] = f32_to_f16(values[i]);
  }
}

// For kernel column kx: the output columns [first, last) whose input column lies inside the
// image; the rest read zero padding. Independent of the output row, so computed once.
struct ValidColumns {
  int64_t first = 0, last = 0;
};

std::vector<ValidColumns> valid_columns(const ConvGeometry& g) {
  std::vector<ValidColumns> result(static_cast<size_t>(g.kernel_w));
  for (int64_t kx = 0; kx < g.kernel_w; ++kx) {
    const int64_t shift = kx - g.pad_left;  // input column = ox * stride + shift
    const int64_t first = shift >= 0 ? 0 : (-shift + g.stride - 1) / g.stride;
    const int64_t last = g.in_w - 1 - shift >= 0 ? (g.in_w - 1 - shift) / g.stride + 1 : 0;
    result[static_cast<size_t>(kx)] = {std::min(first, g.out_w), std::clamp(last, std::min(first, g.out_w), g.out_w)};
  }
  return result;
}

// columns[K, pixels] (row-major) for output pixels [first_pixel, first_pixel + pixels) of image
// b: row k = (ci, ky, kx) holds the input value each of those pixels multiplies with weight
// column k, zero where the kernel hangs over the padding.
template <DType D>
void im2col_chunk(const Tensor& src, const ConvGeometry& g, const std::vector<ValidColumns>& valid, int64_t b,
                  int64_t first_pixel, int64_t pixels, float* columns) {
  const auto& s = src.strides();
  const void* base = src.data();
  const int64_t column_step = g.stride * s[3];
  float* row = columns;
  for (int64_t ci = 0; ci < g.in_channels; ++ci)
    for (int64_t ky = 0; ky < g.kernel_h; ++ky)
      for (int64_t kx = 0; kx < g.kernel_w; ++kx, row += pixels) {
        const ValidColumns& inside = valid[static_cast<size_t>(kx)];
        // Walk the chunk one output-row segment [ox_begin, ox_end) at a time.
        for (int64_t p = first_pixel; p < first_pixel + pixels;) {
          const int64_t oy = p / g.out_w, ox_begin = p % g.out_w;
          const int64_t ox_end = std::min(g.out_w, ox_begin + (first_pixel + pixels - p));
          float* out = row + (p - first_pixel);  // out[i] is output column ox_begin + i
          const int64_t iy = oy * g.stride - g.pad_top + ky;
          const int64_t lo = std::clamp(inside.first, ox_begin, ox_end);
          const int64_t hi = iy < 0 || iy >= g.in_h ? lo : std::clamp(inside.last, lo, ox_end);
          std::fill(out, out + (lo - ox_begin), 0.0f);
          if (hi > lo) {
            const int64_t start = b * s[0] + ci * s[1] + iy * s[2] + (lo * g.stride + kx - g.pad_left) * s[3];
            widen_run<D>(base, start, column_step, hi - lo, out + (lo - ox_begin));
          }
          std::fill(out + (hi - ox_begin), out + (ox_end - ox_begin), 0.0f);
          p += ox_end - ox_begin;
        }
      }
}

// The weight as a row-major f32 [Cout, K] matrix: the tensor itself when it is contiguous f32,
// else a widened copy (bf16 weights are the VAE's usual case).
const float* weight_matrix(const Tensor& weight, std::vector<float>& scratch) {
  if (weight.dtype() == DType::f32 && weight.is_contiguous()) return static_cast<const float*>(weight.data());
  scratch.resize(static_cast<size_t>(weight.numel()));
  if (weight.is_contiguous()) {
    with_float_dtype(weight.dtype(), [&](auto dtype) {
      parallel_for(weight.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
        widen_run<decltype(dtype)::value>(weight.data(), begin, 1, end - begin, scratch.data() + begin);
      });
    });
    return scratch.data();
  }
  const ElementOffsets offsets(weight);
  parallel_for(weight.numel(), 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      scratch[static_cast<size_t>(i)] = load_float(weight.data(), weight.dtype(), offsets(i));
  });
  return scratch.data();
}

// Whether image b's [Cin, H*W] plane stack can feed BLAS directly as the column matrix of a
// 1x1, stride-1, unpadded conv: f32, pixels contiguous within a plane, planes not overlapping.
bool input_is_column_matrix(const Tensor& src, const ConvGeometry& g, const Conv2dParams& params) {
  const auto& s = src.strides();
  const bool pointwise = g.kernel_h == 1 && g.kernel_w == 1 && params.stride == 1 && params.pad_top == 0 &&
                         params.pad_bottom == 0 && params.pad_left == 0 && params.pad_right == 0;
  const bool plane_contiguous = (g.in_w == 1 || s[3] == 1) && (g.in_h == 1 || s[2] == g.in_w);
  return pointwise && src.dtype() == DType::f32 && plane_contiguous &&
         (g.in_channels == 1 || s[1] >= g.out_pixels());
}

// Pixels per chunk: within each thread's share of the scratch budget, and small enough that
// there are a multiple of the thread count of chunks (the pool hands each thread an equal run of
// chunks, so a remainder would leave threads idle for a whole chunk).
int64_t chunk_pixels(const ConvGeometry& g, int64_t scratch_per_pixel) {
  const int64_t threads = cpu_thread_count();
  const int64_t pixels = g.out_pixels();
  const int64_t budget_chunk = std::max<int64_t>(1, kScratchBudgetFloats / threads / std::max<int64_t>(1, scratch_per_pixel));
  const int64_t needed_chunks = g.batch * ((pixels + budget_chunk - 1) / budget_chunk);
  const int64_t target_chunks = (std::max(needed_chunks, threads) + threads - 1) / threads * threads;
  const int64_t chunks_per_image = (target_chunks + g.batch - 1) / g.batch;
  const int64_t chunk = (pixels + chunks_per_image - 1) / chunks_per_image;
  return std::min({std::max(chunk, std::min(kMinChunkPixels, budget_chunk)), budget_chunk, pixels});
}

void check_conv_arguments(const Tensor& dst, const Tensor& src, const Tensor& weight, const Tensor* bias,
                          const Conv2dParams& params) {
  require_contiguous_output("conv2d", dst);
  require_float("conv2d", dst);
  require_float("conv2d", src);
  require_float("conv2d", weight);
  INF_CHECK(src.ndim() == 4 && weight.ndim() == 4 && weight.dim(1) == src.dim(1), ErrorKind::invalid_argument,
            "conv2d: src ", src.describe(), " and weight ", weight.describe(),
            " should be [B, Cin, H, W] and [Cout, Cin, kh, kw] with the same Cin");
  INF_CHECK(params.stride >= 1 && params.pad_top >= 0 && params.pad_bottom >= 0 && params.pad_left >= 0 &&
                params.pad_right >= 0,
            ErrorKind::invalid_argument, "conv2d: stride ", params.stride, " must be >= 1 and paddings (",
            params.pad_top, ", ", params.pad_bottom, ", ", params.pad_left, ", ", params.pad_right, ") >= 0");
  const int64_t padded_h = src.dim(2) + params.pad_top + params.pad_bottom;
  const int64_t padded_w = src.dim(3) + params.pad_left + params.pad_right;
  INF_CHECK(weight.dim(2) >= 1 && weight.dim(3) >= 1 && padded_h >= weight.dim(2) && padded_w >= weight.dim(3),
            ErrorKind::invalid_argument, "conv2d: kernel of weight ", weight.describe(),
            " does not fit the padded input of src ", src.describe());
  const Shape expected{src.dim(0), weight.dim(0), (padded_h - weight.dim(2)) / params.stride + 1,
                       (padded_w - weight.dim(3)) / params.stride + 1};
  INF_CHECK(dst.shape() == expected, ErrorKind::invalid_argument, "conv2d: output ", dst.describe(),
            " should have shape ", shape_string(expected), " for src ", src.describe(), ", weight ",
            weight.describe(), " and stride ", params.stride);
  if (bias != nullptr) {
    require_float("conv2d bias", *bias);
    INF_CHECK(bias->shape() == Shape{weight.dim(0)}, ErrorKind::invalid_argument, "conv2d: bias ", bias->describe(),
              " should be [", weight.dim(0), "]");
  }
}

}  // namespace

void conv2d(const Tensor& dst, const Tensor& src, const Tensor& weight, const Tensor* bias,
            const Conv2dParams& params) {
  check_conv_arguments(dst, src, weight, bias, params);
  ConvGeometry g;
  g.batch = src.dim(0);
  g.in_channels = src.dim(1);
  g.in_h = src.dim(2);
  g.in_w = src.dim(3);
  g.out_channels = weight.dim(0);
  g.kernel_h = weight.dim(2);
  g.kernel_w = weight.dim(3);
  g.out_h = dst.dim(2);
  g.out_w = dst.dim(3);
  g.stride = params.stride;
  g.pad_top = params.pad_top;
  g.pad_left = params.pad_left;
  if (dst.numel() == 0) return;

  std::vector<float> bias_values(static_cast<size_t>(g.out_channels), 0.0f);
  if (bias != nullptr) {
    const ElementOffsets offsets(*bias);
    for (int64_t c = 0; c < g.out_channels; ++c)
      bias_values[static_cast<size_t>(c)] = load_float(bias->data(), bias->dtype(), offsets(c));
  }
  std::vector<float> weight_scratch;
  const float* weights = weight_matrix(weight, weight_scratch);  // [Cout, K]

  const int64_t k = g.patch_size(), pixels = g.out_pixels();
  const bool direct = input_is_column_matrix(src, g, params);
  const bool f32_out = dst.dtype() == DType::f32;
  const int64_t chunk = chunk_pixels(g, (direct ? 0 : k) + (f32_out ? 0 : g.out_channels));
  const int64_t chunks_per_image = (pixels + chunk - 1) / chunk;
  const std::vector<ValidColumns> valid = valid_columns(g);

  with_float_dtype(src.dtype(), [&](auto src_dtype) {
    constexpr DType kSrc = decltype(src_dtype)::value;
    parallel_for(g.batch * chunks_per_image, 1, [&](int64_t first_task, int64_t end_task) {
      // Per-thread scratch: one chunk's columns [K, chunk] and f32 outputs [Cout, chunk].
      std::vector<float> columns(direct ? 0 : static_cast<size_t>(k * chunk));
      std::vector<float> narrow_rows(f32_out ? 0 : static_cast<size_t>(g.out_channels * chunk));
      for (int64_t task = first_task; task < end_task; ++task) {
        const int64_t b = task / chunks_per_image;
        const int64_t first_pixel = task % chunks_per_image * chunk;
        const int64_t n = std::min(chunk, pixels - first_pixel);
        const float* column_matrix = columns.data();
        int64_t column_ld = n;
        if (direct) {
          column_matrix = static_cast<const float*>(src.data()) + b * src.strides()[0] + first_pixel;
          column_ld = g.in_channels == 1 ? pixels : src.strides()[1];
        } else {
          im2col_chunk<kSrc>(src, g, valid, b, first_pixel, n, columns.data());
        }
        // The chunk's outputs of channel co are contiguous in dst: plane co, pixels [first, first + n).
        const int64_t dst_start = b * g.out_channels * pixels + first_pixel;
        float* out = f32_out ? static_cast<float*>(dst.data()) + dst_start : narrow_rows.data();
        const int64_t out_ld = f32_out ? pixels : n;
        if (k == 0) {
          for (int64_t co = 0; co < g.out_channels; ++co) std::fill(out + co * out_ld, out + co * out_ld + n, 0.0f);
        } else {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(g.out_channels),
                      static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, weights, static_cast<blasint>(k),
                      column_matrix, static_cast<blasint>(column_ld), 0.0f, out, static_cast<blasint>(out_ld));
        }
        for (int64_t co = 0; co < g.out_channels; ++co) {
          float* values = out + co * out_ld;
          const float shift = bias_values[static_cast<size_t>(co)];
          if (bias != nullptr)
            for (int64_t i = 0; i < n; ++i) values[i] += shift;
          if (!f32_out) narrow_run(dst, dst_start + co * pixels, values, n);
        }
      }
    });
  });
}

}  // namespace inf::cpu
