// The 2-D RoPE table: positions of spec §5.5 (half-to-even ties included) and the reference's
// table from the golden files, bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "model/infinity/rope_table.h"
#include "weights/weight_store.h"

namespace inf {
namespace {

std::vector<int> axis_positions(int grid_size, int rope_size) {
  std::vector<int> positions;
  for (int i = 0; i < grid_size; ++i) positions.push_back(rope_axis_position(i, grid_size, rope_size));
  return positions;
}

std::vector<int> stepped(int count, int step) {
  std::vector<int> positions;
  for (int i = 0; i < count; ++i) positions.push_back(i * step);
  return positions;
}

TEST(RopeTable, SquarePositionsFromSpec) {
  EXPECT_EQ(axis_positions(1, 64), (std::vector<int>{0}));
  EXPECT_EQ(axis_positions(2, 64), (std::vector<int>{0, 32}));
  EXPECT_EQ(axis_positions(4, 64), (std::vector<int>{0, 16, 32, 48}));
  EXPECT_EQ(axis_positions(6, 64), (std::vector<int>{0, 11, 21, 32, 43, 53}));
  EXPECT_EQ(axis_positions(8, 64), stepped(8, 8));
  EXPECT_EQ(axis_positions(12, 64), (std::vector<int>{0, 5, 11, 16, 21, 27, 32, 37, 43, 48, 53, 59}));
  EXPECT_EQ(axis_positions(16, 64), stepped(16, 4));
  EXPECT_EQ(axis_positions(20, 64),
            (std::vector<int>{0, 3, 6, 10, 13, 16, 19, 22, 26, 29, 32, 35, 38, 42, 45, 48, 51, 54, 58, 61}));
  EXPECT_EQ(axis_positions(24, 64), (std::vector<int>{0,  3,  5,  8,  11, 13, 16, 19, 21, 24, 27, 29,
                                                      32, 35, 37, 40, 43, 45, 48, 51, 53, 56, 59, 61}));
  EXPECT_EQ(axis_positions(32, 64), stepped(32, 2));
  EXPECT_EQ(axis_positions(40, 64),
            (std::vector<int>{0,  2,  3,  5,  6,  8,  10, 11, 13, 14, 16, 18, 19, 21, 22, 24, 26, 27, 29, 30,
                              32, 34, 35, 37, 38, 40, 42, 43, 45, 46, 48, 50, 51, 53, 54, 56, 58, 59, 61, 62}));
  EXPECT_EQ(axis_positions(48, 64),
            (std::vector<int>{0,  1,  3,  4,  5,  7,  8,  9,  11, 12, 13, 15, 16, 17, 19, 20,
                              21, 23, 24, 25, 27, 28, 29, 31, 32, 33, 35, 36, 37, 39, 40, 41,
                              43, 44, 45, 47, 48, 49, 51, 52, 53, 55, 56, 57, 59, 60, 61, 63}));
  EXPECT_EQ(axis_positions(64, 64), stepped(64, 1));
}

TEST(RopeTable, TiesRoundHalfToEven) {
  // Template 1.25: 70 / 20 = 3.5, so i = 1, 3, 5, 7 land on 3.5, 10.5, 17.5, 24.5.
  const std::vector<int> rows = axis_positions(20, 70);
  EXPECT_EQ(rows[1], 4);
  EXPECT_EQ(rows[3], 10);
  EXPECT_EQ(rows[5], 18);
  EXPECT_EQ(rows[7], 24);
  // Template 3.0: 37 / 2 = 18.5 -> 18 (std::round would give 19).
  EXPECT_EQ(axis_positions(2, 37), (std::vector<int>{0, 18}));
}

TEST(RopeTable, PositionsStayOnTheTableForEveryTemplate) {
  for (double ratio : template_ratios()) {
    const ScaleSchedule schedule = schedule_for_ratio(ratio, "1M");
    const RopeTable table = make_rope_table(schedule, 128);
    ASSERT_EQ(table.positions.shape(), (Shape{schedule.total_tokens(), 2}));
    ASSERT_EQ(table.cos.shape(), (Shape{schedule.total_tokens(), 64}));
    const int32_t* positions = table.positions.data_as<int32_t>();
    for (int64_t t = 0; t < schedule.total_tokens(); ++t) {
      EXPECT_GE(positions[2 * t], 0);
      EXPECT_LT(positions[2 * t], schedule.rope_grid.h);
      EXPECT_LT(positions[2 * t + 1], schedule.rope_grid.w);
    }
    // The last scale is the rope grid itself: positions are the identity.
    const Tensor last = rows_for_scale(table.positions, schedule, schedule.num_scales() - 1);
    const int32_t* last_positions = last.data_as<int32_t>();
    const ScaleGrid& grid = schedule.final_grid();
    EXPECT_EQ(last_positions[2 * (grid.tokens() - 1)], grid.h - 1);
    EXPECT_EQ(last_positions[2 * (grid.tokens() - 1) + 1], grid.w - 1);
  }
}

TEST(RopeTable, LayoutRowAnglesThenColumnAngles) {
  const ScaleSchedule schedule = schedule_for_ratio(1.0, "1M");
  const RopeTable table = make_rope_table(schedule, 128);
  const float* cos = table.cos.data_as<float>();
  const float* sin = table.sin.data_as<float>();
  // Start token: position (0, 0), the identity rotation.
  for (int p = 0; p < 64; ++p) {
    EXPECT_EQ(cos[p], 1.0f);
    EXPECT_EQ(sin[p], 0.0f);
  }
  // Scale 1 (2x2), token (0, 1) sits at (0, 32): row angles 0, column angles 32 * inv_freq.
  const int64_t token = schedule.offset(1) + 1;
  EXPECT_EQ(table.positions.data_as<int32_t>()[2 * token], 0);
  EXPECT_EQ(table.positions.data_as<int32_t>()[2 * token + 1], 32);
  for (int p = 0; p < 32; ++p) {
    EXPECT_EQ(cos[token * 64 + p], 1.0f);
    const double inv_freq = 1.0 / std::pow(10000.0, p / 32.0);
    EXPECT_NEAR(cos[token * 64 + 32 + p], std::cos(32.0 * inv_freq), 2e-6) << p;
    EXPECT_NEAR(sin[token * 64 + 32 + p], std::sin(32.0 * inv_freq), 2e-6) << p;
  }
}

TEST(RopeTable, RowsForScaleIsAView) {
  const ScaleSchedule schedule = schedule_for_ratio(1.0, "0.06M");
  const RopeTable table = make_rope_table(schedule, 64);
  const Tensor scale3 = rows_for_scale(table.cos, schedule, 3);
  EXPECT_EQ(scale3.shape(), (Shape{36, 32}));
  EXPECT_EQ(scale3.data_as<float>(), table.cos.data_as<float>() + 21 * 32);
  EXPECT_THROW(rows_for_scale(table.cos, schedule, 7), Error);
  EXPECT_THROW(rows_for_scale(table.cos, schedule_for_ratio(1.0, "0.25M"), 0), Error);
}

TEST(RopeTable, BadArgumentsThrow) {
  const ScaleSchedule schedule = schedule_for_ratio(1.0, "0.06M");
  EXPECT_THROW(make_rope_table(schedule, 62), Error);
  EXPECT_THROW(make_rope_table(schedule, 0), Error);
  EXPECT_THROW(make_rope_table(schedule, 64, 0.0), Error);
  EXPECT_THROW(make_rope_table(ScaleSchedule{}, 64), Error);
}

// How far two f32 tensors of one shape are apart, in units in the last place.
struct UlpDifference {
  int64_t max_ulps = 0;
  int64_t differing = 0;  // elements that are not bit-identical
};

int64_t ordered_bits(float value) {  // monotonic integer image of a float, for ulp distances
  int32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits < 0 ? -static_cast<int64_t>(bits & 0x7fffffff) : bits;
}

UlpDifference compare_ulps(const Tensor& actual, const Tensor& expected) {
  EXPECT_EQ(actual.shape(), expected.shape());
  UlpDifference diff;
  if (actual.shape() != expected.shape()) return diff;
  const float* a = actual.data_as<float>();
  const float* e = expected.data_as<float>();
  for (int64_t i = 0; i < actual.numel(); ++i) {
    const int64_t ulps = std::llabs(ordered_bits(a[i]) - ordered_bits(e[i]));
    diff.max_ulps = std::max(diff.max_ulps, ulps);
    diff.differing += ulps != 0;
  }
  return diff;
}

class GoldenRope : public testing::TestWithParam<const char*> {};

TEST_P(GoldenRope, TableEqualsReferenceExactly) {
  const WeightStore golden =
      WeightStore::open(std::string(INF_TEST_DATA_DIR) + "/golden/" + GetParam() + ".safetensors");
  const ScaleSchedule schedule =
      schedule_from_grids({{1, 1}, {2, 2}, {4, 4}, {6, 6}, {8, 8}, {12, 12}, {16, 16}}, {64, 64});
  const RopeTable table = make_rope_table(schedule, 64, 10000.0);

  const Tensor expected_positions = golden.get("expect.rope_pos", {521, 2});
  ASSERT_EQ(table.positions.shape(), expected_positions.shape());
  EXPECT_EQ(std::memcmp(table.positions.data(), expected_positions.data(), table.positions.nbytes()), 0);

  // Positions are exact. cos and sin of the fp32 angle are correctly rounded here; the
  // reference's fp32 torch.cos/sin (a vectorised approximation on CPU, another on CUDA) is within
  // one ulp of that. Measured: 1184 of 16672 cos and 704 sin values are one ulp off, none more.
  const UlpDifference cos = compare_ulps(table.cos, golden.get("expect.rope_cos", {521, 32}));
  const UlpDifference sin = compare_ulps(table.sin, golden.get("expect.rope_sin", {521, 32}));
  EXPECT_LE(cos.max_ulps, 1) << cos.differing << " cos values differ";
  EXPECT_LE(sin.max_ulps, 1) << sin.differing << " sin values differ";
  EXPECT_LT(cos.differing + sin.differing, 2 * 521 * 32 / 8);  // mostly identical, not merely close
}

INSTANTIATE_TEST_SUITE_P(Files, GoldenRope, testing::Values("infinity_tiny_square", "infinity_tiny_batch2"));

}  // namespace
}  // namespace inf
