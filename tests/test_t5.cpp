// The T5 encoder on the tiny random model: config from the weights, relative-position buckets,
// clear errors for bad weights and ids, bf16 weights against f32, and the prompt feature
// cache. The numbers themselves are checked against Hugging Face by golden.t5_tiny; the last
// test checks that the C++ tokenizer gives that golden file's (HF's) ids.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "common/error.h"
#include "model/t5/random_t5_weights.h"
#include "model/t5/t5_encoder.h"
#include "text/prompt_cache.h"
#include "text/t5_tokenizer.h"
#include "weights/weight_store.h"

namespace inf {
namespace {

Backend& cpu() {
  static const std::unique_ptr<Backend> backend = create_backend("cpu");
  return *backend;
}

const WeightStore& tiny() {
  static const WeightStore store = make_random_t5_weights("tiny", 0);
  return store;
}

const T5Encoder& tiny_encoder() {
  static const T5Encoder encoder(cpu(), tiny());
  return encoder;
}

// The tiny store without the tensors `drop` accepts, plus `extra`.
WeightStore tiny_edited(const std::function<bool(const std::string&)>& drop,
                        std::vector<std::pair<std::string, Tensor>> extra = {}) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& name : tiny().names())
    if (!drop(name)) tensors.emplace_back(name, tiny().get(name));
  for (auto& tensor : extra) tensors.push_back(std::move(tensor));
  return WeightStore::from_host_tensors("tiny-t5-edited", std::move(tensors));
}

// Runs `action`, which must throw inf::Error of `kind` whose message contains every phrase.
void expect_error(const std::function<void()>& action, ErrorKind kind, const std::vector<std::string>& phrases) {
  try {
    action();
    ADD_FAILURE() << "no inf::Error was thrown";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_EQ(static_cast<int>(error.kind()), static_cast<int>(kind)) << message;
    for (const auto& phrase : phrases)
      EXPECT_NE(message.find(phrase), std::string::npos) << "'" << phrase << "' not in: " << message;
  }
}

