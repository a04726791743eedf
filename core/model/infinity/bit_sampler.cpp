#include "model/infinity/bit_sampler.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/error.h"
#include "common/thread_pool.h"
#include "model/infinity/philox.h"

namespace inf {
namespace {

void check_host_tensor(const Tensor& tensor, DType dtype, int ndim, const char* what) {
  INF_CHECK(tensor.defined(), ErrorKind::invalid_argument, what, " is not set");
  INF_CHECK(tensor.dtype() == dtype && tensor.ndim() == ndim, ErrorKind::invalid_argument, what, " must be ",
            dtype_name(dtype), " with ", ndim, " dims, got ", tensor.describe());
  INF_CHECK(tensor.device().is_cpu() && tensor.is_contiguous(), ErrorKind::invalid_argument, what,
            " must be a contiguous host tensor, got ", tensor.describe());
}

// One output axis of a bilinear resize (align_corners = false): output cell o reads input cells
// index0[o] and index1[o] with weights weight0[o] and weight1[o]. Rounded as PyTorch's CPU kernel
// does: ratio = in / out in fp32, but the source coordinate ratio * (o + 0.5) - 0.5 (clamped at 0)
// in double (its CPU accumulate type), weight1 = fp32(src - index0) and weight0 = 1 - weight1 in
// fp32. Equal sizes copy (weights 1 and 0). Checked bit for bit against the golden files.
struct AxisTaps {
  std::vector<int64_t> index0, index1;
  std::vector<float> weight0, weight1;
};

AxisTaps linear_taps(int64_t in_size, int64_t out_size) {
  AxisTaps taps;
  const auto out = static_cast<size_t>(out_size);
  taps.index0.resize(out);
  taps.index1.resize(out);
  taps.weight0.resize(out);
  taps.weight1.resize(out);
  const float ratio = static_cast<float>(in_size) / static_cast<float>(out_size);
  for (size_t o = 0; o < out; ++o) {
    if (in_size == out_size) {
      taps.index0[o] = taps.index1[o] = static_cast<int64_t>(o);
      taps.weight0[o] = 1.0f;
      taps.weight1[o] = 0.0f;
      continue;
    }
    const double source = std::max(static_cast<double>(ratio) * (static_cast<double>(o) + 0.5) - 0.5, 0.0);
    const auto index0 = static_cast<int64_t>(source);
    taps.index0[o] = index0;
    taps.index1[o] = index0 < in_size - 1 ? index0 + 1 : index0;
    taps.weight1[o] = static_cast<float>(std::min(source - static_cast<double>(index0), 1.0));
    taps.weight0[o] = 1.0f - taps.weight1[o];
  }
  return taps;
}

// dst[B, C, out_h, out_w] = bilinear resize of src[B, C, in_h, in_w] (both contiguous f32).
// The reference's tensors here are channels-last views (codes come out of a rearrange), so
// PyTorch runs its channels-last kernel: per output, weights w_yx = wy * wx in fp32 and
//   v = p00*w00 + (p01*w01 + (p10*w10 + p11*w11))
// where its vectorised build contracts each step into an FMA. The 5-D trilinear call has a
// trivial T axis whose weights 1 and 0 change nothing. Reproducing this order makes the next
// scale's input bit-identical to the reference's (a plain separable lerp differs by an ulp or
// two in about a quarter of the values).
void resize_bilinear_host(const Tensor& src, const Tensor& dst) {
  const int64_t planes = src.dim(0) * src.dim(1);
  const int64_t in_h = src.dim(2), in_w = src.dim(3), out_h = dst.dim(2), out_w = dst.dim(3);
  const AxisTaps rows = linear_taps(in_h, out_h);
  const AxisTaps cols = linear_taps(in_w, out_w);
  const float* in = src.data_as<float>();
  float* out = dst.data_as<float>();
  for (int64_t plane = 0; plane < planes; ++plane) {
    const float* in_plane = in + plane * in_h * in_w;
    float* out_plane = out + plane * out_h * out_w;
    for (int64_t y = 0; y < out_h; ++y) {
      const auto ty = static_cast<size_t>(y);
      const float* row0 = in_plane + rows.index0[ty] * in_w;
      const float* row1 = in_plane + rows.index1[ty] * in_w;
      for (int64_t x = 0; x < out_w; ++x) {
        const auto tx = static_cast<size_t>(x);
        const int64_t x0 = cols.index0[tx], x1 = cols.index1[tx];
        const float w00 = rows.weight0[ty] * cols.weight0[tx], w01 = rows.weight0[ty] * cols.weight1[tx];
        const float w10 = rows.weight1[ty] * cols.weight0[tx], w11 = rows.weight1[ty] * cols.weight1[tx];
        const float partial = std::fma(row1[x0], w10, row1[x1] * w11);
        out_plane[y * out_w + x] = std::fma(row0[x0], w00, std::fma(row0[x1], w01, partial));
      }
    }
  }
}

// |code| of every channel for d bits per token. The reference maps bit b to b*2s - s = ±s with
// s = fp32(1/sqrt(d)) (a Python double applied to an fp32 tensor), then L2-normalises each
// token's d-vector. Every entry has magnitude s, so the norm is the same for all tokens:
// sqrt(fp32 sum of d copies of s^2). It is exactly 1 for d = 16 or 64, but 0.99999994 for d = 32
// (and 14), where the division moves s by one ulp; so it is applied rather than skipped. The sum
// runs sequentially, which for d = 14, 16, 32 and 64 rounds like PyTorch's vectorised CPU norm.
float code_magnitude(int64_t channels) {
  const auto scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(channels)));
  const float square = scale * scale;
  float sum_of_squares = 0.0f;
  for (int64_t c = 0; c < channels; ++c) sum_of_squares += square;
  return scale / std::sqrt(sum_of_squares);
}

}  // namespace

