// Random-weight configurations: official names and shapes that InfinityConfig reads back as
// the sizes of spec §1.1, deterministic values, and the memory formula's weight bytes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <iterator>

#include "common/error.h"
#include "model/infinity/config.h"
#include "model/infinity/random_weights.h"
#include "model/infinity/scale_schedule.h"

namespace inf {
namespace {

struct ExpectedSize {
  const char* name;
  int depth, width, heads, mlp_hidden, bits, pool_heads;
};

// Spec §1.1; the 20B's pool uses 64-wide heads over Ct5 = 2048 because D > 4096.
constexpr ExpectedSize kSizes[] = {
    {"tiny", 4, 128, 2, 512, 16, 4},        {"125M", 12, 768, 8, 3072, 32, 16},
    {"361M", 16, 1152, 12, 4608, 32, 16},   {"1B", 24, 1536, 16, 6144, 32, 16},
    {"2B", 32, 2048, 16, 8192, 32, 16},     {"8B", 40, 3584, 28, 14336, 56, 16},
    {"20B", 58, 4608, 36, 18432, 32, 32},
};

TEST(RandomWeights, EveryConfigReadsBackAsItsSize) {
  ASSERT_EQ(random_infinity_config_names().size(), std::size(kSizes));
  for (const auto& size : kSizes) {
    SCOPED_TRACE(size.name);
    const InfinityConfig config = InfinityConfig::from_weights(make_infinity_weight_shapes(size.name));
    EXPECT_EQ(config.depth, size.depth);
    EXPECT_EQ(config.width, size.width);
    EXPECT_EQ(config.heads, size.heads);
    EXPECT_EQ(config.mlp_hidden, size.mlp_hidden);
    EXPECT_EQ(config.bits_per_token, size.bits);
    EXPECT_EQ(config.pool_heads, size.pool_heads);
    EXPECT_EQ(config.condition_width, size.width);
    EXPECT_EQ(config.scale_levels, 15);
    EXPECT_GT(config.blocks_per_chunk, 0);  // chunked names, as the reference saves them
  }
}

TEST(RandomWeights, ParameterCountsMatchTheReleasedModels) {
  // Spec §1.1: 2B = 2 204 564 032 parameters + 133 120 buffer elements, all f32.
  EXPECT_EQ(make_infinity_weight_shapes("2B").total_bytes(), (2204564032ull + 133120ull) * 4);
  // The 8B index.json's total_size less the 1 728 bytes of legacy tensors we do not load.
  EXPECT_EQ(make_infinity_weight_shapes("8B").total_bytes(), 33504328512ull);
}

TEST(RandomWeights, TinyHasTheShapesOfTheShapeOnlyStore) {
  const WeightStore random = make_random_infinity_weights("tiny", 1);
  const WeightStore shapes = make_infinity_weight_shapes("tiny");
  ASSERT_EQ(random.names(), shapes.names());
  for (const auto& name : random.names()) EXPECT_EQ(random.record(name).shape, shapes.record(name).shape) << name;
  const InfinityConfig config = InfinityConfig::from_weights(random);
  EXPECT_EQ(config.depth, 4);
  EXPECT_EQ(config.text_channels, 512);
  EXPECT_EQ(config.text_max_length, 32);
  EXPECT_EQ(config.blocks_per_chunk, 2);
}

TEST(RandomWeights, SameSeedSameValuesOtherSeedOtherValues) {
  const WeightStore first = make_random_infinity_weights("tiny", 7);
  const WeightStore second = make_random_infinity_weights("tiny", 7);
  const WeightStore other = make_random_infinity_weights("tiny", 8);
  for (const auto& name : first.names()) {
    const Tensor a = first.get(name), b = second.get(name);
    ASSERT_EQ(a.nbytes(), b.nbytes());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.nbytes()), 0) << name;
  }
  const Tensor a = first.get("block_chunks.1.module.0.ffn.fc1.weight");
  const Tensor c = other.get("block_chunks.1.module.0.ffn.fc1.weight");
  EXPECT_NE(std::memcmp(a.data(), c.data(), a.nbytes()), 0);
  // Different tensors of the same shape get independent values too.
  const Tensor d = first.get("block_chunks.1.module.1.ffn.fc1.weight");
  EXPECT_NE(std::memcmp(a.data(), d.data(), a.nbytes()), 0);
}

TEST(RandomWeights, ValuesDoNotDependOnHowTheWorkIsSplit) {
  // Each fixed-size chunk has its own generator, so a shorter tensor is a prefix of a longer
  // one: the values depend on the element index, not on the thread that produced them.
  const Tensor longer = Tensor::host(DType::f32, {200000});
  const Tensor shorter = Tensor::host(DType::f32, {70001});
  fill_random_normal(longer, 3, "stream", 0.0f, 1.0f);
  fill_random_normal(shorter, 3, "stream", 0.0f, 1.0f);
  EXPECT_EQ(std::memcmp(longer.data(), shorter.data(), shorter.nbytes()), 0);
}

