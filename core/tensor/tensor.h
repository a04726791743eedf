// Tensor: a typed, strided view of a Buffer. It does no math; backends do.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "tensor/buffer.h"
#include "tensor/dtype.h"

namespace inf {

using Shape = std::vector<int64_t>;

std::string shape_string(const Shape& shape);  // "[2, 3, 4]"
int64_t shape_numel(const Shape& shape);       // throws on negative dims or int64 overflow

class Tensor {
 public:
  Tensor() = default;

  // A contiguous tensor over `buffer` starting at `byte_offset`; checks that it fits.
  Tensor(std::shared_ptr<Buffer> buffer, DType dtype, Shape shape, size_t byte_offset = 0);
  // Any strided view; checks that every reachable element lies inside the buffer.
  Tensor(std::shared_ptr<Buffer> buffer, DType dtype, Shape shape, std::vector<int64_t> strides,
         size_t byte_offset);

  // A fresh zero-filled contiguous host tensor.
  static Tensor host(DType dtype, Shape shape);

  bool defined() const { return buffer_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  const std::vector<int64_t>& strides() const { return strides_; }  // in elements
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int axis) const;  // negative axes count from the end
  int64_t numel() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  size_t byte_offset() const { return byte_offset_; }
  const std::shared_ptr<Buffer>& buffer() const { return buffer_; }
  Device device() const;
  bool is_contiguous() const;

  // Raw pointer to element 0, host tensors only. data_as<T>() also checks the dtype.
  void* data() const;
  template <typename T>
  T* data_as() const;

  // Views sharing the buffer.
  Tensor narrow(int axis, int64_t start, int64_t length) const;
  Tensor reshape(Shape shape) const;  // contiguous tensors only; one dim may be -1
  Tensor permute(const std::vector<int>& order) const;
  Tensor transpose(int axis_a, int axis_b) const;
  Tensor flatten_to_2d() const;  // [..., N] -> [prod(...), N]; contiguous only
  // Splits one axis into several (any strides): [B, L, C] .unflatten(-1, {H, hd}) -> [B, L, H, hd].
  Tensor unflatten(int axis, const Shape& sizes) const;

  std::string describe() const;  // "f32[2, 3]"

 private:
  int normalize_axis(int axis) const;
  void check_in_bounds() const;

  std::shared_ptr<Buffer> buffer_;
  DType dtype_ = DType::f32;
  Shape shape_;
  std::vector<int64_t> strides_;
  size_t byte_offset_ = 0;
};

std::vector<int64_t> contiguous_strides(const Shape& shape);

template <typename T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::f32;
};
template <>
struct DTypeOf<uint8_t> {
  static constexpr DType value = DType::u8;
};
template <>
struct DTypeOf<int32_t> {
  static constexpr DType value = DType::i32;
};
template <>
struct DTypeOf<int64_t> {
  static constexpr DType value = DType::i64;
};

}  // namespace inf
