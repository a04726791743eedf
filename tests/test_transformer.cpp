// The Infinity transformer on the tiny random model: clear errors for bad weights and bad
// requests, and the sampling loop's behaviour (determinism, batch independence of
// variable-length text, teacher forcing and cancelling, negative prompts, CFG, block naming).
// The numbers themselves are checked against the official implementation by the golden files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "common/error.h"
#include "model/infinity/random_weights.h"
#include "model/infinity/scale_schedule.h"
#include "model/infinity/transformer.h"
#include "weights/weight_store.h"

namespace inf {
namespace {

Backend& cpu() {
  static const std::unique_ptr<Backend> backend = create_backend("cpu");
  return *backend;
}

const WeightStore& tiny() {
  static const WeightStore store = make_random_infinity_weights("tiny", 0);
  return store;
}

// A packed host copy of any tensor the CPU backend can read.
Tensor host_copy(const Tensor& value) {
  Tensor copy = Tensor::host(value.dtype(), value.shape());
  cpu().convert(copy, value);
  return copy;
}

// The tiny store with `name` replaced by `replacement`, or left out when it is undefined.
WeightStore tiny_with(const std::string& name, const Tensor& replacement = Tensor()) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  bool found = false;
  for (const auto& key : tiny().names()) {
    if (key != name) {
      tensors.emplace_back(key, tiny().get(key));
      continue;
    }
    found = true;
    if (replacement.defined()) tensors.emplace_back(key, replacement);
  }
  EXPECT_TRUE(found) << name << " is not a tensor of the tiny model";
  return WeightStore::from_host_tensors("tiny-modified", std::move(tensors));
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
  } catch (const std::exception& error) {
    ADD_FAILURE() << "not an inf::Error: " << error.what();
  }
}

void expect_load_error(const WeightStore& store, const std::vector<std::string>& phrases) {
  expect_error([&] { InfinityTransformer model(cpu(), store); }, ErrorKind::invalid_data, phrases);
}

// Random T5-like features for prompts of the given lengths, concatenated.
PromptFeatures random_prompts(const std::vector<int32_t>& lengths, uint64_t seed, int64_t width = 512) {
  PromptFeatures prompts;
  prompts.lengths = lengths;
  int64_t total = 0;
  for (int32_t length : lengths) total += length;
  prompts.features = Tensor::host(DType::f32, {total, width});
  if (total > 0) fill_random_normal(prompts.features, seed, "text features", 0.0f, 1.0f);
  return prompts;
}

// Prompt `index` of `prompts` on its own.
PromptFeatures single_prompt(const PromptFeatures& prompts, size_t index) {
  int64_t first = 0;
  for (size_t i = 0; i < index; ++i) first += prompts.lengths[i];
  PromptFeatures single;
  single.lengths = {prompts.lengths[index]};
  single.features = host_copy(prompts.features.narrow(0, first, prompts.lengths[index]));
  return single;
}

GenerateRequest make_request(PromptFeatures prompts, uint64_t seed = 1,
                             ScaleSchedule schedule = schedule_for_ratio(1.0, "0.06M")) {
  GenerateRequest request;
  request.prompts = std::move(prompts);
  request.schedule = std::move(schedule);
  request.cfg = {3.0f};
  request.tau = {1.0f};
  request.sampling.seed = seed;
  return request;
}

ScaleSchedule short_schedule() { return schedule_from_grids({{1, 1}, {2, 2}, {4, 4}}, {64, 64}); }

// Every traced tensor of one generate() call, as packed host copies.
struct Traced {
  GenerateResult result;
  std::map<std::string, Tensor> traces;

  const Tensor& trace(const std::string& name) const {
    const auto found = traces.find(name);
    if (found == traces.end()) throw std::runtime_error("no trace " + name);
    return found->second;
  }
};

Traced traced_run(InfinityTransformer& model, const GenerateRequest& request) {
  Traced out;
  model.set_trace([&](const std::string& name, const Tensor& value) { out.traces[name] = host_copy(value); });
  out.result = model.generate(request);
  model.set_trace(nullptr);
  return out;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

bool same_bits(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k)
    if (!same_bytes(a[k], b[k])) return false;
  return true;
}

