// Bit sampling and the per-scale code bookkeeping: Philox known answers, CFG mixing and the
// teacher-forced summed codes against the golden files, sampling statistics and determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/thread_pool.h"
#include "model/infinity/bit_sampler.h"
#include "model/infinity/philox.h"
#include "weights/weight_store.h"

namespace inf {
namespace {

struct GoldenCase {
  const char* file;
  std::vector<float> cfg, tau;  // per scale, from the file's config
};

const std::vector<int> kGoldenGrid = {1, 2, 4, 6, 8, 12, 16};  // square 0.06M schedule

WeightStore open_golden(const char* file) {
  return WeightStore::open(std::string(INF_TEST_DATA_DIR) + "/golden/" + file + ".safetensors");
}

struct Difference {
  double max_abs = 0, max_ref = 0;
  int64_t differing = 0;  // elements whose bits differ
};

Difference compare(const Tensor& actual, const Tensor& expected) {
  EXPECT_EQ(actual.shape(), expected.shape());
  Difference diff;
  if (actual.shape() != expected.shape()) return diff;
  const float* a = actual.data_as<float>();
  const float* e = expected.data_as<float>();
  for (int64_t i = 0; i < actual.numel(); ++i) {
    diff.max_abs = std::max(diff.max_abs, std::fabs(static_cast<double>(a[i]) - e[i]));
    diff.max_ref = std::max(diff.max_ref, std::fabs(static_cast<double>(e[i])));
    if (std::memcmp(&a[i], &e[i], sizeof(float)) != 0) ++diff.differing;
  }
  return diff;
}

TEST(Philox, Random123KnownAnswers) {
  EXPECT_EQ(philox4x32_10({0, 0, 0, 0}, {0, 0}), (PhiloxCounter{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox4x32_10({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}),
            (PhiloxCounter{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}),
            (PhiloxCounter{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
  EXPECT_EQ(philox_uniform(0), 0.0f);
  EXPECT_LT(philox_uniform(0xffffffffu), 1.0f);
}

class Golden : public testing::TestWithParam<GoldenCase> {};

TEST_P(Golden, MixedLogitsMatchReference) {
  const GoldenCase& param = GetParam();
  const WeightStore golden = open_golden(param.file);
  for (size_t k = 0; k < kGoldenGrid.size(); ++k) {
    const std::string suffix = ".s" + std::to_string(k);
    const Tensor cond = golden.get("expect.logits_cond" + suffix);
    const Tensor uncond = golden.get("expect.logits_uncond" + suffix);
    const Tensor expected = golden.get("expect.logits_mixed" + suffix);
    const Tensor mixed = Tensor::host(DType::f32, cond.shape());
    mix_cfg_logits(cond, uncond, param.cfg[k], param.tau[k], mixed);
    const Difference diff = compare(mixed, expected);
    // The same fp32 operations in the same order: identical bits.
    EXPECT_EQ(diff.differing, 0) << param.file << " scale " << k << " max abs " << diff.max_abs << " of "
                                 << diff.max_ref;
  }
}

// Teacher-forcing the golden bits through codes, summed codes and the next scale's input.
TEST_P(Golden, SummedCodesAndWordEmbedInputsMatchReference) {
  const GoldenCase& param = GetParam();
  const WeightStore golden = open_golden(param.file);
  const Tensor expected_summed = golden.get("expect.summed_codes");
  const int64_t batch = expected_summed.dim(0), bits_per_token = expected_summed.dim(1);
  const int final_size = kGoldenGrid.back();
  Tensor summed = Tensor::host(DType::f32, {batch, bits_per_token, final_size, final_size});
  for (size_t k = 0; k < kGoldenGrid.size(); ++k) {
    const int size = kGoldenGrid[k];
    const Tensor bits = golden.get("input.bits.s" + std::to_string(k), {batch, size * size, bits_per_token});
    add_upsampled(summed, bits_to_codes(bits, size, size));
    if (k + 1 == kGoldenGrid.size()) break;
    const int next = kGoldenGrid[k + 1];
    const Tensor word_embed_in = flatten_tokens(downsample_for_next_scale(summed, next, next));
    const Difference diff = compare(word_embed_in, golden.get("expect.word_embed_in.s" + std::to_string(k + 1)));
    EXPECT_EQ(diff.differing, 0) << param.file << " scale " << k + 1 << " max abs " << diff.max_abs;
    EXPECT_LE(diff.max_abs, 1e-6);
  }
  const Difference diff = compare(summed, expected_summed);
  EXPECT_EQ(diff.differing, 0) << param.file << " max abs " << diff.max_abs;
}

INSTANTIATE_TEST_SUITE_P(Files, Golden,
                         testing::Values(GoldenCase{"infinity_tiny_square", std::vector<float>(7, 3.0f),
                                                    std::vector<float>(7, 0.5f)},
                                         GoldenCase{"infinity_tiny_batch2",
                                                    {4.0f, 3.5f, 3.0f, 2.5f, 2.0f, 1.5f, 1.25f},
                                                    std::vector<float>(7, 1.0f)}),
                         [](const auto& param_info) { return std::string(param_info.param.file); });

TEST(Codes, BitsToCodesLayoutAndValues) {
  // 1 image, 2x3 tokens, 4 bits: token t has bit j = (t + j) % 2.
  Tensor bits = Tensor::host(DType::u8, {1, 6, 4});
  for (int t = 0; t < 6; ++t)
    for (int j = 0; j < 4; ++j) bits.data_as<uint8_t>()[t * 4 + j] = static_cast<uint8_t>((t + j) % 2);
  const Tensor codes = bits_to_codes(bits, 2, 3);
  ASSERT_EQ(codes.shape(), (Shape{1, 4, 2, 3}));
  for (int j = 0; j < 4; ++j)
    for (int t = 0; t < 6; ++t) EXPECT_EQ(codes.data_as<float>()[j * 6 + t], (t + j) % 2 ? 0.5f : -0.5f);
  EXPECT_THROW(bits_to_codes(bits, 3, 3), Error);
  bits.data_as<uint8_t>()[5] = 2;
  EXPECT_THROW(bits_to_codes(bits, 2, 3), Error);
}

TEST(Codes, FlattenTokensIsRasterOrder) {
  const Tensor grid = Tensor::host(DType::f32, {1, 2, 2, 3});  // value = 100 c + 10 y + x
  for (int c = 0; c < 2; ++c)
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x) grid.data_as<float>()[(c * 2 + y) * 3 + x] = static_cast<float>(100 * c + 10 * y + x);
  const Tensor flat = flatten_tokens(grid);
  ASSERT_EQ(flat.shape(), (Shape{1, 6, 2}));
  EXPECT_EQ(flat.data_as<float>()[(1 * 3 + 2) * 2 + 1], 112.0f);  // token (1, 2), channel 1
}

TEST(Codes, BilinearDownsampleSamplesTheSpecRows) {
  // Spec §6: 64 -> 2 samples rows 15/16 and 47/48 (src = 15.5 and 47.5, weights 1/2).
  Tensor summed = Tensor::host(DType::f32, {1, 1, 64, 1});
  for (int y = 0; y < 64; ++y) summed.data_as<float>()[y] = static_cast<float>(y);
  const Tensor down = downsample_for_next_scale(summed, 2, 1);
  EXPECT_EQ(down.data_as<float>()[0], 15.5f);
  EXPECT_EQ(down.data_as<float>()[1], 47.5f);
  Tensor wrong_batch = Tensor::host(DType::f32, {2, 1, 1, 1});
  EXPECT_THROW(add_upsampled(summed, wrong_batch), Error);
}

// Logits [1, n, 2d] with the same pair (logit0, logit1) everywhere.
Tensor constant_logits(int64_t tokens, int64_t bits_per_token, float logit0, float logit1) {
  Tensor logits = Tensor::host(DType::f32, {1, tokens, 2 * bits_per_token});
  float* data = logits.data_as<float>();
  for (int64_t i = 0; i < logits.numel(); i += 2) {
    data[i] = logit0;
    data[i + 1] = logit1;
  }
  return logits;
}

int64_t count_ones(const Tensor& bits) {
  int64_t ones = 0;
  for (int64_t i = 0; i < bits.numel(); ++i) ones += bits.data_as<uint8_t>()[i];
  return ones;
}

TEST(Sampler, FrequencyMatchesProbability) {
  const int64_t tokens = 6250, bits_per_token = 16, total = tokens * bits_per_token;  // 100k bits
  const double p1 = 0.3;
  const Tensor logits = constant_logits(tokens, bits_per_token, 0.0f, static_cast<float>(std::log(p1 / (1 - p1))));
  const Tensor bits = Tensor::host(DType::u8, {1, tokens, bits_per_token});
  SamplingParams params;
  params.seed = 42;
  sample_bits(logits, params, 5, 0, bits);
  const double frequency = static_cast<double>(count_ones(bits)) / static_cast<double>(total);
  const double sigma = std::sqrt(p1 * (1 - p1) / static_cast<double>(total));
  EXPECT_LT(std::fabs(frequency - p1), 4 * sigma) << frequency;
}

TEST(Sampler, TopPMakesUnlikelyBitsDeterministic) {
  const int64_t tokens = 6250, bits_per_token = 16;
  const float margin = static_cast<float>(std::log(0.02 / 0.98));  // p1 = 0.02 <= 1 - 0.97
  const Tensor bits = Tensor::host(DType::u8, {1, tokens, bits_per_token});
  SamplingParams params;
  params.seed = 7;
  sample_bits(constant_logits(tokens, bits_per_token, 0.0f, margin), params, 3, 0, bits);
  EXPECT_EQ(count_ones(bits), 0);
  sample_bits(constant_logits(tokens, bits_per_token, 0.0f, -margin), params, 3, 0, bits);
  EXPECT_EQ(count_ones(bits), tokens * bits_per_token);
  // Without the filter the rare class shows up at about its probability (2000 of 100k).
  params.top_p = 1.0f;
  sample_bits(constant_logits(tokens, bits_per_token, 0.0f, margin), params, 3, 0, bits);
  EXPECT_GT(count_ones(bits), 1700);
  EXPECT_LT(count_ones(bits), 2300);
  // p1 = 0.05 survives top-p 0.97.
  params.top_p = 0.97f;
  EXPECT_EQ(sample_bit(0.0f, static_cast<float>(std::log(0.05 / 0.95)), params, 0.01f), 1);
}

TEST(Sampler, TopKOneIsGreedy) {
  SamplingParams params;
  params.top_k = 1;
  params.top_p = 1.0f;
  EXPECT_EQ(sample_bit(0.0f, 0.1f, params, 0.99f), 1);
  EXPECT_EQ(sample_bit(0.1f, 0.0f, params, 0.0f), 0);
  EXPECT_EQ(sample_bit(0.5f, 0.5f, params, 0.0f), 0);  // tie -> class 0
  params.top_k = 2;
  EXPECT_EQ(sample_bit(0.0f, 0.1f, params, 0.99f), 0);  // two classes: k = 2 filters nothing
  EXPECT_EQ(sample_bit(0.0f, 0.1f, params, 0.0f), 1);
}

TEST(Sampler, NanLogitsThrow) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(sample_bit(nan, 0.0f, SamplingParams{}, 0.5f), Error);
  const Tensor logits = constant_logits(4, 2, 0.0f, nan);
  const Tensor bits = Tensor::host(DType::u8, {1, 4, 2});
  EXPECT_THROW(sample_bits(logits, SamplingParams{}, 0, 0, bits), Error);
  // An infinite margin is a certain bit, not an error.
  EXPECT_EQ(sample_bit(0.0f, std::numeric_limits<float>::infinity(), SamplingParams{}, 0.999f), 1);
}

// Random logits whose bits are far from certain, so the uniforms decide.
Tensor random_logits(int64_t batch, int64_t tokens, int64_t bits_per_token) {
  Tensor logits = Tensor::host(DType::f32, {batch, tokens, 2 * bits_per_token});
  for (int64_t i = 0; i < logits.numel(); ++i)
    logits.data_as<float>()[i] = 2.0f * philox_uniform(philox4x32_10({static_cast<uint32_t>(i), 0, 0, 0}, {1, 2})[0]);
  return logits;
}

TEST(Sampler, ResultIsAFunctionOfTheBitsIndicesOnly) {
  const int64_t batch = 3, tokens = 1000, bits_per_token = 32;
  const Tensor logits = random_logits(batch, tokens, bits_per_token);
  SamplingParams params;
  params.seed = 0x123456789abcdefull;
  const int scale = 9, first_image = 4;
  const Tensor bits = Tensor::host(DType::u8, {batch, tokens, bits_per_token});
  sample_bits(logits, params, scale, first_image, bits);  // parallel over the pool (INFINODE_THREADS)

  // The same bits one at a time on this thread: chunking cannot matter.
  const float* l = logits.data_as<float>();
  int64_t mismatches = 0, ones = 0;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < tokens; ++t)
      for (int j = 0; j < bits_per_token; ++j) {
        const int64_t pair = ((b * tokens + t) * bits_per_token + j) * 2;
        const uint8_t expected = sample_bit(l[pair], l[pair + 1], params,
                                            bit_uniform(params.seed, first_image + b, scale, t, j));
        const uint8_t actual = bits.data_as<uint8_t>()[(b * tokens + t) * bits_per_token + j];
        mismatches += expected != actual;
        ones += actual;
      }
  EXPECT_EQ(mismatches, 0) << "with " << cpu_thread_count() << " threads";
  EXPECT_GT(ones, batch * tokens * bits_per_token / 4);  // the bits are really random

  // Sampling image 1 of the batch on its own, as image first_image + 1, gives its same bits.
  const Tensor one_image = Tensor::host(DType::u8, {1, tokens, bits_per_token});
  const Tensor image1_logits = Tensor::host(DType::f32, {1, tokens, 2 * bits_per_token});
  std::memcpy(image1_logits.data(), logits.narrow(0, 1, 1).data(), image1_logits.nbytes());
  sample_bits(image1_logits, params, scale, first_image + 1, one_image);
  EXPECT_EQ(std::memcmp(one_image.data(), bits.narrow(0, 1, 1).data(), one_image.nbytes()), 0);

  // Another seed or scale draws other numbers.
  const Tensor other = Tensor::host(DType::u8, {batch, tokens, bits_per_token});
  sample_bits(logits, params, scale + 1, first_image, other);
  EXPECT_NE(std::memcmp(other.data(), bits.data(), bits.nbytes()), 0);
  params.seed += 1;
  sample_bits(logits, params, scale, first_image, other);
  EXPECT_NE(std::memcmp(other.data(), bits.data(), bits.nbytes()), 0);
}

TEST(Sampler, UniformsLookUniform) {
  // Mean 1/2 and variance 1/12 over 4096 tokens x 32 bits.
  double sum = 0, sum_sq = 0;
  const int count = 4096 * 32;
  for (int t = 0; t < 4096; ++t)
    for (int j = 0; j < 32; ++j) {
      const double u = bit_uniform(99, 0, 2, t, j);
      ASSERT_GE(u, 0.0);
      ASSERT_LT(u, 1.0);
      sum += u;
      sum_sq += u * u;
    }
  const double mean = sum / count;
  EXPECT_NEAR(mean, 0.5, 4 * std::sqrt(1.0 / 12 / count));
  EXPECT_NEAR(sum_sq / count - mean * mean, 1.0 / 12, 0.002);
}

TEST(Sampler, BadArgumentsThrow) {
  const Tensor logits = constant_logits(4, 2, 0.0f, 1.0f);
  const Tensor good = Tensor::host(DType::u8, {1, 4, 2});
  EXPECT_THROW(sample_bits(logits, SamplingParams{}, 0, 0, Tensor::host(DType::u8, {1, 4, 4})), Error);
  EXPECT_THROW(sample_bits(logits, SamplingParams{}, 0, 0, Tensor::host(DType::f32, {1, 4, 2})), Error);
  EXPECT_THROW(sample_bits(logits, SamplingParams{}, -1, 0, good), Error);
  const Tensor mixed = Tensor::host(DType::f32, logits.shape());
  EXPECT_THROW(mix_cfg_logits(logits, logits, 3.0f, 0.0f, mixed), Error);
  EXPECT_THROW(mix_cfg_logits(logits, Tensor::host(DType::f32, {1, 4, 2}), 3.0f, 1.0f, mixed), Error);
  EXPECT_THROW(mix_cfg_logits(logits, logits, std::numeric_limits<float>::quiet_NaN(), 1.0f, mixed), Error);
}

}  // namespace
}  // namespace inf