std::vector<int32_t> some_ids(int length) {
  std::vector<int32_t> ids;
  for (int t = 0; t + 1 < length; ++t) ids.push_back(3 + (t * 37) % 800);
  ids.push_back(1);
  return ids;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

TEST(T5Config, FromWeights) {
  const T5Config config = T5Config::from_weights(tiny());
  EXPECT_EQ(config.d_model, 64);
  EXPECT_EQ(config.layers, 3);
  EXPECT_EQ(config.heads, 4);
  EXPECT_EQ(config.d_kv, 16);
  EXPECT_EQ(config.d_ff, 96);
  EXPECT_TRUE(config.gated);
  ASSERT_TRUE(config.activation.has_value());
  EXPECT_EQ(*config.activation, UnaryOp::gelu_tanh);
  EXPECT_EQ(config.vocab, 960);
  EXPECT_EQ(config.buckets, 32);
  EXPECT_EQ(config.max_distance, 128);  // not in the weights: the default
  EXPECT_EQ(config.embedding_name, "shared.weight");
  EXPECT_EQ(T5Config::from_weights(tiny(), 64).max_distance, 64);
}

TEST(T5Config, FlanT5XlMemoryEstimate) {
  // Spec section 3: the Flan-T5-XL encoder is ~1.22 B parameters, 4.9 GB in f32.
  T5Config xl;
  xl.d_model = 2048, xl.layers = 24, xl.heads = 32, xl.d_kv = 64, xl.d_ff = 5120, xl.vocab = 32128;
  const T5MemoryEstimate f32 = estimate_t5_memory(xl, 512, DType::f32);
  EXPECT_NEAR(static_cast<double>(f32.weights) / 4, 1.2233e9, 0.001e9);
  const T5MemoryEstimate bf16 = estimate_t5_memory(xl, 512, DType::bf16);
  EXPECT_LT(bf16.weights, f32.weights / 2 + (uint64_t{1} << 20));  // only the norms and buckets stay f32
  EXPECT_GT(f32.activations, uint64_t{2} * 32 * 512 * 512 * 4);    // at least the scores and the bias
  expect_error([] { make_random_t5_weights("xxl"); }, ErrorKind::invalid_argument, {"flan-t5-xl", "tiny"});
}

TEST(T5Config, EmbedTokensNameAndDecoderIgnored) {
  // A T5EncoderModel export may name the embedding encoder.embed_tokens; full T5 checkpoints add
  // decoder.* and lm_head, which the encoder must neither need nor load (a garbage shape here).
  const WeightStore edited =
      tiny_edited([](const std::string& name) { return name == "shared.weight"; },
                  {{"encoder.embed_tokens.weight", tiny().get("shared.weight")},
                   {"decoder.block.0.layer.0.SelfAttention.q.weight", Tensor::host(DType::f32, {3})},
                   {"lm_head.weight", Tensor::host(DType::f32, {5, 7})}});
  const T5Config config = T5Config::from_weights(edited);
  EXPECT_EQ(config.embedding_name, "encoder.embed_tokens.weight");
  const T5Encoder encoder(cpu(), edited);
  EXPECT_TRUE(same_bits(encoder.encode(some_ids(9)), tiny_encoder().encode(some_ids(9))));
}

TEST(T5Config, PlainFfnNeedsAnActivation) {
  // T5 v1.0's layout: one `wi` instead of wi_0 and wi_1.
  std::vector<std::pair<std::string, Tensor>> plain_wi;
  for (int i = 0; i < 3; ++i) {
    const std::string ffn = "encoder.block." + std::to_string(i) + ".layer.1.DenseReluDense.";
    plain_wi.emplace_back(ffn + "wi.weight", tiny().get(ffn + "wi_0.weight"));
  }
  const WeightStore plain = tiny_edited(
      [](const std::string& name) { return name.find("DenseReluDense.wi_") != std::string::npos; }, plain_wi);
  T5Config config = T5Config::from_weights(plain);
  EXPECT_FALSE(config.gated);
  EXPECT_EQ(config.d_ff, 96);
  EXPECT_FALSE(config.activation.has_value());
  expect_error([&] { T5Encoder encoder(cpu(), plain); }, ErrorKind::unsupported, {"ReLU"});
  config.activation = UnaryOp::gelu_tanh;
  const Tensor features = T5Encoder(cpu(), plain, config).encode(some_ids(5));
  EXPECT_EQ(features.shape(), (Shape{5, 64}));
}

TEST(T5Buckets, HandComputed) {
  // 32 buckets, max distance 128: 16 per direction (keys after the query: 16..31), 8 exact
  // offsets each, then 8 log-spaced buckets for 8..127: bucket 8 + floor(8 log(n/8) / log 16),
  // i.e. boundaries at 8 * 2^(k/2): 8, 11.3, 16, 22.6, 32, 45.3, 64, 90.5 (128 and beyond: 15).
  const std::pair<int64_t, int> cases[] = {
      {0, 0},     {-1, 1},    {-7, 7},    {1, 17},    {7, 23},    {-8, 8},     {8, 24},     {11, 24},
      {12, 25},   {-15, 9},   {16, 26},   {-16, 10},  {-31, 11},  {32, 28},    {-63, 13},   {64, 30},
      {-90, 14},  {-91, 15},  {127, 31},  {-127, 15}, {128, 31},  {-128, 15},  {100000, 31}, {-100000, 15}};
  for (const auto& [offset, bucket] : cases)
    EXPECT_EQ(t5_relative_position_bucket(offset, 32, 128), bucket) << "offset " << offset;
  // Every bucket of a direction is used, and buckets never decrease with distance.
  int previous = 0;
  for (int64_t n = 0; n < 200; ++n) {
    const int bucket = t5_relative_position_bucket(-n, 32, 128);
    EXPECT_TRUE(bucket == previous || bucket == previous + 1) << "distance " << n;
    previous = bucket;
  }
  EXPECT_EQ(previous, 15);
  expect_error([] { t5_relative_position_bucket(3, 3, 128); }, ErrorKind::invalid_argument, {"buckets"});
}

TEST(T5Encoder, PositionBiasUsesBucketsPerHead) {
  const T5Encoder& encoder = tiny_encoder();
  const Tensor table = tiny().get("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");  // [32, 4]
  const int64_t length = 150;
  const Tensor bias = encoder.position_bias(length);  // [4, L, L]
  ASSERT_EQ(bias.shape(), (Shape{4, length, length}));
  const std::vector<std::pair<int64_t, int64_t>> pairs = {{0, 0}, {3, 5}, {5, 3}, {0, 149}, {149, 0}, {70, 99}};
  for (const auto& [i, j] : pairs)
    for (int64_t h = 0; h < 4; ++h) {
      const int bucket = t5_relative_position_bucket(j - i, 32, 128);
      EXPECT_EQ(bias.data_as<float>()[(h * length + i) * length + j], table.data_as<float>()[bucket * 4 + h])
          << "h " << h << " i " << i << " j " << j;
    }
}

TEST(T5Encoder, MissingTensorsAreNamed) {
  const std::string wo = "encoder.block.1.layer.1.DenseReluDense.wo.weight";
  expect_error([&] { T5Encoder encoder(cpu(), tiny_edited([&](const std::string& name) { return name == wo; })); },
               ErrorKind::invalid_data, {wo});
  const std::string norm = "encoder.final_layer_norm.weight";
  expect_error([&] { T5Encoder encoder(cpu(), tiny_edited([&](const std::string& name) { return name == norm; })); },
               ErrorKind::invalid_data, {norm});
  const std::string bias = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
  expect_error([&] { T5Config::from_weights(tiny_edited([&](const std::string& name) { return name == bias; })); },
               ErrorKind::invalid_data, {bias});
  // A whole layer missing from the middle.
  expect_error([] {
    T5Config::from_weights(tiny_edited([](const std::string& name) { return name.rfind("encoder.block.1.", 0) == 0; }));
  }, ErrorKind::invalid_data, {"encoder blocks are not numbered 0..1", "highest is 2"});
  expect_error([] { T5Config::from_weights(tiny_edited([](const std::string&) { return true; })); },
               ErrorKind::invalid_data, {"shared.weight"});
  // A wrong shape names the tensor and both shapes.
  const std::string o = "encoder.block.2.layer.0.SelfAttention.o.weight";
  expect_error([&] {
    T5Encoder encoder(cpu(), tiny_edited([&](const std::string& name) { return name == o; },
                                         {{o, Tensor::host(DType::f32, {64, 32})}}));
  }, ErrorKind::invalid_data, {o, "[64, 32]", "[64, 64]"});
}

TEST(T5Encoder, RejectsBadIds) {
  const T5Encoder& encoder = tiny_encoder();
  expect_error([&] { encoder.encode({5, 960, 1}); }, ErrorKind::invalid_argument, {"token 1", "960", "[0, 960)"});
  expect_error([&] { encoder.encode({-1, 1}); }, ErrorKind::invalid_argument, {"token 0", "-1"});
  expect_error([&] { encoder.encode({}); }, ErrorKind::invalid_argument, {"no token ids"});
  expect_error([] { T5Encoder half(cpu(), tiny(), DType::f16); }, ErrorKind::invalid_argument, {"f16"});
}

TEST(T5Encoder, ShapesAndDeterminism) {
  const T5Encoder& encoder = tiny_encoder();
  const Tensor eos = encoder.encode({1});  // the empty prompt
  EXPECT_EQ(eos.shape(), (Shape{1, 64}));
  const Tensor features = encoder.encode(some_ids(300));  // past max_distance: saturated buckets
  ASSERT_EQ(features.shape(), (Shape{300, 64}));
  EXPECT_TRUE(features.device().is_cpu());
  for (int64_t i = 0; i < features.numel(); ++i) ASSERT_TRUE(std::isfinite(features.data_as<float>()[i]));
  EXPECT_TRUE(same_bits(features, encoder.encode(some_ids(300))));
}

// bf16 matmul weights and embedding (activations f32) against f32 weights. bf16 keeps 8
// mantissa bits (relative rounding <= 2^-9 = 2e-3 per weight); over 3 layers the features
// differ by ~1% of their largest magnitude. The bound (3e-2 of max |f32|) is golden's bf16 bound.
TEST(T5Encoder, Bf16WeightsWithinTolerance) {
  const T5Encoder bf16(cpu(), tiny(), DType::bf16);
  EXPECT_EQ(bf16.weight_dtype(), DType::bf16);
  for (const int length : {1, 20, 200}) {
    const Tensor reference = tiny_encoder().encode(some_ids(length));
    const Tensor approx = bf16.encode(some_ids(length));
    double max_abs = 0, max_ref = 0;
    for (int64_t i = 0; i < reference.numel(); ++i) {
      max_abs = std::max<double>(max_abs, std::fabs(reference.data_as<float>()[i] - approx.data_as<float>()[i]));
      max_ref = std::max<double>(max_ref, std::fabs(reference.data_as<float>()[i]));
    }
    EXPECT_GT(max_abs, 0.0) << "bf16 weights changed nothing";
    EXPECT_LE(max_abs / max_ref, 3e-2) << length << " tokens: max abs " << max_abs << ", max ref " << max_ref;
  }
}

TEST(PromptCache, HitsSkipTheEncoder) {
  PromptFeatureCache cache(8, size_t{1} << 20);
  int calls = 0;
  const auto encode = [&](const std::vector<int32_t>& ids) {
    ++calls;
    return tiny_encoder().encode(ids);
  };
  const Tensor first = cache.get_or_encode(some_ids(12), encode);
  const Tensor again = cache.get_or_encode(some_ids(12), encode);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(same_bits(first, again));
  EXPECT_TRUE(same_bits(again, tiny_encoder().encode(some_ids(12))));
  cache.get_or_encode(some_ids(13), encode);
  EXPECT_EQ(calls, 2);
  const auto stats = cache.stats();
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.misses, 2u);
  EXPECT_EQ(stats.entries, 2u);
  EXPECT_EQ(stats.bytes, size_t{(12 + 13) * 64 * 4});
  cache.clear();
  cache.get_or_encode(some_ids(12), encode);
  EXPECT_EQ(calls, 3);
}

