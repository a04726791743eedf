// WeightStore over sharded checkpoints, prefix selection and tensor-parallel slices.
#include <gtest/gtest.h>

#include <string>

#include "common/error.h"
#include "weights/weight_store.h"

namespace inf {
namespace {

const std::string kData = INF_TEST_DATA_DIR;

TEST(WeightStore, ShardedIndexJoinsShards) {
  const WeightStore store = WeightStore::open(kData + "/sharded/model.safetensors.index.json");
  EXPECT_EQ(store.size(), 3u);
  EXPECT_EQ(store.get("blocks.0.bias").data_as<float>()[1], 8.0f);
  EXPECT_EQ(store.get("blocks.1.weight", {3}).data_as<float>()[2], 7.0f);
  EXPECT_EQ(store.metadata().at("total_size"), "36");
  EXPECT_EQ(store.total_bytes(), 36u);
}

class BrokenIndex : public testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(BrokenIndex, FailsWithOneClearError) {
  const std::string path = kData + "/sharded/" + GetParam().first + ".json";
  try {
    WeightStore::open(path);
    FAIL() << path << " was accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(GetParam().second), std::string::npos) << error.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Indexes, BrokenIndex,
                         testing::Values(std::make_pair("idx_path_traversal", "plain file name"),
                                         std::make_pair("idx_missing_tensor", "has no such tensor"),
                                         std::make_pair("idx_missing_shard", "cannot open"),
                                         std::make_pair("idx_no_weight_map", "weight_map"),
                                         std::make_pair("idx_not_json", "not a valid JSON")),
                         [](const auto& param_info) { return std::string(param_info.param.first); });

TEST(WeightStore, SelectStripsPrefix) {
  const WeightStore store = WeightStore::open(kData + "/sharded/model.safetensors.index.json");
  const WeightStore block0 = store.select("blocks.0");
  EXPECT_EQ(block0.size(), 2u);
  EXPECT_TRUE(block0.contains("weight"));
  EXPECT_EQ(block0.get("weight").data_as<float>()[3], 4.0f);
  EXPECT_THROW(store.select("decoder"), Error);
}

TEST(WeightStore, GetPartSlicesForTensorParallel) {
  const WeightStore store = WeightStore::open(kData + "/st/small.safetensors");
  // linear.weight = [[1,2,3],[4,5,6]]: row part 1 of 2 is [4,5,6]; column part 2 of 3 is [3,6].
  const Tensor rows = store.get_part("linear.weight", 0, 1, 2);
  EXPECT_EQ(rows.shape(), (Shape{1, 3}));
  EXPECT_EQ(rows.data_as<float>()[0], 4.0f);
  const Tensor columns = store.get_part("linear.weight", 1, 2, 3);
  EXPECT_EQ(columns.shape(), (Shape{2, 1}));
  EXPECT_EQ(columns.data_as<float>()[0], 3.0f);
  EXPECT_EQ(columns.data_as<float>()[columns.strides()[0]], 6.0f);
  EXPECT_THROW(store.get_part("linear.weight", 1, 0, 2), Error);  // 3 columns do not split in 2
  EXPECT_THROW(store.get_part("linear.weight", 0, 2, 2), Error);  // no part 2 of 2
}

TEST(WeightStore, MissingFileIsAnIoError) {
  try {
    WeightStore::open(kData + "/does-not-exist.safetensors");
    FAIL();
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::io);
    EXPECT_NE(std::string(error.what()).find("does-not-exist.safetensors"), std::string::npos);
  }
}

}  // namespace
}  // namespace inf