// Row `b` (axis 0) of a host tensor, packed.
Tensor row(const Tensor& t, int64_t b) { return host_copy(t.narrow(0, b, 1)); }

// max |actual - expected| / max |expected| over two f32 host tensors of the same shape.
double relative_error(const Tensor& actual, const Tensor& expected) {
  EXPECT_EQ(actual.shape(), expected.shape());
  if (actual.shape() != expected.shape()) return INFINITY;
  const Tensor a = host_copy(actual), e = host_copy(expected);
  double max_abs = 0, max_ref = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double x = a.data_as<float>()[i], y = e.data_as<float>()[i];
    max_abs = std::max(max_abs, std::isnan(x) || std::isnan(y) ? INFINITY : std::fabs(x - y));
    max_ref = std::max(max_ref, std::fabs(y));
  }
  return max_ref > 0 ? max_abs / max_ref : max_abs;
}

std::string scale_name(const char* base, int k) { return std::string(base) + ".s" + std::to_string(k); }

// ---- bad weights ----

TEST(TransformerErrors, MissingTensorIsNamed) {
  expect_load_error(tiny_with("block_chunks.1.module.0.ffn.fc1.weight"),
                    {"missing tensor", "block_chunks.1.module.0.ffn.fc1.weight"});
  // One that the config reads (its sizes come from it) as well as one only the loader reads.
  expect_load_error(tiny_with("lvl_embed.weight"), {"missing tensor", "lvl_embed.weight"});
  expect_load_error(tiny_with("block_chunks.1.module.1.sa.v_bias"), {"missing tensor", "block_chunks.1.module.1.sa.v_bias"});
}

TEST(TransformerErrors, MisShapedTensorNamesItAndBothShapes) {
  expect_load_error(tiny_with("block_chunks.1.module.1.ca.proj.weight", Tensor::host(DType::f32, {128, 64})),
                    {"block_chunks.1.module.1.ca.proj.weight", "[128, 64]", "[128, 128]"});
  expect_load_error(tiny_with("block_chunks.0.module.1.sa.q_bias", Tensor::host(DType::f32, {64})),
                    {"block_chunks.0.module.1.sa.q_bias", "[64]", "[128]"});
  expect_load_error(tiny_with("text_proj_for_ca.2.bias", Tensor::host(DType::f32, {1, 128})),
                    {"text_proj_for_ca.2.bias", "[1, 128]", "[128]"});
}

TEST(TransformerErrors, HeadsThatDoNotDivideTheWidth) {
  // The head count is read from block 0; C = 128 is not a multiple of 3.
  expect_load_error(tiny_with("block_chunks.0.module.0.sa.scale_mul_1H11", Tensor::host(DType::f32, {1, 3, 1, 1})),
                    {"3 heads", "width 128"});
}

TEST(TransformerErrors, HeadRowsNotTwiceTheBits) {
  expect_load_error(tiny_with("head.weight", Tensor::host(DType::f32, {30, 128})),
                    {"head.weight", "30 outputs", "2 x 16"});
}

// ---- bad requests ----

TEST(TransformerErrors, ScheduleLongerThanTheLevelEmbeddings) {
  InfinityTransformer model(cpu(), tiny());
  ASSERT_EQ(model.config().scale_levels, 15);
  std::vector<ScaleGrid> grids;
  for (int side = 1; side <= 16; ++side) grids.push_back({side, side});
  expect_error([&] { model.generate(make_request(random_prompts({5}, 1), 1, schedule_from_grids(grids, {16, 16}))); },
               ErrorKind::invalid_argument, {"16 scales", "level embeddings for 15"});
}

