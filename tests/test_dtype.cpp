// float16/bfloat16 conversions: exhaustive round trips and rounding to nearest even.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tensor/dtype.h"

namespace inf {
namespace {

TEST(DType, NamesRoundTrip) {
  for (DType t : {DType::f32, DType::bf16, DType::f16, DType::u8, DType::i32, DType::i64}) {
    EXPECT_EQ(dtype_from_name(dtype_name(t)), t);
    EXPECT_EQ(dtype_from_safetensors_name(dtype_safetensors_name(t)), t);
  }
  EXPECT_FALSE(dtype_from_safetensors_name("F64").has_value());
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
  EXPECT_EQ(dtype_size(DType::i64), 8u);
}

TEST(DType, Float16EveryValueRoundTrips) {
  // Every non-NaN half converts to float and back unchanged (exhaustive: 63488 values).
  for (uint32_t bits = 0; bits < 0x10000u; ++bits) {
    const auto half = static_cast<uint16_t>(bits);
    const float value = f16_to_f32(half);
    if (std::isnan(value)) {
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(value))));
      continue;
    }
    ASSERT_EQ(f32_to_f16(value), half) << "bits " << bits;
  }
}

TEST(DType, Float16RoundsToNearestEven) {
  EXPECT_EQ(f16_to_f32(f32_to_f16(1.0f + 1.0f / 2048)), 1.0f);               // tie -> even (down)
  EXPECT_EQ(f16_to_f32(f32_to_f16(1.0f + 3.0f / 2048)), 1.0f + 2.0f / 1024);  // tie -> even (up)
  EXPECT_EQ(f16_to_f32(f32_to_f16(65504.0f)), 65504.0f);
  EXPECT_TRUE(std::isinf(f16_to_f32(f32_to_f16(65520.0f))));  // rounds past max -> inf
  EXPECT_EQ(f16_to_f32(f32_to_f16(65519.0f)), 65504.0f);
  EXPECT_EQ(f16_to_f32(f32_to_f16(5.960464477539063e-08f)), 5.960464477539063e-08f);  // smallest subnormal
  EXPECT_EQ(f16_to_f32(f32_to_f16(2.9e-08f)), 0.0f);  // below half of it
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
}

TEST(DType, BFloat16RoundTripsAndRoundsToNearestEven) {
  for (uint32_t bits = 0; bits < 0x10000u; bits += 7) {
    const auto brain = static_cast<uint16_t>(bits);
    const float value = bf16_to_f32(brain);
    if (std::isnan(value)) continue;
    ASSERT_EQ(f32_to_bf16(value), brain);
  }
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 1.0f / 256)), 1.0f);               // tie -> even
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 3.0f / 256)), 1.0f + 4.0f / 256);  // tie -> even
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(std::isinf(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::max()))));
}

}  // namespace
}  // namespace inf
