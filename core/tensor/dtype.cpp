#include "tensor/dtype.h"

#include <array>

namespace inf {
namespace {

struct DTypeNames {
  DType type;
  std::string_view name;
  std::string_view safetensors;
};

constexpr std::array<DTypeNames, 6> kNames = {{
    {DType::f32, "f32", "F32"},
    {DType::bf16, "bf16", "BF16"},
    {DType::f16, "f16", "F16"},
    {DType::u8, "u8", "U8"},
    {DType::i32, "i32", "I32"},
    {DType::i64, "i64", "I64"},
}};

}  // namespace

std::string_view dtype_name(DType t) {
  for (const auto& entry : kNames)
    if (entry.type == t) return entry.name;
  return "?";
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& entry : kNames)
    if (entry.name == name) return entry.type;
  return std::nullopt;
}

std::string_view dtype_safetensors_name(DType t) {
  for (const auto& entry : kNames)
    if (entry.type == t) return entry.safetensors;
  return "?";
}

std::optional<DType> dtype_from_safetensors_name(std::string_view name) {
  for (const auto& entry : kNames)
    if (entry.safetensors == name) return entry.type;
  return std::nullopt;
}

uint16_t f32_to_f16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t abs_bits = bits & 0x7fffffffu;
  if (abs_bits > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (abs_bits >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to inf
  if (abs_bits < 0x38800000u) {
    // Result is subnormal (or zero): shift the implicit-one mantissa into place and round.
    if (abs_bits < 0x33000000u) return static_cast<uint16_t>(sign);  // below half the smallest subnormal
    const uint32_t exponent = abs_bits >> 23;
    const uint32_t mantissa = (abs_bits & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - exponent;  // 14..24
    const uint32_t half_ulp = 1u << (shift - 1);
    uint32_t result = mantissa >> shift;
    const uint32_t remainder = mantissa & ((1u << shift) - 1u);
    if (remainder > half_ulp || (remainder == half_ulp && (result & 1u))) ++result;
    return static_cast<uint16_t>(sign | result);
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits to even.
  const uint32_t rebased = abs_bits - 0x38000000u;
  const uint32_t rounding = 0xfffu + ((rebased >> 13) & 1u);
  return static_cast<uint16_t>(sign | ((rebased + rounding) >> 13));
}

float f16_to_f32(uint16_t value) {
  const uint32_t sign = static_cast<uint32_t>(value & 0x8000u) << 16;
  const uint32_t exponent = (value >> 10) & 0x1fu;
  uint32_t mantissa = value & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1fu) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    // Subnormal half: normalise into a float32 exponent.
    uint32_t e = 113u;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

}  // namespace inf