TEST(TransformerErrors, CfgAndTauOfTheWrongLength) {
  InfinityTransformer model(cpu(), tiny());
  GenerateRequest request = make_request(random_prompts({5}, 1));  // 7 scales
  request.cfg = {3.0f, 3.0f, 3.0f};
  expect_error([&] { model.generate(request); }, ErrorKind::invalid_argument, {"cfg has 3 values", "7 scales"});
  request.cfg = {};
  expect_error([&] { model.generate(request); }, ErrorKind::invalid_argument, {"cfg has 0 values", "7 scales"});
  request.cfg = {3.0f};
  request.tau = std::vector<float>(8, 1.0f);
  expect_error([&] { model.generate(request); }, ErrorKind::invalid_argument, {"tau has 8 values", "7 scales"});
  request.tau = std::vector<float>(7, 1.0f);  // one per scale is fine
  request.cfg = std::vector<float>(7, 2.0f);
  EXPECT_NO_THROW(model.generate(request));
}

TEST(TransformerErrors, NonPositiveTau) {
  InfinityTransformer model(cpu(), tiny());
  GenerateRequest request = make_request(random_prompts({5}, 1));
  for (float tau : {0.0f, -1.0f, NAN, INFINITY}) {
    SCOPED_TRACE(tau);
    request.tau = {tau};
    expect_error([&] { model.generate(request); }, ErrorKind::invalid_argument, {"tau must be positive"});
  }
  request.tau = {1.0f, 1.0f, 1.0f, 0.0f, 1.0f, 1.0f, 1.0f};  // per scale, one of them zero
  expect_error([&] { model.generate(request); }, ErrorKind::invalid_argument, {"tau must be positive"});
}

TEST(TransformerErrors, EmptyText) {
  InfinityTransformer model(cpu(), tiny());
  expect_error([&] { model.generate(make_request(random_prompts({5, 0}, 1))); }, ErrorKind::invalid_argument,
               {"prompts", "empty text"});
  expect_error([&] { model.generate(make_request(random_prompts({0}, 1))); }, ErrorKind::invalid_argument,
               {"empty text"});
  expect_error([&] { model.generate(make_request(random_prompts({}, 1))); }, ErrorKind::invalid_argument,
               {"no prompts"});
  // Lengths that do not add up to the feature rows.
  PromptFeatures prompts = random_prompts({5, 6}, 1);
  prompts.lengths = {5, 7};
  expect_error([&] { model.generate(make_request(prompts)); }, ErrorKind::invalid_argument, {"11 rows", "12"});
  // An empty negative prompt too.
  GenerateRequest request = make_request(random_prompts({5}, 1));
  request.negative = random_prompts({0}, 2);
  expect_error([&] { model.generate(request); }, ErrorKind::invalid_argument, {"negative prompt", "empty text"});
}

TEST(TransformerErrors, FeatureWidthDiffersFromTextChannels) {
  InfinityTransformer model(cpu(), tiny());
  expect_error([&] { model.generate(make_request(random_prompts({5}, 1, 256))); }, ErrorKind::invalid_argument,
               {"256 wide", "512"});
  GenerateRequest request = make_request(random_prompts({5}, 1));
  request.negative = random_prompts({4}, 2, 1024);
  expect_error([&] { model.generate(request); }, ErrorKind::invalid_argument, {"negative prompt", "1024 wide", "512"});
  // Not a [tokens, channels] host matrix at all.
  request = make_request(random_prompts({5}, 1));
  request.prompts.features = Tensor::host(DType::f32, {5, 512, 1});
  expect_error([&] { model.generate(request); }, ErrorKind::invalid_argument, {"f32[5, 512, 1]"});
  request.prompts.features = Tensor();
  expect_error([&] { model.generate(request); }, ErrorKind::invalid_argument, {"features"});
}

TEST(TransformerErrors, PromptLongerThanTheUnconditionalText) {
  InfinityTransformer model(cpu(), tiny());
  ASSERT_EQ(model.config().text_max_length, 32);
  expect_error([&] { model.generate(make_request(random_prompts({5, 33}, 1))); }, ErrorKind::invalid_argument,
               {"33 tokens", "32"});
  // 32 tokens fit; with a negative prompt the learned rows are not used and longer ones are fine.
  EXPECT_NO_THROW(model.generate(make_request(random_prompts({32}, 1), 1, short_schedule())));
  GenerateRequest request = make_request(random_prompts({40}, 1), 1, short_schedule());
  request.negative = random_prompts({3}, 2);
  EXPECT_NO_THROW(model.generate(request));
}

