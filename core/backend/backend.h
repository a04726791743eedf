// The backend interface: memory plus one table of ops. The CPU backend implements every
// op in plain fp32 and is the reference; every other backend is tested against it by
// tests/ops (the op-consistency harness). Model code sees only Backend&.
//
// Execution model: ops are enqueued in call order on the backend's stream. The CPU backend
// runs each op before returning; a device backend may return at once. Host memory handed to
// upload()/download() must stay alive and untouched until synchronize() returns.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace inf {

enum class UnaryOp {
  gelu_tanh,  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), PyTorch's approximate="tanh"
  silu,       // x * sigmoid(x), a.k.a. swish
  neg,
  exp,
};

enum class BinaryOp { add, sub, mul };

const char* unary_op_name(UnaryOp op);
const char* binary_op_name(BinaryOp op);

struct MatmulOptions {
  // true: b is [N, K] (PyTorch Linear weight layout); false: b is [K, N].
  bool transpose_b = true;
  float alpha = 1.0f;
  // Optional [N] vector added to every output row after scaling.
  const Tensor* bias = nullptr;
};

struct Conv2dParams {
  int stride = 1;
  int pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  static Conv2dParams same(int pad) { return {1, pad, pad, pad, pad}; }
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;  // "cpu", "cuda:0"
  virtual Device device() const = 0;

  // ---- memory ----
  // A contiguous tensor in this backend's memory. Contents are unspecified.
  virtual Tensor alloc(DType dtype, const Shape& shape) = 0;
  // Same dtype and shape, both contiguous; `src`/`dst` is a host tensor.
  virtual void upload(const Tensor& dst, const Tensor& src) = 0;
  virtual void download(const Tensor& dst, const Tensor& src) = 0;
  // Waits until every enqueued op and copy has finished; rethrows device errors.
  virtual void synchronize() = 0;

  // ---- ops ----
  // Outputs are allocated by the caller and must be contiguous; inputs may be strided views
  // unless an op says otherwise. Float ops accept f32, bf16 and f16 for every tensor and
  // compute in fp32.

  // dst = src converted to dst's dtype (any float <-> any float, or same-dtype copy of any dtype).
  virtual void convert(const Tensor& dst, const Tensor& src) = 0;
  virtual void unary(UnaryOp op, const Tensor& dst, const Tensor& src) = 0;
  // dst = a (op) b with NumPy broadcasting of b onto a's shape (dst has a's shape).
  virtual void binary(BinaryOp op, const Tensor& dst, const Tensor& a, const Tensor& b) = 0;
  // dst = src * alpha + beta
  virtual void scale(const Tensor& dst, const Tensor& src, float alpha, float beta) = 0;
  // dst[..., M, N] = alpha * a[..., M, K] @ op(b) + bias. b is 2-D (shared by every batch) or has
  // a's batch dims. a and b need a contiguous last dim.
  virtual void matmul(const Tensor& dst, const Tensor& a, const Tensor& b, const MatmulOptions& options) = 0;
  // Normalise over the last dim: (x - mean) / sqrt(var + eps) * weight + bias (both optional, [N]).
  virtual void layer_norm(const Tensor& dst, const Tensor& src, const Tensor* weight, const Tensor* bias,
                          float eps) = 0;
  // x / sqrt(mean(x^2) + eps) * weight (optional). T5's norm: no mean subtraction, no bias.
  virtual void rms_norm(const Tensor& dst, const Tensor& src, const Tensor* weight, float eps) = 0;
  // softmax over the last dim of (src * scale), max-subtracted.
  virtual void softmax(const Tensor& dst, const Tensor& src, float scale) = 0;
  // x / max(||x||_2, eps) over the last dim (cosine attention normalises each head's q and k).
  virtual void l2_normalize(const Tensor& dst, const Tensor& src, float eps) = 0;

  // 2-D rotary embedding with interleaved pairs. src and dst are [B, L, H, hd]; cos and sin are
  // f32 [L, hd/2], one angle per pair p = (x[2p], x[2p+1]) of every head at position l:
  //   y[2p] = cos * x[2p] - sin * x[2p+1],  y[2p+1] = sin * x[2p] + cos * x[2p+1].
  virtual void rope(const Tensor& dst, const Tensor& src, const Tensor& cos, const Tensor& sin) = 0;

  // Multi-head attention, heads laid out as in a [B, L, H*hd] activation:
  // q is [B, Lq, H, hd], k and v are [B, Lk, H, hd] (strided views are fine, e.g. a KV cache),
  // dst is [B, Lq, H, hd]. dst = softmax(q k^T * scale) v per (batch, head), no mask except
  // key_lengths: when given (B entries), row b attends to its first key_lengths[b] keys only
  // (variable-length text in cross-attention; a length of 0 gives zeros).
  virtual void attention(const Tensor& dst, const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                         const std::vector<int32_t>* key_lengths) = 0;

  // Bilinear resize of [B, C, H, W] to dst [B, C, H', W'], align_corners = false, no
  // antialiasing (PyTorch's F.interpolate(mode="bilinear")): src = (dst + 0.5) * in/out - 0.5,
  // clamped at 0; neighbours floor(src) and min(floor(src) + 1, in - 1).
  virtual void resize_bilinear(const Tensor& dst, const Tensor& src) = 0;

  // ---- image ops (the BSQ-VAE) ----
  // dst [B, Cout, Ho, Wo] = conv(src [B, Cin, H, W], weight [Cout, Cin, kh, kw]) + bias [Cout],
  // zero padding per side, Ho = (H + pad_top + pad_bottom - kh) / stride + 1 (same for W).
  // The VAE's downsample pads only right and bottom, hence per-side padding.
  virtual void conv2d(const Tensor& dst, const Tensor& src, const Tensor& weight, const Tensor* bias,
                      const Conv2dParams& params) = 0;
  // GroupNorm of [B, C, H, W]: each (batch, group of C/groups channels) is normalised over its
  // channels and pixels, then weight/bias [C] (optional) apply per channel; swish = true applies
  // x * sigmoid(x) to the result (the VAE always follows its norms with swish).
  virtual void group_norm(const Tensor& dst, const Tensor& src, int groups, const Tensor* weight, const Tensor* bias,
                          float eps, bool swish) = 0;
  // Nearest-neighbour upsampling of [B, C, H, W] by the integer factor dst's shape implies.
  virtual void upsample_nearest(const Tensor& dst, const Tensor& src) = 0;
  // Area resize (PyTorch adaptive average pooling) of [B, C, H, W] to dst [B, C, h, w]: output
  // cell i averages input rows [floor(i*H/h), ceil((i+1)*H/h)) (windows overlap when h does not
  // divide H), columns likewise.
  virtual void resize_area(const Tensor& dst, const Tensor& src) = 0;
};

// What `infinode devices` lists: one row per backend this binary knows about.
struct BackendInfo {
  std::string name;     // "cpu", "cuda:0" or "cuda"
  bool compiled = false;
  bool usable = false;  // compiled and a device answered
  std::string detail;   // e.g. "NVIDIA H100, 80 GB, sm_90" or "compiled, no device"
};

std::vector<BackendInfo> list_backends();

// "cpu", "cuda" (device 0) or "cuda:N". Throws inf::Error when it is not compiled or has no device.
std::unique_ptr<Backend> create_backend(const std::string& name);

// A packed copy of a (possibly strided) host tensor, made by the CPU backend's convert; the
// tensor itself when it is packed already.
Tensor packed_host_copy(const Tensor& host);

}  // namespace inf
