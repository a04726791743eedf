#include "ops/op_case.h"

#include <random>
#include <sstream>

#include "common/error.h"

namespace inf::ops_test {

double default_max_nmse(DType out_dtype) {
  switch (out_dtype) {
    case DType::bf16: return 2e-5;
    case DType::f16: return 1e-6;
    default: return 1e-9;
  }
}

std::vector<OpCase>& registry() {
  static std::vector<OpCase> cases;
  return cases;
}

Register::Register(std::vector<OpCase> (*make)()) {
  for (auto& c : make()) registry().push_back(std::move(c));
}

Tensor random_tensor(DType dtype, const Shape& shape, uint32_t seed, float lo, float hi) {
  Tensor tensor = Tensor::host(dtype, shape);
  std::mt19937 generator(seed * 2654435761u + 12345u);
  std::uniform_real_distribution<float> uniform(lo, hi);
  const int64_t count = tensor.numel();
  for (int64_t i = 0; i < count; ++i) {
    const float value = uniform(generator);
    switch (dtype) {
      case DType::f32: tensor.data_as<float>()[i] = value; break;
      case DType::bf16: static_cast<uint16_t*>(tensor.data())[i] = f32_to_bf16(value); break;
      case DType::f16: static_cast<uint16_t*>(tensor.data())[i] = f32_to_f16(value); break;
      case DType::u8: tensor.data_as<uint8_t>()[i] = static_cast<uint8_t>(generator() & 0xff); break;
      case DType::i32: tensor.data_as<int32_t>()[i] = static_cast<int32_t>(generator() % 2001) - 1000; break;
      case DType::i64: tensor.data_as<int64_t>()[i] = static_cast<int64_t>(generator()) - (1ll << 31); break;
    }
  }
  return tensor;
}

double element(const Tensor& tensor, int64_t linear) {
  int64_t offset = 0;
  for (int d = tensor.ndim(); d-- > 0;) {
    const auto axis = static_cast<size_t>(d);
    offset += (linear % tensor.shape()[axis]) * tensor.strides()[axis];
    linear /= tensor.shape()[axis];
  }
  const void* base = tensor.data();
  switch (tensor.dtype()) {
    case DType::f32: return static_cast<const float*>(base)[offset];
    case DType::bf16: return bf16_to_f32(static_cast<const uint16_t*>(base)[offset]);
    case DType::f16: return f16_to_f32(static_cast<const uint16_t*>(base)[offset]);
    case DType::u8: return static_cast<const uint8_t*>(base)[offset];
    case DType::i32: return static_cast<const int32_t*>(base)[offset];
    case DType::i64: return static_cast<double>(static_cast<const int64_t*>(base)[offset]);
  }
  return 0;
}

std::string describe_inputs(const std::vector<Tensor>& inputs) {
  std::ostringstream out;
  for (size_t i = 0; i < inputs.size(); ++i) out << (i ? " " : "") << inputs[i].describe();
  return out.str();
}

}  // namespace inf::ops_test
