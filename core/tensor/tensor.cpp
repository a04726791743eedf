#include "tensor/tensor.h"

#include <algorithm>
#include <limits>
#include <sstream>

#include "common/error.h"

namespace inf {

std::string shape_string(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

int64_t shape_numel(const Shape& shape) {
  int64_t count = 1;
  for (int64_t extent : shape) {
    INF_CHECK(extent >= 0, ErrorKind::invalid_argument, "negative dimension in shape ", shape_string(shape));
    if (extent != 0 && count > std::numeric_limits<int64_t>::max() / extent)
      fail(ErrorKind::invalid_argument, "shape ", shape_string(shape), " has more elements than fit in 64 bits");
    count *= extent;
  }
  return count;
}

std::vector<int64_t> contiguous_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

Tensor::Tensor(std::shared_ptr<Buffer> buffer, DType dtype, Shape shape, size_t byte_offset)
    : Tensor(std::move(buffer), dtype, shape, contiguous_strides(shape), byte_offset) {}

Tensor::Tensor(std::shared_ptr<Buffer> buffer, DType dtype, Shape shape, std::vector<int64_t> strides,
               size_t byte_offset)
    : buffer_(std::move(buffer)), dtype_(dtype), shape_(std::move(shape)), strides_(std::move(strides)),
      byte_offset_(byte_offset) {
  INF_CHECK(buffer_ != nullptr, ErrorKind::internal, "tensor made without a buffer");
  INF_CHECK(shape_.size() == strides_.size(), ErrorKind::internal, "shape ", shape_string(shape_), " has ",
            shape_.size(), " dims but ", strides_.size(), " strides");
  check_in_bounds();
}

Tensor Tensor::host(DType dtype, Shape shape) {
  const size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  return Tensor(make_host_buffer(bytes), dtype, std::move(shape));
}

void Tensor::check_in_bounds() const {
  // Every reachable element must lie inside the buffer: the lowest and highest element
  // offsets are found from the signs of the strides.
  const int64_t count = shape_numel(shape_);
  if (count == 0) return;
  int64_t lowest = 0, highest = 0;
  for (size_t i = 0; i < shape_.size(); ++i) {
    const int64_t reach = (shape_[i] - 1) * strides_[i];
    (reach < 0 ? lowest : highest) += reach;
  }
  const auto element = static_cast<int64_t>(dtype_size(dtype_));
  const auto offset = static_cast<int64_t>(byte_offset_);
  const bool fits = offset + lowest * element >= 0 &&
                    offset + (highest + 1) * element <= static_cast<int64_t>(buffer_->size());
  INF_CHECK(fits, ErrorKind::invalid_argument, "tensor ", dtype_name(dtype_), shape_string(shape_),
            " at byte offset ", byte_offset_, " does not fit its buffer of ", buffer_->size(), " bytes");
}

int Tensor::normalize_axis(int axis) const {
  const int n = ndim();
  const int normalized = axis < 0 ? axis + n : axis;
  INF_CHECK(normalized >= 0 && normalized < n, ErrorKind::invalid_argument, "axis ", axis,
            " out of range for tensor ", describe());
  return normalized;
}

int64_t Tensor::dim(int axis) const { return shape_[static_cast<size_t>(normalize_axis(axis))]; }

int64_t Tensor::numel() const { return shape_numel(shape_); }

Device Tensor::device() const { return buffer_ ? buffer_->device() : Device{}; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] == 1) continue;  // a size-1 dim's stride never matters
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

void* Tensor::data() const {
  INF_CHECK(buffer_ != nullptr, ErrorKind::invalid_argument, "data() of an empty tensor");
  INF_CHECK(device().is_cpu(), ErrorKind::invalid_argument, "data() of a tensor on ", device().describe(),
            "; download it to the host first");
  return static_cast<uint8_t*>(buffer_->data()) + byte_offset_;
}

template <typename T>
T* Tensor::data_as() const {
  INF_CHECK(dtype_ == DTypeOf<T>::value, ErrorKind::invalid_argument, "tensor ", describe(), " read as ",
            dtype_name(DTypeOf<T>::value));
  return static_cast<T*>(data());
}
template float* Tensor::data_as<float>() const;
template uint8_t* Tensor::data_as<uint8_t>() const;
template int32_t* Tensor::data_as<int32_t>() const;
template int64_t* Tensor::data_as<int64_t>() const;

Tensor Tensor::narrow(int axis, int64_t start, int64_t length) const {
  const auto a = static_cast<size_t>(normalize_axis(axis));
  INF_CHECK(start >= 0 && length >= 0 && start <= shape_[a] - length, ErrorKind::invalid_argument, "narrow(axis ",
            axis, ", start ", start, ", length ", length, ") out of range for ", describe());
  Shape shape = shape_;
  shape[a] = length;
  // A zero-length view keeps the offset of the original so it never points past the buffer.
  const int64_t shift = length == 0 ? 0 : start * strides_[a] * static_cast<int64_t>(dtype_size(dtype_));
  return Tensor(buffer_, dtype_, std::move(shape), strides_, static_cast<size_t>(static_cast<int64_t>(byte_offset_) + shift));
}

Tensor Tensor::reshape(Shape shape) const {
  INF_CHECK(is_contiguous(), ErrorKind::invalid_argument, "reshape of non-contiguous tensor ", describe());
  int inferred = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      INF_CHECK(inferred < 0, ErrorKind::invalid_argument, "reshape to ", shape_string(shape), ": two -1 dims");
      inferred = static_cast<int>(i);
    } else {
      INF_CHECK(shape[i] >= 0, ErrorKind::invalid_argument, "reshape to ", shape_string(shape));
      known *= shape[i];
    }
  }
  if (inferred >= 0) {
    INF_CHECK(known != 0 && numel() % known == 0, ErrorKind::invalid_argument, "cannot reshape ", describe(), " to ",
              shape_string(shape));
    shape[static_cast<size_t>(inferred)] = numel() / known;
  }
  INF_CHECK(shape_numel(shape) == numel(), ErrorKind::invalid_argument, "cannot reshape ", describe(), " to ",
            shape_string(shape));
  return Tensor(buffer_, dtype_, std::move(shape), byte_offset_);
}

