// Scale schedules: the templates and token counts of spec §4, template selection, and checks on
// explicitly given schedules.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "model/infinity/scale_schedule.h"
#include "weights/weight_store.h"

namespace inf {
namespace {

TEST(ScaleSchedule, TemplateRatiosInReferenceOrder) {
  const std::vector<double> expected = {1.0, 1.25, 0.8, 1.333, 0.75,  1.5, 0.666, 1.75,
                                        0.571, 2.0, 0.5, 2.5,  0.4, 3.0,  0.333};
  EXPECT_EQ(template_ratios(), expected);
}

TEST(ScaleSchedule, TokenTotalsAt1MForEveryTemplate) {
  // Spec §4; a transposed template has the same total.
  const std::map<double, int64_t> totals = {
      {1.0, 10521},  {1.25, 10774}, {0.8, 10774},  {1.333, 10973}, {0.75, 10973},
      {1.5, 10997},  {0.666, 10997}, {1.75, 11252}, {0.571, 11252}, {2.0, 11269},
      {0.5, 11269},  {2.5, 10805},  {0.4, 10805},  {3.0, 11123},   {0.333, 11123}};
  for (double ratio : template_ratios()) {
    const ScaleSchedule schedule = schedule_for_ratio(ratio, "1M");
    EXPECT_EQ(schedule.h_div_w, ratio);
    EXPECT_EQ(schedule.num_scales(), 13);
    EXPECT_EQ(schedule.total_tokens(), totals.at(ratio)) << ratio;
    EXPECT_EQ(schedule.rope_grid, schedule.final_grid()) << ratio;
    EXPECT_EQ(schedule.grids.front(), (ScaleGrid{1, 1}));
  }
}

TEST(ScaleSchedule, TransposedTemplatesAreTransposes) {
  const std::vector<std::pair<double, double>> pairs = {
      {1.25, 0.8}, {1.333, 0.75}, {1.5, 0.666}, {1.75, 0.571}, {2.0, 0.5}, {2.5, 0.4}, {3.0, 0.333}};
  for (const auto& [tall, wide] : pairs) {
    const ScaleSchedule a = schedule_for_ratio(tall, "1M");
    const ScaleSchedule b = schedule_for_ratio(wide, "1M");
    ASSERT_EQ(a.num_scales(), b.num_scales());
    for (int k = 0; k < a.num_scales(); ++k) {
      EXPECT_EQ(a.grids[k].h, b.grids[k].w);
      EXPECT_EQ(a.grids[k].w, b.grids[k].h);
    }
    // The reciprocal key is int(1/r*1000)/1000 (truncated).
    EXPECT_EQ(wide, std::trunc(1.0 / tall * 1000.0) / 1000.0);
  }
}

TEST(ScaleSchedule, SquareSmallerKeys) {
  const std::map<std::string, std::pair<int, int64_t>> expected = {
      {"0.06M", {7, 521}}, {"0.25M", {10, 2521}}, {"0.60M", {12, 6425}}, {"1M", {13, 10521}}};
  for (const auto& [key, scales_and_tokens] : expected) {
    const ScaleSchedule schedule = schedule_for_ratio(1.0, key);
    EXPECT_EQ(schedule.resolution, key);
    EXPECT_EQ(schedule.num_scales(), scales_and_tokens.first);
    EXPECT_EQ(schedule.total_tokens(), scales_and_tokens.second);
    EXPECT_EQ(schedule.rope_grid, (ScaleGrid{64, 64})) << "RoPE uses the 1M grid at every key";
  }
  EXPECT_EQ(schedule_for_ratio(1.0, "0.25M").image_height(), 512);
  EXPECT_EQ(schedule_for_ratio(1.0, "0.60M").image_width(), 768);
}

TEST(ScaleSchedule, OffsetsAreCumulativeTokenCounts) {
  const ScaleSchedule schedule = schedule_for_ratio(1.0, "1M");
  const std::vector<int64_t> tokens = {1, 4, 16, 36, 64, 144, 256, 400, 576, 1024, 1600, 2304, 4096};
  const std::vector<int64_t> cumulative = {1, 5, 21, 57, 121, 265, 521, 921, 1497, 2521, 4121, 6425, 10521};
  EXPECT_EQ(schedule.offset(0), 0);
  for (int k = 0; k < 13; ++k) {
    EXPECT_EQ(schedule.tokens(k), tokens[k]);
    EXPECT_EQ(schedule.offset(k + 1), cumulative[k]);
  }
  EXPECT_THROW(schedule.tokens(13), Error);
  EXPECT_THROW(schedule.offset(14), Error);
  EXPECT_THROW(schedule.tokens(-1), Error);
}

TEST(ScaleSchedule, ImageSizes) {
  const ScaleSchedule tall = schedule_for_ratio(1.25, "1M");
  EXPECT_EQ(tall.image_height(), 1120);
  EXPECT_EQ(tall.image_width(), 896);
  const ScaleSchedule widest = schedule_for_ratio(0.333, "1M");
  EXPECT_EQ(widest.image_height(), 592);
  EXPECT_EQ(widest.image_width(), 1776);
  EXPECT_EQ(schedule_for_ratio(3.0, "1M").final_grid(), (ScaleGrid{111, 37}));
}

TEST(ScaleSchedule, NearestTemplate) {
  EXPECT_EQ(schedule_for_size(1024, 1024, "1M").h_div_w, 1.0);
  EXPECT_EQ(schedule_for_size(896, 1120, "1M").h_div_w, 1.25);  // width 896, height 1120
  EXPECT_EQ(schedule_for_size(1120, 896, "1M").h_div_w, 0.8);
  EXPECT_EQ(schedule_for_size(100, 5000, "1M").h_div_w, 3.0);    // far beyond the tallest template
  EXPECT_EQ(schedule_for_size(5000, 100, "1M").h_div_w, 0.333);  // and the widest
  EXPECT_EQ(schedule_for_size(1920, 1080, "1M").h_div_w, 0.571);  // 0.5625
  EXPECT_EQ(schedule_for_ratio(1.4, "1M").h_div_w, 1.333);
  // 1.125 is exactly halfway between 1.0 and 1.25: the first in the reference's order wins.
  EXPECT_EQ(schedule_for_ratio(1.125, "1M").h_div_w, 1.0);
}

TEST(ScaleSchedule, Describe) {
  EXPECT_EQ(schedule_for_ratio(1.0, "0.06M").describe(), "1:1 0.06M, 7 scales 1..16, 521 tokens, 256x256");
  EXPECT_EQ(schedule_for_ratio(1.25, "1M").describe(),
            "h/w 1.25 1M, 13 scales 1x1..70x56 (h x w), 10774 tokens, 896x1120");
}

TEST(ScaleSchedule, BadArgumentsThrow) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (double ratio : {0.0, -1.0, nan, inf}) {
    try {
      schedule_for_ratio(ratio, "1M");
      FAIL() << ratio << " was accepted";
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::invalid_argument);
      EXPECT_NE(std::string(error.what()).find("aspect ratio"), std::string::npos) << error.what();
    }
  }
  try {
    schedule_for_ratio(1.0, "2M");
    FAIL() << "2M was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::invalid_argument);
    EXPECT_NE(std::string(error.what()).find("unknown resolution key '2M'"), std::string::npos) << error.what();
  }
  EXPECT_THROW(schedule_for_ratio(1.0, "1m"), Error);
  EXPECT_THROW(schedule_for_size(0, 512, "1M"), Error);
  EXPECT_THROW(schedule_for_size(512, -3, "1M"), Error);
}