TEST(RandomWeights, InitialisationScales) {
  const WeightStore store = make_random_infinity_weights("tiny", 0);
  const auto moments = [&](const std::string& name) {
    const Tensor t = store.get(name);
    double sum = 0, squares = 0;
    for (int64_t i = 0; i < t.numel(); ++i) sum += t.data_as<float>()[i];
    const double mean = sum / static_cast<double>(t.numel());
    for (int64_t i = 0; i < t.numel(); ++i) squares += std::pow(t.data_as<float>()[i] - mean, 2);
    return std::make_pair(mean, std::sqrt(squares / static_cast<double>(t.numel())));
  };
  const auto [fc2_mean, fc2_std] = moments("block_chunks.0.module.1.ffn.fc2.weight");  // fan_in 512
  EXPECT_NEAR(fc2_mean, 0.0, 0.002);
  EXPECT_NEAR(fc2_std, 1.0 / std::sqrt(512.0), 0.002);
  const auto [norm_mean, norm_std] = moments("text_norm.weight");
  EXPECT_NEAR(norm_mean, 1.0, 0.03);
  EXPECT_NEAR(norm_std, 0.1, 0.02);
  const auto [zero_mean, zero_std] = moments("block_chunks.1.module.1.sa.zero_k_bias");
  EXPECT_EQ(zero_mean, 0.0);
  EXPECT_EQ(zero_std, 0.0);
}

TEST(RandomWeights, UnknownNameThrowsListingTheKnownOnes) {
  try {
    make_random_infinity_weights("3B");
    FAIL() << "no exception";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::invalid_argument);
    EXPECT_NE(std::string(error.what()).find("125M"), std::string::npos) << error.what();
  }
  EXPECT_THROW(make_infinity_weight_shapes(""), Error);
}

TEST(MemoryEstimate, WeightBytesAreTheStoresBytes) {
  const ScaleSchedule schedule = schedule_for_ratio(1.0, "0.06M");
  for (const auto& name : random_infinity_config_names()) {
    SCOPED_TRACE(name);
    const WeightStore shapes = make_infinity_weight_shapes(name);
    const InfinityConfig config = InfinityConfig::from_weights(shapes);
    EXPECT_EQ(estimate_infinity_memory(config, schedule, 1, DType::f32).weights, shapes.total_bytes());

    // bf16 blocks halve exactly the seven block matmul weights.
    uint64_t block_matmul_bytes = 0;
    for (const auto& tensor : shapes.names()) {
      if (tensor.compare(0, 13, "block_chunks.") != 0 || shapes.record(tensor).shape.size() != 2) continue;
      block_matmul_bytes += static_cast<uint64_t>(shape_numel(shapes.record(tensor).shape)) * 4;
    }
    EXPECT_EQ(estimate_infinity_memory(config, schedule, 1, DType::bf16).weights,
              shapes.total_bytes() - block_matmul_bytes / 2);
  }
  const InfinityConfig tiny = InfinityConfig::from_weights(make_random_infinity_weights("tiny"));
  EXPECT_EQ(estimate_infinity_memory(tiny, schedule, 1, DType::f32).weights,
            make_random_infinity_weights("tiny").total_bytes());
}

TEST(MemoryEstimate, KvCacheAndActivationsGrowWithTheWork) {
  const InfinityConfig config = InfinityConfig::from_weights(make_infinity_weight_shapes("125M"));
  const ScaleSchedule small = schedule_for_ratio(1.0, "0.06M");
  ASSERT_EQ(small.total_tokens(), 521);
  const InfinityMemoryEstimate one = estimate_infinity_memory(config, small, 1, DType::f32, 16);
  EXPECT_EQ(one.kv_cache, 2ull * 12 * 521 * 2 * 768 * 4);  // K and V, 12 blocks, CFG rows, f32
  const InfinityMemoryEstimate two = estimate_infinity_memory(config, small, 2, DType::f32, 16);
  EXPECT_EQ(two.kv_cache, 2 * one.kv_cache);
  EXPECT_GT(two.activations, one.activations);
  const InfinityMemoryEstimate larger = estimate_infinity_memory(config, schedule_for_ratio(1.0, "0.25M"), 1, DType::f32, 16);
  EXPECT_GT(larger.activations, one.activations);
  EXPECT_EQ(larger.weights, one.weights);
  EXPECT_THROW(estimate_infinity_memory(config, small, 0, DType::f32), Error);
}

}  // namespace
}  // namespace inf