void mix_cfg_logits(const Tensor& cond, const Tensor& uncond, float cfg, float tau, const Tensor& out) {
  check_host_tensor(cond, DType::f32, 3, "cond logits");
  check_host_tensor(uncond, DType::f32, 3, "uncond logits");
  check_host_tensor(out, DType::f32, 3, "mixed logits");
  INF_CHECK(cond.shape() == uncond.shape() && cond.shape() == out.shape(), ErrorKind::invalid_argument,
            "CFG needs cond, uncond and output of one shape, got ", cond.describe(), ", ", uncond.describe(), " and ",
            out.describe());
  INF_CHECK(std::isfinite(tau) && tau > 0.0f, ErrorKind::invalid_argument, "tau must be positive, got ", tau);
  INF_CHECK(std::isfinite(cfg), ErrorKind::invalid_argument, "cfg must be finite, got ", cfg);
  // The reference's `logits.mul(1/tau)` and `(1 - cfg) * ...` take Python doubles that the fp32
  // tensor ops round to fp32. Each product is rounded separately: a build that contracts the sum
  // below into an FMA (-march=native -ffp-contract=fast) changes last bits, which the golden
  // test would report.
  const auto inv_tau = static_cast<float>(1.0 / static_cast<double>(tau));
  const float cond_weight = cfg;
  const auto uncond_weight = static_cast<float>(1.0 - static_cast<double>(cfg));
  const float* c = cond.data_as<float>();
  const float* u = uncond.data_as<float>();
  float* o = out.data_as<float>();
  parallel_for(cond.numel(), 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float scaled_cond = c[i] * inv_tau;
      const float scaled_uncond = u[i] * inv_tau;
      o[i] = cond_weight * scaled_cond + uncond_weight * scaled_uncond;
    }
  });
}