Tensor Tensor::permute(const std::vector<int>& order) const {
  INF_CHECK(static_cast<int>(order.size()) == ndim(), ErrorKind::invalid_argument, "permute order has ",
            order.size(), " entries for ", describe());
  Shape shape(order.size());
  std::vector<int64_t> strides(order.size());
  std::vector<bool> used(order.size(), false);
  for (size_t i = 0; i < order.size(); ++i) {
    const auto source = static_cast<size_t>(normalize_axis(order[i]));
    INF_CHECK(!used[source], ErrorKind::invalid_argument, "permute order repeats axis ", order[i]);
    used[source] = true;
    shape[i] = shape_[source];
    strides[i] = strides_[source];
  }
  return Tensor(buffer_, dtype_, std::move(shape), std::move(strides), byte_offset_);
}

Tensor Tensor::transpose(int axis_a, int axis_b) const {
  std::vector<int> order(static_cast<size_t>(ndim()));
  for (int i = 0; i < ndim(); ++i) order[static_cast<size_t>(i)] = i;
  std::swap(order[static_cast<size_t>(normalize_axis(axis_a))], order[static_cast<size_t>(normalize_axis(axis_b))]);
  return permute(order);
}

Tensor Tensor::flatten_to_2d() const {
  INF_CHECK(ndim() >= 1, ErrorKind::invalid_argument, "flatten_to_2d of a 0-d tensor");
  return reshape({-1, shape_.back()});
}

Tensor Tensor::unflatten(int axis, const Shape& sizes) const {
  const auto a = static_cast<size_t>(normalize_axis(axis));
  INF_CHECK(!sizes.empty() && shape_numel(sizes) == shape_[a], ErrorKind::invalid_argument, "cannot split axis ", axis,
            " of ", describe(), " into ", shape_string(sizes));
  Shape shape(shape_.begin(), shape_.begin() + static_cast<std::ptrdiff_t>(a));
  std::vector<int64_t> strides(strides_.begin(), strides_.begin() + static_cast<std::ptrdiff_t>(a));
  // The split dims step through the old axis: innermost keeps its stride, outer ones scale up.
  std::vector<int64_t> split_strides(sizes.size());
  int64_t step = strides_[a];
  for (size_t i = sizes.size(); i-- > 0;) {
    split_strides[i] = step;
    step *= sizes[i];
  }
  shape.insert(shape.end(), sizes.begin(), sizes.end());
  strides.insert(strides.end(), split_strides.begin(), split_strides.end());
  shape.insert(shape.end(), shape_.begin() + static_cast<std::ptrdiff_t>(a) + 1, shape_.end());
  strides.insert(strides.end(), strides_.begin() + static_cast<std::ptrdiff_t>(a) + 1, strides_.end());
  return Tensor(buffer_, dtype_, std::move(shape), std::move(strides), byte_offset_);
}

std::string Tensor::describe() const {
  if (!defined()) return "(empty)";
  return std::string(dtype_name(dtype_)) + shape_string(shape_);
}

}  // namespace inf
