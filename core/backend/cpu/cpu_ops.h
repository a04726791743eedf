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

 private:
  Shape shape_;
  std::vector<int64_t> strides_;
  bool contiguous_ = true;
};

float load_float(const void* base, DType dtype, int64_t index);
void store_float(void* base, DType dtype, int64_t index, float value);

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

}  // namespace inf::cpu