TEST(TransformerErrors, ForcedBitsOfTheWrongShapeOrDtype) {
  InfinityTransformer model(cpu(), tiny());
  GenerateRequest request = make_request(random_prompts({5, 7}, 1), 1, short_schedule());
  request.forced_bits = {Tensor::host(DType::u8, {2, 1, 16}), Tensor::host(DType::u8, {2, 3, 16})};
  expect_error([&] { model.generate(request); }, ErrorKind::invalid_argument,
               {"scale 1", "u8[2, 3, 16]", "[2, 4, 16]"});
  request.forced_bits = {Tensor::host(DType::u8, {1, 1, 16})};  // one image, two prompts
  expect_error([&] { model.generate(request); }, ErrorKind::invalid_argument, {"scale 0", "[2, 1, 16]"});
  request.forced_bits = {Tensor::host(DType::u8, {2, 1, 8})};  // bits per token
  expect_error([&] { model.generate(request); }, ErrorKind::invalid_argument, {"scale 0", "[2, 1, 16]"});
  request.forced_bits = {Tensor::host(DType::f32, {2, 1, 16})};
  expect_error([&] { model.generate(request); }, ErrorKind::invalid_argument, {"f32[2, 1, 16]", "expected u8"});
  request.forced_bits = {Tensor()};
  expect_error([&] { model.generate(request); }, ErrorKind::invalid_argument, {"scale 0", "expected u8"});
  request.forced_bits = {Tensor::host(DType::u8, {2, 1, 16}), Tensor::host(DType::u8, {2, 4, 16}),
                         Tensor::host(DType::u8, {2, 16, 16}), Tensor::host(DType::u8, {2, 16, 16})};
  expect_error([&] { model.generate(request); }, ErrorKind::invalid_argument, {"4 scales", "3-scale"});
}

TEST(TransformerErrors, NegativePromptCountNeitherOneNorBatch) {
  InfinityTransformer model(cpu(), tiny());
  GenerateRequest request = make_request(random_prompts({5, 6, 7}, 1), 1, short_schedule());
  request.negative = random_prompts({3, 4}, 2);
  expect_error([&] { model.generate(request); }, ErrorKind::invalid_argument, {"(3)", "not 2"});
  request.negative = random_prompts({3, 4, 5, 6}, 2);
  expect_error([&] { model.generate(request); }, ErrorKind::invalid_argument, {"(3)", "not 4"});
  request.negative = random_prompts({3}, 2);
  EXPECT_NO_THROW(model.generate(request));
  request.negative = random_prompts({3, 4, 5}, 2);
  EXPECT_NO_THROW(model.generate(request));
}

// ---- behaviour ----

TEST(Transformer, SameSeedSameResultOtherSeedOtherBits) {
  InfinityTransformer model(cpu(), tiny());
  const GenerateRequest request = make_request(random_prompts({6, 9}, 1), 5);
  const GenerateResult first = model.generate(request);
  const GenerateResult second = model.generate(request);
  ASSERT_EQ(first.bits.size(), 7u);
  EXPECT_FALSE(first.cancelled);
  EXPECT_TRUE(same_bits(first.bits, second.bits));
  EXPECT_TRUE(same_bytes(first.summed_codes, second.summed_codes));
  EXPECT_EQ(first.summed_codes.shape(), (Shape{2, 16, 16, 16}));
  for (int k = 0; k < 7; ++k)
    EXPECT_EQ(first.bits[static_cast<size_t>(k)].shape(), (Shape{2, request.schedule.tokens(k), 16}));

  GenerateRequest other = request;
  other.sampling.seed = 6;
  const GenerateResult third = model.generate(other);
  EXPECT_FALSE(same_bits(first.bits, third.bits));
  EXPECT_FALSE(same_bytes(first.summed_codes, third.summed_codes));
}