float bit_uniform(uint64_t seed, int64_t image, int scale, int64_t token, int bit) {
  const PhiloxKey key = {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  const PhiloxCounter counter = {static_cast<uint32_t>(token), static_cast<uint32_t>(bit / 4),
                                 static_cast<uint32_t>(scale), static_cast<uint32_t>(image)};
  return philox_uniform(philox4x32_10(counter, key)[static_cast<size_t>(bit % 4)]);
}

uint8_t sample_bit(float logit0, float logit1, const SamplingParams& params, float uniform) {
  const float margin = logit1 - logit0;  // log(p1 / p0)
  INF_CHECK(!std::isnan(margin), ErrorKind::invalid_data, "a logit pair (", logit0, ", ", logit1,
            ") is NaN or (inf, inf); cannot sample");
  const uint8_t likelier = margin > 0.0f ? 1 : 0;  // ties go to class 0
  if (params.top_k == 1) return likelier;
  if (params.top_p > 0.0f && params.top_p < 1.0f) {
    // The smaller probability 1 / (1 + e^|margin|), written so that it does not cancel.
    const float smaller = 1.0f / (1.0f + std::exp(std::fabs(margin)));
    const auto threshold = static_cast<float>(1.0 - static_cast<double>(params.top_p));
    if (smaller <= threshold) return likelier;
  }
  const float p1 = 1.0f / (1.0f + std::exp(-margin));
  return uniform < p1 ? 1 : 0;
}

void sample_bits(const Tensor& mixed_logits, const SamplingParams& params, int scale_index, int first_image_index,
                 const Tensor& bits_out) {
  check_host_tensor(mixed_logits, DType::f32, 3, "mixed logits");
  check_host_tensor(bits_out, DType::u8, 3, "sampled bits");
  const int64_t batch = mixed_logits.dim(0), tokens = mixed_logits.dim(1), pair_values = mixed_logits.dim(2);
  INF_CHECK(pair_values % 2 == 0 && bits_out.shape() == (Shape{batch, tokens, pair_values / 2}),
            ErrorKind::invalid_argument, "bits ", bits_out.describe(), " do not match logit pairs ",
            mixed_logits.describe(), " (expected [B, n, 2d] -> [B, n, d])");
  INF_CHECK(scale_index >= 0 && first_image_index >= 0, ErrorKind::invalid_argument,
            "scale and image indices must be non-negative, got ", scale_index, " and ", first_image_index);
  const int bits_per_token = static_cast<int>(pair_values / 2);
  const float* logits = mixed_logits.data_as<float>();
  uint8_t* bits = bits_out.data_as<uint8_t>();
  // One row = one token of one image; each bit's uniform is addressed by its indices alone.
  parallel_for(batch * tokens, 64, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t image = first_image_index + row / tokens;
      const int64_t token = row % tokens;
      const float* pairs = logits + row * pair_values;
      for (int j = 0; j < bits_per_token; ++j) {
        const float uniform = bit_uniform(params.seed, image, scale_index, token, j);
        bits[row * bits_per_token + j] = sample_bit(pairs[2 * j], pairs[2 * j + 1], params, uniform);
      }
    }
  });
}

Tensor bits_to_codes(const Tensor& bits, int h, int w) {
  check_host_tensor(bits, DType::u8, 3, "bits");
  INF_CHECK(h > 0 && w > 0 && bits.dim(1) == static_cast<int64_t>(h) * w, ErrorKind::invalid_argument, "bits ",
            bits.describe(), " do not hold a ", h, "x", w, " grid of tokens");
  const int64_t batch = bits.dim(0), tokens = bits.dim(1), channels = bits.dim(2);
  INF_CHECK(channels > 0, ErrorKind::invalid_argument, "bits ", bits.describe(), " have no channels");
  const float magnitude = code_magnitude(channels);
  Tensor codes = Tensor::host(DType::f32, {batch, channels, h, w});  // [B, d, h, w]
  const uint8_t* in = bits.data_as<uint8_t>();
  float* out = codes.data_as<float>();
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t c = 0; c < channels; ++c) {
        const uint8_t bit = in[(b * tokens + t) * channels + c];
        INF_CHECK(bit <= 1, ErrorKind::invalid_argument, "bit values must be 0 or 1, found ", int{bit});
        out[(b * channels + c) * tokens + t] = bit ? magnitude : -magnitude;
      }
    }
  }
  return codes;
}

void add_upsampled(Tensor& summed, const Tensor& codes) {
  check_host_tensor(summed, DType::f32, 4, "summed codes");
  check_host_tensor(codes, DType::f32, 4, "codes");
  INF_CHECK(codes.dim(0) == summed.dim(0) && codes.dim(1) == summed.dim(1) && codes.dim(2) <= summed.dim(2) &&
                codes.dim(3) <= summed.dim(3),
            ErrorKind::invalid_argument, "codes ", codes.describe(), " cannot be added into summed codes ",
            summed.describe());
  float* sum = summed.data_as<float>();
  const float* addend = codes.data_as<float>();
  Tensor upsampled;  // [B, d, HL, WL], only when the grid differs
  if (codes.shape() != summed.shape()) {
    upsampled = Tensor::host(DType::f32, summed.shape());
    resize_bilinear_host(codes, upsampled);
    addend = upsampled.data_as<float>();
  }
  const int64_t count = summed.numel();
  for (int64_t i = 0; i < count; ++i) sum[i] += addend[i];
}