TEST(PromptCache, EvictsLeastRecentlyUsedByEntriesAndBytes) {
  const auto features = [](int64_t rows) { return Tensor::host(DType::f32, {rows, 64}); };  // rows * 256 bytes
  PromptFeatureCache by_entries(2, size_t{1} << 20);
  by_entries.insert({1}, features(1));
  by_entries.insert({2}, features(1));
  EXPECT_TRUE(by_entries.find({1}).has_value());  // {2} is now the least recently used
  by_entries.insert({3}, features(1));
  EXPECT_FALSE(by_entries.find({2}).has_value());
  EXPECT_TRUE(by_entries.find({1}).has_value());
  EXPECT_TRUE(by_entries.find({3}).has_value());
  EXPECT_EQ(by_entries.stats().evictions, 1u);

  PromptFeatureCache by_bytes(100, 1000);
  by_bytes.insert({1}, features(2));  // 512 bytes
  by_bytes.insert({2}, features(1));  // 768 in all
  by_bytes.insert({3}, features(1));  // 1024 > 1000: {1} goes
  EXPECT_FALSE(by_bytes.find({1}).has_value());
  EXPECT_EQ(by_bytes.stats().bytes, 512u);
  by_bytes.insert({4}, features(4));  // larger than the whole cache: not stored, nothing evicted
  EXPECT_FALSE(by_bytes.find({4}).has_value());
  EXPECT_EQ(by_bytes.stats().entries, 2u);
  by_bytes.insert({2}, features(2));  // replacing an entry updates its size
  EXPECT_EQ(by_bytes.stats().bytes, 768u);
}