TEST(Transformer, BatchedPromptsOfDifferentLengthsMatchSingleRuns) {
  // Padding masks in the attentive pool and cross-attention: each prompt's logits must not
  // depend on the other prompt's length or features. Teacher-forced so every run sees the
  // same bits.
  InfinityTransformer model(cpu(), tiny());
  const PromptFeatures prompts = random_prompts({5, 11}, 3);
  const Traced batch = traced_run(model, make_request(prompts, 9));
  const int scales = static_cast<int>(batch.result.bits.size());
  ASSERT_EQ(scales, 7);
  for (int64_t b = 0; b < 2; ++b) {
    SCOPED_TRACE("prompt " + std::to_string(b));
    GenerateRequest single = make_request(single_prompt(prompts, static_cast<size_t>(b)), 9);
    for (const auto& bits : batch.result.bits) single.forced_bits.push_back(row(bits, b));
    const Traced alone = traced_run(model, single);
    EXPECT_LE(relative_error(alone.trace("pooled_cond").narrow(0, 0, 1), batch.trace("pooled_cond").narrow(0, b, 1)),
              1e-5);
    for (int k = 0; k < scales; ++k) {
      SCOPED_TRACE("scale " + std::to_string(k));
      for (const char* name : {"logits_cond", "logits_uncond"}) {
        const std::string key = scale_name(name, k);
        EXPECT_LE(relative_error(alone.trace(key), row(batch.trace(key), b)), 1e-5) << key;
      }
    }
    for (int k = 0; k < scales; ++k)
      EXPECT_TRUE(same_bytes(alone.result.bits[static_cast<size_t>(k)], row(batch.result.bits[static_cast<size_t>(k)], b)));
  }
}

TEST(Transformer, TeacherForcedScalesAreReturnedAndTheRestSampled) {
  InfinityTransformer model(cpu(), tiny());
  const PromptFeatures prompts = random_prompts({7}, 4);
  const GenerateResult seed1 = model.generate(make_request(prompts, 1));
  const GenerateResult seed2 = model.generate(make_request(prompts, 2));
  ASSERT_EQ(seed1.bits.size(), 7u);
  const std::vector<Tensor> forced(seed1.bits.begin(), seed1.bits.begin() + 3);
  ASSERT_FALSE(same_bits(forced, std::vector<Tensor>(seed2.bits.begin(), seed2.bits.begin() + 3)))
      << "seeds 1 and 2 sample the same first scales; the test would prove nothing";

  // Seed 2 with seed 1's first three scales: exactly those bits, then sampling goes on.
  GenerateRequest request = make_request(prompts, 2);
  request.forced_bits = forced;
  const GenerateResult result = model.generate(request);
  ASSERT_EQ(result.bits.size(), 7u);
  for (size_t k = 0; k < 3; ++k) EXPECT_TRUE(same_bytes(result.bits[k], forced[k])) << "scale " << k;
  EXPECT_FALSE(same_bits(std::vector<Tensor>(result.bits.begin() + 3, result.bits.end()),
                         std::vector<Tensor>(seed1.bits.begin() + 3, seed1.bits.end())));
  EXPECT_FALSE(result.cancelled);

  // With seed 1 the forced scales are what it would have sampled, so the whole run repeats.
  request.sampling.seed = 1;
  const GenerateResult repeat = model.generate(request);
  EXPECT_TRUE(same_bits(repeat.bits, seed1.bits));
  EXPECT_TRUE(same_bytes(repeat.summed_codes, seed1.summed_codes));
}