Tensor downsample_for_next_scale(const Tensor& summed, int h, int w) {
  check_host_tensor(summed, DType::f32, 4, "summed codes");
  INF_CHECK(h > 0 && w > 0, ErrorKind::invalid_argument, "next grid must be positive, got ", h, "x", w);
  Tensor next = Tensor::host(DType::f32, {summed.dim(0), summed.dim(1), h, w});  // [B, d, h, w]
  resize_bilinear_host(summed, next);
  return next;
}

Tensor flatten_tokens(const Tensor& nchw) {
  check_host_tensor(nchw, DType::f32, 4, "code grid");
  const int64_t batch = nchw.dim(0), channels = nchw.dim(1), tokens = nchw.dim(2) * nchw.dim(3);
  Tensor flat = Tensor::host(DType::f32, {batch, tokens, channels});  // [B, h*w, d]
  const float* in = nchw.data_as<float>();
  float* out = flat.data_as<float>();
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t t = 0; t < tokens; ++t) out[(b * tokens + t) * channels + c] = in[(b * channels + c) * tokens + t];
  return flat;
}

Tensor unpatchify_bits(const Tensor& bits, int h, int w, int patch) {
  INF_CHECK(patch >= 1 && bits.dtype() == DType::u8 && bits.ndim() == 3 && bits.is_contiguous() &&
                bits.dim(1) == static_cast<int64_t>(h) * w && bits.dim(2) % (patch * patch) == 0,
            ErrorKind::invalid_argument, "unpatchify_bits: bits ", bits.describe(), " do not fit a ", h, "x", w,
            " grid with ", patch, "x", patch, " patches");
  if (patch == 1) return bits;
  const int64_t batch = bits.dim(0), token_bits = bits.dim(2), vae_bits = token_bits / (patch * patch);
  const int64_t vae_w = static_cast<int64_t>(w) * patch;
  Tensor out = Tensor::host(DType::u8, {batch, static_cast<int64_t>(h) * patch * vae_w, vae_bits});  // [B, (ph)(pw), dv]
  const uint8_t* in = bits.data_as<uint8_t>();
  uint8_t* result = out.data_as<uint8_t>();
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        for (int64_t c = 0; c < vae_bits; ++c)
          for (int64_t i = 0; i < patch; ++i)
            for (int64_t j = 0; j < patch; ++j) {
              const int64_t token = (b * h + y) * w + x;
              const int64_t pixel = (patch * y + i) * vae_w + patch * x + j;
              result[(b * out.dim(1) + pixel) * vae_bits + c] = in[token * token_bits + (c * patch + i) * patch + j];
            }
  return out;
}

Tensor patchify_latent(const Tensor& nchw, int patch) {
  INF_CHECK(patch >= 1 && nchw.dtype() == DType::f32 && nchw.ndim() == 4 && nchw.is_contiguous() &&
                nchw.dim(2) % patch == 0 && nchw.dim(3) % patch == 0,
            ErrorKind::invalid_argument, "patchify_latent: ", nchw.describe(), " does not split into ", patch, "x",
            patch, " patches");
  if (patch == 1) return nchw;
  const int64_t batch = nchw.dim(0), channels = nchw.dim(1), h = nchw.dim(2) / patch, w = nchw.dim(3) / patch;
  Tensor out = Tensor::host(DType::f32, {batch, channels * patch * patch, h, w});  // [B, p*p*dv, h, w]
  const float* in = nchw.data_as<float>();
  float* result = out.data_as<float>();
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < patch; ++i)
        for (int64_t j = 0; j < patch; ++j)
          for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x)
              result[((b * channels * patch * patch + (c * patch + i) * patch + j) * h + y) * w + x] =
                  in[((b * channels + c) * nchw.dim(2) + patch * y + i) * nchw.dim(3) + patch * x + j];
  return out;
}

}  // namespace inf