TEST(PromptCache, ThreadSafe) {
  PromptFeatureCache cache(4, size_t{1} << 20);
  std::atomic<int> calls{0};
  const auto encode = [&](const std::vector<int32_t>& ids) {
    ++calls;
    Tensor features = Tensor::host(DType::f32, {static_cast<int64_t>(ids.size()), 4});
    std::fill_n(features.data_as<float>(), features.numel(), static_cast<float>(ids[0]));
    return features;
  };
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const int32_t key = (i * 7 + t) % 6;  // 6 prompts through 4 entries: hits, misses, evictions
        const Tensor features = cache.get_or_encode({key, 1}, encode);
        if (features.data_as<float>()[0] != static_cast<float>(key)) ++wrong;
      }
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  const auto stats = cache.stats();
  EXPECT_EQ(stats.hits + stats.misses, 8000u);
  EXPECT_LE(stats.entries, 4u);
  EXPECT_EQ(static_cast<uint64_t>(calls.load()), stats.misses);
}

// golden.t5_tiny's ids came from HF's T5Tokenizer over the test spiece model; the C++ tokenizer
// must give the same ids for every prompt of the file.
TEST(T5Golden, TokenizerMatchesHuggingFaceIds) {
  const WeightStore golden = WeightStore::open(std::string(INF_TEST_DATA_DIR) + "/golden/t5_tiny.safetensors");
  const auto prompts = nlohmann::json::parse(golden.metadata().at("prompts"));
  const T5Tokenizer tokenizer = T5Tokenizer::load(std::string(INF_TEST_DATA_DIR) + "/text/test_spiece.model");
  ASSERT_GE(prompts.size(), 5u);
  for (size_t i = 0; i < prompts.size(); ++i) {
    const Tensor expected = golden.get("input.ids.p" + std::to_string(i));
    const std::vector<int32_t> hf(expected.data_as<int32_t>(), expected.data_as<int32_t>() + expected.numel());
    EXPECT_EQ(tokenizer.encode(prompts[i].get<std::string>()).ids, hf) << "prompt " << i << ": " << prompts[i];
  }
}

}  // namespace
}  // namespace inf