TEST(Transformer, KeepMasksForceOnlyTheFlaggedTokens) {
  InfinityTransformer model(cpu(), tiny());
  const PromptFeatures prompts = random_prompts({7}, 4);
  const GenerateResult source = model.generate(make_request(prompts, 1));
  const GenerateResult other = model.generate(make_request(prompts, 2));
  ASSERT_EQ(source.bits.size(), 7u);

  // Every scale forced from seed 1's run, but at scales 4.. only the left half of the grid.
  GenerateRequest request = make_request(prompts, 2);
  request.forced_bits = source.bits;
  request.forced_keep.resize(source.bits.size());
  const auto& grids = request.schedule.grids;
  for (size_t k = 4; k < grids.size(); ++k) {
    Tensor keep = Tensor::host(DType::u8, {1, grids[k].tokens()});  // [B, n_k]
    auto* flags = static_cast<uint8_t*>(keep.data());
    for (int64_t t = 0; t < grids[k].tokens(); ++t) flags[t] = (t % grids[k].w) < grids[k].w / 2 ? 1 : 0;
    request.forced_keep[k] = keep;
  }
  const GenerateResult edited = model.generate(request);
  ASSERT_EQ(edited.bits.size(), 7u);
  for (size_t k = 0; k < 4; ++k) EXPECT_TRUE(same_bytes(edited.bits[k], source.bits[k])) << "scale " << k;
  const int64_t d = model.config().bits_per_token;
  int64_t regenerated_differs = 0;
  for (size_t k = 4; k < grids.size(); ++k) {
    const auto* got = static_cast<const uint8_t*>(edited.bits[k].data());
    const auto* kept = static_cast<const uint8_t*>(source.bits[k].data());
    const auto* flags = static_cast<const uint8_t*>(request.forced_keep[k].data());
    for (int64_t t = 0; t < grids[k].tokens(); ++t) {
      const bool same = std::memcmp(got + t * d, kept + t * d, static_cast<size_t>(d)) == 0;
      if (flags[t] != 0) EXPECT_TRUE(same) << "scale " << k << " token " << t << " was flagged to keep";
      else regenerated_differs += same ? 0 : 1;
    }
  }
  // The right half was sampled with seed 2 on another prefix: most of it must differ from seed 1.
  EXPECT_GT(regenerated_differs, 0);
  EXPECT_FALSE(same_bits(edited.bits, other.bits));

  // Keep masks of the wrong shape, or more masks than forced scales, are refused.
  GenerateRequest bad = request;
  bad.forced_keep[5] = Tensor::host(DType::u8, {1, 3});
  expect_error([&] { model.generate(bad); }, ErrorKind::invalid_argument, {"keep mask for scale 5"});
  bad = request;
  bad.forced_bits.resize(2);
  expect_error([&] { model.generate(bad); }, ErrorKind::invalid_argument, {"keep masks"});
}

TEST(Transformer, CancellingFromOnScaleStopsAfterThatScale) {
  InfinityTransformer model(cpu(), tiny());
  GenerateRequest request = make_request(random_prompts({7, 3}, 4), 1);
  const GenerateResult full = model.generate(request);
  std::vector<int> seen;
  request.on_scale = [&](const ScaleProgress& progress) {
    seen.push_back(progress.scale);
    EXPECT_EQ(progress.num_scales, 7);
    EXPECT_NE(progress.bits, nullptr);
    if (progress.bits) {
      EXPECT_EQ(progress.bits->shape(), (Shape{2, request.schedule.tokens(progress.scale), 16}));
    }
    EXPECT_GE(progress.seconds, 0.0);
    return progress.scale < 2;
  };
  const GenerateResult result = model.generate(request);
  EXPECT_TRUE(result.cancelled);
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2}));
  ASSERT_EQ(result.bits.size(), 3u);
  for (size_t k = 0; k < 3; ++k) EXPECT_TRUE(same_bytes(result.bits[k], full.bits[k])) << "scale " << k;

  // Returning true throughout changes nothing.
  request.on_scale = [](const ScaleProgress&) { return true; };
  const GenerateResult uncancelled = model.generate(request);
  EXPECT_FALSE(uncancelled.cancelled);
  EXPECT_TRUE(same_bits(uncancelled.bits, full.bits));
}

