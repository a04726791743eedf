// Internal to the CPU backend: the op implementations and the helpers they share.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/backend.h"
#include "tensor/tensor.h"

namespace inf::cpu {

// Element i (row-major order over the tensor's shape) of a strided tensor, as an element
// offset from element 0. Contiguous tensors skip the div/mod walk.
class ElementOffsets {
 public:
  explicit ElementOffsets(const Tensor& tensor);
  // Broadcast view: `tensor` aligned to the trailing dims of `target_shape`, size-1 dims
  // repeated (stride 0), NumPy rules. Throws when the shapes are not broadcastable.
  ElementOffsets(const Tensor& tensor, const Shape& target_shape, const char* op_name);

  int64_t operator()(int64_t linear_index) const {
    if (contiguous_) return linear_index;
    int64_t offset = 0;
    for (size_t d = shape_.size(); d-- > 0;) {
      offset += (linear_index % shape_[d]) * strides_[d];
      linear_index /= shape_[d];
    }
    return offset;
  }
  // Element step along the last dim (0 when it is broadcast).
  int64_t last_stride() const { return contiguous_ || strides_.empty() ? 1 : strides_.back(); }

 private:
  Shape shape_;
  std::vector<int64_t> strides_;
  bool contiguous_ = true;
};

float load_float(const void* base, DType dtype, int64_t index);
void store_float(void* base, DType dtype, int64_t index, float value);

// Row-at-a-time access for ops that work along the last dim. The dtype switch sits outside
// the element loop, and f32 rows with unit stride are used in place instead of copied.
class RowReader {
 public:
  explicit RowReader(const Tensor& tensor);
  // `tensor` broadcast (NumPy rules) onto `target_shape`.
  RowReader(const Tensor& tensor, const Shape& target_shape, const char* op_name);
  // Row r (of length width) as f32: a pointer into the tensor, or `scratch` filled.
  const float* row(int64_t r, float* scratch) const;

 private:
  const Tensor& tensor_;
  ElementOffsets offsets_;
  int64_t width_;
};

// Row r of a contiguous output: write into the returned pointer (the tensor itself when f32,
// else `scratch`), then call finish_output_row to narrow scratch into the tensor.
float* output_row(const Tensor& dst, int64_t r, float* scratch);
void finish_output_row(const Tensor& dst, int64_t r, const float* values);
int64_t row_width(const Tensor& tensor);  // last dim (1 for 0-d tensors)

// Argument checks shared by ops; each names the op and the tensors in its message.
void require_host(const char* op, const Tensor& tensor);
void require_float(const char* op, const Tensor& tensor);
void require_contiguous_output(const char* op, const Tensor& dst);
void require_same_shape(const char* op, const Tensor& dst, const Tensor& src);

void convert(const Tensor& dst, const Tensor& src);
void unary(UnaryOp op, const Tensor& dst, const Tensor& src);
void binary(BinaryOp op, const Tensor& dst, const Tensor& a, const Tensor& b);
void scale(const Tensor& dst, const Tensor& src, float alpha, float beta);
void matmul(const Tensor& dst, const Tensor& a, const Tensor& b, const MatmulOptions& options);
void layer_norm(const Tensor& dst, const Tensor& src, const Tensor* weight, const Tensor* bias, float eps);
void rms_norm(const Tensor& dst, const Tensor& src, const Tensor* weight, float eps);
void softmax(const Tensor& dst, const Tensor& src, float scale);
void l2_normalize(const Tensor& dst, const Tensor& src, float eps);
void rope(const Tensor& dst, const Tensor& src, const Tensor& cos, const Tensor& sin);
void attention(const Tensor& dst, const Tensor& q, const Tensor& k, const Tensor& v, float scale,
               const std::vector<int32_t>* key_lengths);
void resize_bilinear(const Tensor& dst, const Tensor& src);
// The VAE's image ops (conv.cpp, image_ops.cpp); semantics in backend.h.
void conv2d(const Tensor& dst, const Tensor& src, const Tensor& weight, const Tensor* bias,
            const Conv2dParams& params);
void group_norm(const Tensor& dst, const Tensor& src, int groups, const Tensor* weight, const Tensor* bias,
                float eps, bool swish);
void upsample_nearest(const Tensor& dst, const Tensor& src);
void resize_area(const Tensor& dst, const Tensor& src);

}  // namespace inf::cpu