// The golden files state their schedule and rope grid explicitly; it is the 1:1 0.06M one.
TEST(ScaleSchedule, AcceptsGoldenSchedule) {
  const WeightStore golden =
      WeightStore::open(std::string(INF_TEST_DATA_DIR) + "/golden/infinity_tiny_square.safetensors");
  const std::string& config = golden.metadata().at("config");
  ASSERT_NE(config.find("\"schedule\": [[1, 1], [2, 2], [4, 4], [6, 6], [8, 8], [12, 12], [16, 16]]"),
            std::string::npos)
      << config;
  ASSERT_NE(config.find("\"rope_final_grid_1M\": [64, 64]"), std::string::npos) << config;
  const ScaleSchedule schedule =
      schedule_from_grids({{1, 1}, {2, 2}, {4, 4}, {6, 6}, {8, 8}, {12, 12}, {16, 16}}, {64, 64});
  EXPECT_EQ(schedule.resolution, "0.06M");
  EXPECT_EQ(schedule.h_div_w, 1.0);
  EXPECT_EQ(schedule.total_tokens(), 521);
  EXPECT_EQ(schedule.grids, schedule_for_ratio(1.0, "0.06M").grids);
}

TEST(ScaleSchedule, CustomGrids) {
  const ScaleSchedule schedule = schedule_from_grids({{1, 1}, {2, 3}, {2, 5}, {6, 6}}, {8, 6});
  EXPECT_EQ(schedule.resolution, "custom");
  EXPECT_EQ(schedule.h_div_w, 8.0 / 6.0);
  EXPECT_EQ(schedule.total_tokens(), 1 + 6 + 10 + 36);
  EXPECT_EQ(schedule.describe(), "custom h/w 1.33333, 4 scales 1x1..6x6 (h x w), 53 tokens, 96x96, rope grid 8x6");
  // A template's grids with another rope grid are not that template.
  EXPECT_EQ(schedule_from_grids({{1, 1}, {2, 2}}, {2, 2}).resolution, "custom");
  EXPECT_NO_THROW(schedule_from_grids({{1, 1}}, {128, 128}));
}

TEST(ScaleSchedule, InvalidCustomGridsThrow) {
  const std::vector<std::pair<std::vector<ScaleGrid>, ScaleGrid>> bad = {
      {{}, {64, 64}},                          // empty
      {{{2, 2}, {4, 4}}, {64, 64}},            // no 1x1 start
      {{{1, 1}, {0, 4}}, {64, 64}},            // zero dim
      {{{1, 1}, {4, -4}}, {64, 64}},           // negative dim
      {{{1, 1}, {4, 4}, {3, 5}}, {64, 64}},    // h shrinks
      {{{1, 1}, {4, 4}, {5, 2}}, {64, 64}},    // w shrinks
      {{{1, 1}, {4, 4}, {70, 4}}, {64, 64}},   // beyond the rope grid
      {{{1, 1}, {4, 4}}, {129, 64}},           // rope grid too large for the table
      {{{1, 1}}, {0, 1}},                      // empty rope grid
  };
  for (const auto& [grids, rope] : bad) {
    try {
      schedule_from_grids(grids, rope);
      FAIL() << "accepted " << grids.size() << " grids, rope " << rope.h << "x" << rope.w;
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::invalid_argument) << error.what();
    }
  }
}

}  // namespace
}  // namespace inf