TEST(Transformer, NegativePromptChangesOnlyTheUnconditionalLogits) {
  InfinityTransformer model(cpu(), tiny());
  const PromptFeatures prompts = random_prompts({6, 9}, 5);
  const Traced plain = traced_run(model, make_request(prompts, 3));
  const int scales = static_cast<int>(plain.result.bits.size());

  GenerateRequest request = make_request(prompts, 3);
  request.forced_bits = plain.result.bits;  // same inputs at every scale
  request.negative = random_prompts({4}, 6);
  const Traced negative = traced_run(model, request);
  // The same negative prompt given once per prompt is the same request.
  PromptFeatures twice = random_prompts({4, 4}, 6);
  std::memcpy(twice.features.data_as<float>() + 4 * 512, request.negative->features.data(),
              request.negative->features.nbytes());
  request.negative = twice;
  const Traced per_prompt = traced_run(model, request);

  for (int k = 0; k < scales; ++k) {
    SCOPED_TRACE("scale " + std::to_string(k));
    const std::string cond = scale_name("logits_cond", k), uncond = scale_name("logits_uncond", k);
    EXPECT_LE(relative_error(negative.trace(cond), plain.trace(cond)), 1e-6);
    EXPECT_GT(relative_error(negative.trace(uncond), plain.trace(uncond)), 1e-3);
    EXPECT_LE(relative_error(per_prompt.trace(cond), plain.trace(cond)), 1e-6);
    EXPECT_LE(relative_error(per_prompt.trace(uncond), negative.trace(uncond)), 1e-6);
  }
}

TEST(Transformer, CfgOneGivesTheConditionalLogitsOverTau) {
  InfinityTransformer model(cpu(), tiny());
  GenerateRequest request = make_request(random_prompts({6, 9}, 7), 2);
  request.cfg = {1.0f};
  request.tau = {0.7f};
  const Traced result = traced_run(model, request);
  for (int k = 0; k < request.schedule.num_scales(); ++k) {
    SCOPED_TRACE("scale " + std::to_string(k));
    Tensor expected = result.trace(scale_name("logits_cond", k));
    for (int64_t i = 0; i < expected.numel(); ++i) expected.data_as<float>()[i] /= 0.7f;
    EXPECT_LE(relative_error(result.trace(scale_name("logits_mixed", k)), expected), 1e-6);
  }
}

TEST(Transformer, FlatBlockNamesGiveTheSameLogitsAsChunkedOnes) {
  const InfinityTransformer probe(cpu(), tiny());
  const int per_chunk = probe.config().blocks_per_chunk;
  ASSERT_GT(per_chunk, 0);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& name : tiny().names()) {
    std::string renamed = name;
    int chunk = 0, inner = 0, consumed = 0;
    if (std::sscanf(name.c_str(), "block_chunks.%d.module.%d.%n", &chunk, &inner, &consumed) == 2 && consumed > 0)
      renamed = "blocks." + std::to_string(chunk * per_chunk + inner) + "." + name.substr(static_cast<size_t>(consumed));
    tensors.emplace_back(renamed, tiny().get(name));
  }
  const WeightStore flat_store = WeightStore::from_host_tensors("tiny-flat", std::move(tensors));
  ASSERT_TRUE(flat_store.contains("blocks.3.ffn.fc2.weight"));

  InfinityTransformer chunked(cpu(), tiny()), flat(cpu(), flat_store);
  EXPECT_EQ(flat.config().blocks_per_chunk, 0);
  EXPECT_EQ(flat.config().depth, chunked.config().depth);
  const GenerateRequest request = make_request(random_prompts({6, 9}, 8), 4);
  const Traced a = traced_run(chunked, request), b = traced_run(flat, request);
  EXPECT_TRUE(same_bits(a.result.bits, b.result.bits));
  for (int k = 0; k < request.schedule.num_scales(); ++k)
    for (const char* name : {"logits_cond", "logits_uncond", "logits_mixed"})
      EXPECT_EQ(relative_error(b.trace(scale_name(name, k)), a.trace(scale_name(name, k))), 0.0) << name << " " << k;
}

}  // namespace
}  // namespace inf
