// sampler.generate and sampler.edit through the C ABI, as a host drives them, on the random
// "tiny" pipeline (4 blocks of width 128, 16-bit tokens, a 16-bit VAE at stride 16, 512-wide
// text features): seeds, batch layout, schedule choice, editing with and without a mask,
// cancellation, previews and bad input. Text embeddings are made directly (random-ish floats),
// so these tests do not depend on text.encode. Bits are compared exactly: the sampler is
// deterministic on any thread count.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "abi_fixture.h"

namespace {

using abi_test::api;
using abi_test::library;

constexpr const char* kTinyManifest = R"({"random": "tiny"})";
constexpr uint32_t kTextChannels = 512;  // the tiny transformer's T5 width
constexpr uint32_t kTinyBits = 16;       // bits per token of the tiny transformer
constexpr uint32_t kScales006 = 7;       // scales of a 0.06M schedule

// Bit tokens copied out of a value.
struct Tokens {
  uint32_t images = 0, bits_per_token = 0, spatial_patch = 0, stored = 0;
  std::vector<inf_grid> grids;
  inf_grid rope_grid{};
  std::vector<std::vector<uint8_t>> scales;  // stored scales, [image][token][bit]
  std::string tokenizer;

  size_t tokens(size_t k) const { return size_t{grids[k].height} * grids[k].width; }
  // Image i's bits of scale k.
  std::vector<uint8_t> image(size_t k, size_t i) const {
    const size_t size = tokens(k) * bits_per_token;
    return {scales[k].begin() + static_cast<std::ptrdiff_t>(i * size),
            scales[k].begin() + static_cast<std::ptrdiff_t>((i + 1) * size)};
  }
  // Token t of image i at scale k.
  std::vector<uint8_t> token(size_t k, size_t i, size_t t) const {
    const auto first = static_cast<std::ptrdiff_t>((i * tokens(k) + t) * bits_per_token);
    return {scales[k].begin() + first, scales[k].begin() + first + bits_per_token};
  }
};

// What a job's callbacks saw.
struct JobLog {
  std::mutex mutex;
  std::vector<uint32_t> steps;
  std::vector<uint32_t> totals;
  std::vector<std::string> stages;
  uint32_t cancel_at_step = 0;  // on_progress returns nonzero at this step (0: never)
  struct Preview {
    uint32_t step, width, height;
    inf_scalar_type scalar;
    inf_channel_layout channels;
    inf_transfer transfer;
    float low, high;
    bool finite;
  };
  std::vector<Preview> previews;
};

int32_t log_progress(void* user_data, const inf_progress* progress) {
  auto* log = static_cast<JobLog*>(user_data);
  std::lock_guard<std::mutex> lock(log->mutex);
  log->steps.push_back(progress->step);
  log->totals.push_back(progress->total_steps);
  log->stages.push_back(progress->stage == nullptr ? "" : progress->stage);
  return log->cancel_at_step != 0 && progress->step == log->cancel_at_step ? 1 : 0;
}

void log_preview(void* user_data, const inf_progress* progress, const inf_image_desc* image) {
  auto* log = static_cast<JobLog*>(user_data);
  JobLog::Preview seen{progress->step, image->width,     image->height, image->scalar, image->channels,
                       image->transfer, 1e30f,            -1e30f,        true};
  if (image->scalar == INF_SCALAR_F32)
    for (uint32_t y = 0; y < image->height; ++y) {
      const auto* row = static_cast<const char*>(image->data) + static_cast<int64_t>(y) * image->row_stride;
      for (uint32_t x = 0; x < image->width; ++x)
        for (uint32_t c = 0; c < 3; ++c) {
          const float value = reinterpret_cast<const float*>(row + x * image->pixel_stride)[c];
          seen.finite = seen.finite && std::isfinite(value);
          seen.low = std::min(seen.low, value);
          seen.high = std::max(seen.high, value);
        }
    }
  std::lock_guard<std::mutex> lock(log->mutex);
  log->previews.push_back(seen);
}

class SamplerNodes : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { shared_engine_ = make_engine(kTinyManifest); }
  static void TearDownTestSuite() {
    if (shared_engine_ != nullptr) api()->engine_release(shared_engine_);
    shared_engine_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(library(), nullptr) << dlerror();
    A = api();
    ASSERT_NE(A, nullptr);
    ASSERT_NE(shared_engine_, nullptr);
  }

  void TearDown() override {
    for (inf_value* value : owned_) A->value_release(value);
    for (inf_node* node : nodes_) A->node_release(node);
  }

  static inf_engine* make_engine(const char* manifest) {
    inf_engine_config config = INF_ENGINE_CONFIG_INIT;
    config.model_manifest = manifest;
    config.log_level = INF_LOG_ERROR;
    inf_engine* engine = nullptr;
    EXPECT_EQ(api()->engine_create(&config, &engine), INF_STATUS_OK) << api()->last_error();
    return engine;
  }

  inf_node* node(const char* id, inf_engine* engine = nullptr) {
    inf_node* made = nullptr;
    EXPECT_EQ(A->node_create(engine != nullptr ? engine : shared_engine_, id, &made), INF_STATUS_OK)
        << A->last_error();
    nodes_.push_back(made);
    return made;
  }
  inf_node* generator(inf_engine* engine = nullptr) { return node("org.infinode.sampler.generate", engine); }
  inf_node* editor() { return node("org.infinode.sampler.edit"); }

  inf_value* keep(inf_value* value) {
    owned_.push_back(value);
    return value;
  }

  // Random-ish but fixed T5 stand-ins: prompt p of `lengths` gets values from (seed, p).
  inf_value* embedding(const std::vector<uint32_t>& lengths, uint32_t seed, uint32_t channels = kTextChannels) {
    std::vector<float> data;
    uint32_t tokens = 0;
    for (size_t p = 0; p < lengths.size(); ++p) {
      for (uint32_t i = 0; i < lengths[p] * channels; ++i)
        data.push_back(0.5f * std::sin(0.37f * static_cast<float>(i) + 1.3f * static_cast<float>(seed) +
                                       0.71f * static_cast<float>(p)));
      tokens += lengths[p];
    }
    inf_text_embedding_desc desc = INF_TEXT_EMBEDDING_DESC_INIT;
    desc.tokens = tokens;
    desc.channels = channels;
    desc.data = data.data();
    desc.prompts = static_cast<uint32_t>(lengths.size());
    desc.prompt_tokens = lengths.data();
    inf_value* value = nullptr;
    EXPECT_EQ(A->value_create_text_embedding(&desc, &value), INF_STATUS_OK) << A->last_error();
    return keep(value);
  }

  // A width x height mask, coverage 1 in the columns x < covered_columns.
  inf_value* left_mask(uint32_t width, uint32_t height, uint32_t covered_columns) {
    std::vector<float> coverage(size_t{width} * height);
    for (uint32_t y = 0; y < height; ++y)
      for (uint32_t x = 0; x < width; ++x) coverage[size_t{y} * width + x] = x < covered_columns ? 1.0f : 0.0f;
    inf_image_desc desc = INF_IMAGE_DESC_INIT;
    desc.width = width;
    desc.height = height;
    desc.scalar = INF_SCALAR_F32;
    desc.channels = INF_CHANNELS_GRAY;
    desc.transfer = INF_TRANSFER_LINEAR;
    desc.pixel_stride = sizeof(float);
    desc.row_stride = static_cast<int64_t>(width * sizeof(float));
    desc.data = coverage.data();
    inf_value* value = nullptr;
    EXPECT_EQ(A->value_create_mask(&desc, &value), INF_STATUS_OK) << A->last_error();
    return keep(value);
  }

  // Runs a job to its end; *out (when asked and the job succeeded) is kept by the fixture.
  inf_status run(inf_node* target, std::vector<inf_value*> inputs, inf_value** out = nullptr, JobLog* log = nullptr,
                 bool previews = false, std::string* message = nullptr) {
    inf_job_callbacks callbacks = INF_JOB_CALLBACKS_INIT;
    callbacks.user_data = log;
    if (log != nullptr) callbacks.on_progress = log_progress;
    if (log != nullptr && previews) callbacks.on_preview = log_preview;
    inf_job* job = nullptr;
    const inf_status started = A->node_run_async(target, inputs.data(), static_cast<uint32_t>(inputs.size()),
                                                 log != nullptr ? &callbacks : nullptr, &job);
    if (started != INF_STATUS_OK) return started;
    inf_status result = INF_STATUS_INTERNAL;
    EXPECT_EQ(A->job_wait(job, INF_WAIT_FOREVER, &result), INF_STATUS_OK);
    if (message != nullptr) *message = A->job_last_error(job);
    if (out != nullptr && result == INF_STATUS_OK) {
      EXPECT_EQ(A->job_get_output(job, 0, out), INF_STATUS_OK);
      keep(*out);
    }
    if (result != INF_STATUS_OK && message == nullptr) ADD_FAILURE() << A->job_last_error(job);
    EXPECT_EQ(A->job_release(job), INF_STATUS_OK);
    return result;
  }

  Tokens read(inf_value* value) {
    inf_bit_tokens_desc desc = INF_BIT_TOKENS_DESC_INIT;
    EXPECT_EQ(A->value_get_bit_tokens(value, &desc), INF_STATUS_OK) << A->last_error();
    Tokens tokens;
    tokens.images = desc.images;
    tokens.bits_per_token = desc.bits_per_token;
    tokens.spatial_patch = desc.spatial_patch;
    tokens.stored = desc.stored_scales;
    tokens.grids.assign(desc.grids, desc.grids + desc.schedule_scales);
    tokens.rope_grid = desc.rope_grid;
    tokens.tokenizer = desc.tokenizer == nullptr ? "" : desc.tokenizer;
    for (uint32_t k = 0; k < desc.stored_scales; ++k) {
      const size_t size = size_t{desc.images} * tokens.tokens(k) * desc.bits_per_token;
      tokens.scales.emplace_back(desc.bits[k], desc.bits[k] + size);
    }
    return tokens;
  }

  // Generates at 0.06M (the cheap schedule) with `seed`; batch and other settings as given.
  inf_value* generate(inf_value* positive, int64_t seed, int64_t batch = 1, inf_value* negative = nullptr) {
    inf_node* sampler = generator();
    EXPECT_EQ(A->node_set_string(sampler, "resolution", "0.06M"), INF_STATUS_OK);
    EXPECT_EQ(A->node_set_int(sampler, "seed", seed), INF_STATUS_OK);
    EXPECT_EQ(A->node_set_int(sampler, "batch", batch), INF_STATUS_OK);
    inf_value* out = nullptr;
    EXPECT_EQ(run(sampler, {positive, negative}, &out), INF_STATUS_OK);
    return out;
  }

  // A copy of `value` holding only its first `scales` scales (as tokens.truncate makes).
  inf_value* truncated(inf_value* value, uint32_t scales) {
    inf_bit_tokens_desc desc = INF_BIT_TOKENS_DESC_INIT;
    EXPECT_EQ(A->value_get_bit_tokens(value, &desc), INF_STATUS_OK);
    desc.stored_scales = scales;
    inf_value* out = nullptr;
    EXPECT_EQ(A->value_create_bit_tokens(&desc, &out), INF_STATUS_OK) << A->last_error();
    return keep(out);
  }

  const inf_api* A = nullptr;
  static inf_engine* shared_engine_;
  std::vector<inf_value*> owned_;
  std::vector<inf_node*> nodes_;
};

inf_engine* SamplerNodes::shared_engine_ = nullptr;

const inf_param_desc* find_param(const inf_node_desc* desc, const std::string& id) {
  for (uint32_t i = 0; i < desc->param_count; ++i)
    if (id == desc->params[i]->id) return desc->params[i];
  return nullptr;
}

TEST_F(SamplerNodes, DescriptorsFollowTheNodeContract) {
  const inf_node_desc* generate = nullptr;
  const inf_node_desc* edit = nullptr;
  ASSERT_EQ(A->engine_find_node(shared_engine_, "org.infinode.sampler.generate", &generate), INF_STATUS_OK);
  ASSERT_EQ(A->engine_find_node(shared_engine_, "org.infinode.sampler.edit", &edit), INF_STATUS_OK);
  EXPECT_EQ(generate->flags, INF_NODE_FLAG_PROGRESS | INF_NODE_FLAG_PREVIEW);
  EXPECT_EQ(edit->flags, INF_NODE_FLAG_PROGRESS | INF_NODE_FLAG_PREVIEW);
  ASSERT_EQ(generate->input_count, 2u);
  EXPECT_STREQ(generate->inputs[0]->id, "positive");
  EXPECT_EQ(generate->inputs[0]->type, INF_TYPE_TEXT_EMBEDDING);
  EXPECT_STREQ(generate->inputs[1]->id, "negative");
  EXPECT_EQ(generate->inputs[1]->flags & INF_PORT_FLAG_OPTIONAL, INF_PORT_FLAG_OPTIONAL);
  EXPECT_STREQ(generate->outputs[0]->id, "tokens");
  EXPECT_EQ(generate->outputs[0]->type, INF_TYPE_BIT_TOKENS);
  ASSERT_EQ(edit->input_count, 4u);
  const char* edit_inputs[] = {"tokens", "positive", "negative", "mask"};
  const inf_value_type edit_types[] = {INF_TYPE_BIT_TOKENS, INF_TYPE_TEXT_EMBEDDING, INF_TYPE_TEXT_EMBEDDING,
                                       INF_TYPE_MASK};
  for (uint32_t i = 0; i < 4; ++i) {
    EXPECT_STREQ(edit->inputs[i]->id, edit_inputs[i]);
    EXPECT_EQ(edit->inputs[i]->type, edit_types[i]);
    EXPECT_EQ((edit->inputs[i]->flags & INF_PORT_FLAG_OPTIONAL) != 0, i >= 2) << edit_inputs[i];
  }

  struct IntParam {
    const char* id;
    int64_t min, max, fallback;
  };
  for (const IntParam& p : {IntParam{"width", 0, 16384, 0}, IntParam{"height", 0, 16384, 0},
                            IntParam{"seed", 0, int64_t{1} << 53, 0}, IntParam{"batch", 1, 64, 1},
                            IntParam{"top_k", -1, 900, -1}}) {
    const inf_param_desc* param = find_param(generate, p.id);
    ASSERT_NE(param, nullptr) << p.id;
    EXPECT_EQ(param->type, INF_PARAM_INT) << p.id;
    EXPECT_EQ(param->int_min, p.min) << p.id;
    EXPECT_EQ(param->int_max, p.max) << p.id;
    EXPECT_EQ(param->int_default, p.fallback) << p.id;
  }
  struct FloatParam {
    const char* id;
    double min, max, fallback;
  };
  for (const FloatParam& p : {FloatParam{"aspect", 0.25, 4, 1}, FloatParam{"cfg", -1, 50, -1},
                              FloatParam{"tau", -1, 10, -1}, FloatParam{"top_p", -1, 1, -1}}) {
    const inf_param_desc* param = find_param(generate, p.id);
    ASSERT_NE(param, nullptr) << p.id;
    EXPECT_EQ(param->type, INF_PARAM_FLOAT) << p.id;
    EXPECT_EQ(param->float_min, p.min) << p.id;
    EXPECT_EQ(param->float_max, p.max) << p.id;
    EXPECT_EQ(param->float_default, p.fallback) << p.id;
  }
  const inf_param_desc* resolution = find_param(generate, "resolution");
  ASSERT_NE(resolution, nullptr);
  ASSERT_EQ(resolution->type, INF_PARAM_ENUM);
  ASSERT_EQ(resolution->choice_count, 5u);
  const char* choices[] = {"auto", "0.06M", "0.25M", "0.60M", "1M"};
  for (uint32_t i = 0; i < 5; ++i) EXPECT_STREQ(resolution->choices[i], choices[i]);
  EXPECT_EQ(resolution->int_default, 0);

  ASSERT_EQ(edit->param_count, 6u);
  const char* edit_params[] = {"keep_scales", "seed", "cfg", "tau", "top_k", "top_p"};
  for (uint32_t i = 0; i < 6; ++i) EXPECT_STREQ(edit->params[i]->id, edit_params[i]);
  EXPECT_EQ(edit->params[0]->int_min, 0);
  EXPECT_EQ(edit->params[0]->int_max, 64);
  EXPECT_EQ(edit->params[0]->int_default, 4);
}

TEST_F(SamplerNodes, SameSeedSameBitsOtherSeedOtherBits) {
  inf_value* prompt = embedding({6}, 1);
  const Tokens first = read(generate(prompt, 7));
  const Tokens again = read(generate(prompt, 7));
  const Tokens other = read(generate(prompt, 8));

  EXPECT_EQ(first.images, 1u);
  EXPECT_EQ(first.bits_per_token, kTinyBits);
  EXPECT_EQ(first.spatial_patch, 1u);
  EXPECT_FALSE(first.tokenizer.empty());  // the engine VAE's identity
  ASSERT_EQ(first.grids.size(), kScales006);
  EXPECT_EQ(first.stored, kScales006);
  EXPECT_EQ(first.grids.back().height, 16u);
  EXPECT_EQ(first.grids.back().width, 16u);
  EXPECT_EQ(first.scales, again.scales);
  EXPECT_NE(first.scales, other.scales);
}

// Image i of a run with prompts [a, b] and batch 2 is (a, a, b, b)[i]'s image i: the bits are
// keyed by (seed, i) and prompt-major, so the run equals one with the prompts [a, a, b, b] and
// batch 1, and its first two images equal a run of prompt a alone with batch 2 (the CPU
// backend computes the rows of a run independently, so this holds bit for bit). Images of one
// prompt differ (other random numbers).
TEST_F(SamplerNodes, BatchIsPromptMajorAndKeyedByImageIndex) {
  inf_value* two = embedding({5, 7}, 2);
  const Tokens batched = read(generate(two, 11, 2));
  ASSERT_EQ(batched.images, 4u);

  // The same prompts as `two`, each twice, laid out by hand.
  std::vector<float> data;
  std::vector<uint32_t> lengths = {5, 5, 7, 7};
  inf_text_embedding_desc two_desc = INF_TEXT_EMBEDDING_DESC_INIT;
  ASSERT_EQ(A->value_get_text_embedding(two, &two_desc), INF_STATUS_OK);
  const float* a = two_desc.data;
  const float* b = two_desc.data + 5 * kTextChannels;
  for (const float* prompt : {a, a}) data.insert(data.end(), prompt, prompt + 5 * kTextChannels);
  for (const float* prompt : {b, b}) data.insert(data.end(), prompt, prompt + 7 * kTextChannels);
  inf_text_embedding_desc desc = INF_TEXT_EMBEDDING_DESC_INIT;
  desc.tokens = 24;
  desc.channels = kTextChannels;
  desc.data = data.data();
  desc.prompts = 4;
  desc.prompt_tokens = lengths.data();
  inf_value* four = nullptr;
  ASSERT_EQ(A->value_create_text_embedding(&desc, &four), INF_STATUS_OK);
  keep(four);
  const Tokens one_each = read(generate(four, 11, 1));
  EXPECT_EQ(batched.scales, one_each.scales);

  std::vector<float> first_prompt(a, a + 5 * kTextChannels);
  inf_text_embedding_desc single = INF_TEXT_EMBEDDING_DESC_INIT;
  single.tokens = 5;
  single.channels = kTextChannels;
  single.data = first_prompt.data();
  inf_value* only_a = nullptr;
  ASSERT_EQ(A->value_create_text_embedding(&single, &only_a), INF_STATUS_OK);
  keep(only_a);
  const Tokens alone = read(generate(only_a, 11, 2));
  for (size_t k = 0; k < kScales006; ++k) {
    EXPECT_EQ(alone.image(k, 0), batched.image(k, 0)) << "scale " << k;
    EXPECT_EQ(alone.image(k, 1), batched.image(k, 1)) << "scale " << k;
  }
  EXPECT_NE(batched.image(kScales006 - 1, 0), batched.image(kScales006 - 1, 1));
  EXPECT_NE(batched.image(kScales006 - 1, 0), batched.image(kScales006 - 1, 2));
}

TEST_F(SamplerNodes, SizeAndAspectPickTheNearestTemplate) {
  inf_value* prompt = embedding({4}, 3);
  struct Case {
    int64_t width, height;
    double aspect;
    const char* resolution;
    uint32_t scales, final_h, final_w;
  };
  // aspect = width / height: 2 is the 1:2 (h:w) template, 11 x 22 at 0.06M. A size names the
  // ratio and, for auto, the key nearest its pixel count (200 x 400 -> 0.06M's 176 x 352).
  for (const Case& c : {Case{0, 0, 2.0, "0.06M", 7, 11, 22}, Case{200, 400, 1.0, "auto", 7, 22, 11},
                        Case{300, 290, 3.0, "0.06M", 7, 16, 16}}) {
    inf_node* sampler = generator();
    ASSERT_EQ(A->node_set_int(sampler, "width", c.width), INF_STATUS_OK);
    ASSERT_EQ(A->node_set_int(sampler, "height", c.height), INF_STATUS_OK);
    ASSERT_EQ(A->node_set_float(sampler, "aspect", c.aspect), INF_STATUS_OK);
    ASSERT_EQ(A->node_set_string(sampler, "resolution", c.resolution), INF_STATUS_OK);
    inf_value* out = nullptr;
    ASSERT_EQ(run(sampler, {prompt, nullptr}, &out), INF_STATUS_OK);
    const Tokens tokens = read(out);
    ASSERT_EQ(tokens.grids.size(), c.scales) << c.width << "x" << c.height << " aspect " << c.aspect;
    EXPECT_EQ(tokens.grids.back().height, c.final_h) << c.width << "x" << c.height << " aspect " << c.aspect;
    EXPECT_EQ(tokens.grids.back().width, c.final_w) << c.width << "x" << c.height << " aspect " << c.aspect;
  }
}

TEST_F(SamplerNodes, AutoResolutionTakesTheManifestSchedule) {
  inf_engine* engine = make_engine(
      R"({"random": "tiny", "defaults": {"schedule": {"grids": [[1, 1], [2, 2], [3, 3]], "rope_grid": [3, 3]}}})");
  ASSERT_NE(engine, nullptr);
  inf_node* sampler = generator(engine);
  ASSERT_EQ(A->node_set_float(sampler, "aspect", 2.0), INF_STATUS_OK);  // the fixed schedule wins
  inf_value* out = nullptr;
  EXPECT_EQ(run(sampler, {embedding({3}, 4), nullptr}, &out), INF_STATUS_OK);
  if (out != nullptr) {
    const Tokens tokens = read(out);
    ASSERT_EQ(tokens.grids.size(), 3u);
    EXPECT_EQ(tokens.grids.back().height, 3u);
    EXPECT_EQ(tokens.grids.back().width, 3u);
  }
  for (inf_node* made : nodes_) A->node_release(made);
  nodes_.clear();
  EXPECT_EQ(A->engine_release(engine), INF_STATUS_OK);
}

TEST_F(SamplerNodes, NegativePromptChangesTheBits) {
  inf_value* prompt = embedding({5, 6}, 5);
  const Tokens plain = read(generate(prompt, 3));
  const Tokens one_negative = read(generate(prompt, 3, 1, embedding({4}, 6)));
  const Tokens two_negatives = read(generate(prompt, 3, 2, embedding({4, 3}, 6)));
  EXPECT_NE(plain.scales, one_negative.scales);
  EXPECT_EQ(two_negatives.images, 4u);
}

TEST_F(SamplerNodes, EditKeepsTheFirstScalesAndRegeneratesTheRest) {
  inf_value* source = generate(embedding({6}, 7), 21);
  const Tokens original = read(source);
  constexpr uint32_t kKeep = 3;
  inf_node* edit = editor();
  ASSERT_EQ(A->node_set_int(edit, "keep_scales", kKeep), INF_STATUS_OK);
  ASSERT_EQ(A->node_set_int(edit, "seed", 22), INF_STATUS_OK);
  inf_value* out = nullptr;
  // A source holding only the kept scales is enough without a mask.
  ASSERT_EQ(run(edit, {truncated(source, kKeep), embedding({5}, 8), nullptr, nullptr}, &out), INF_STATUS_OK);
  const Tokens edited = read(out);
  ASSERT_EQ(edited.grids.size(), kScales006);
  ASSERT_EQ(edited.stored, kScales006);
  EXPECT_EQ(edited.tokenizer, original.tokenizer);
  for (size_t k = 0; k < kScales006; ++k) {
    if (k < kKeep)
      EXPECT_EQ(edited.scales[k], original.scales[k]) << "scale " << k;
    else
      EXPECT_NE(edited.scales[k], original.scales[k]) << "scale " << k;
  }
}

// The mask covers the left 20 of 40 columns (any size: it is stretched over the grid). A token
// is regenerated when the mask covers at least half of it; every other token equals the
// source's at every scale, also below keep_scales where the whole scale is the source's.
TEST_F(SamplerNodes, MaskedEditFollowsTheSourceOutsideTheMask) {
  inf_value* source = generate(embedding({6}, 9), 31);
  const Tokens original = read(source);
  constexpr uint32_t kKeep = 1;
  inf_node* edit = editor();
  ASSERT_EQ(A->node_set_int(edit, "keep_scales", kKeep), INF_STATUS_OK);
  ASSERT_EQ(A->node_set_int(edit, "seed", 32), INF_STATUS_OK);
  inf_value* out = nullptr;
  ASSERT_EQ(run(edit, {source, embedding({5}, 10), nullptr, left_mask(40, 24, 20)}, &out), INF_STATUS_OK);
  const Tokens edited = read(out);
  ASSERT_EQ(edited.stored, kScales006);
  size_t changed_inside = 0, tokens_inside = 0;
  for (size_t k = 0; k < kScales006; ++k) {
    const inf_grid grid = original.grids[k];
    for (uint32_t y = 0; y < grid.height; ++y)
      for (uint32_t x = 0; x < grid.width; ++x) {
        // Covered fraction of column cell x: the overlap of [x, x + 1) * 40 / w with [0, 20).
        const double cell = 40.0 / grid.width;
        const double covered = std::clamp((20.0 - x * cell) / cell, 0.0, 1.0);
        const size_t t = size_t{y} * grid.width + x;
        const bool same = edited.token(k, 0, t) == original.token(k, 0, t);
        if (k < kKeep || covered < 0.5) {
          EXPECT_TRUE(same) << "scale " << k << " token (" << y << ", " << x << ")";
        } else {
          ++tokens_inside;
          changed_inside += same ? 0 : 1;
        }
      }
  }
  EXPECT_GT(tokens_inside, 0u);
  EXPECT_GT(changed_inside, tokens_inside / 4) << changed_inside << " of " << tokens_inside;
}

TEST_F(SamplerNodes, CancelAtStepTwoStopsWithinOneScale) {
  inf_node* sampler = generator();
  ASSERT_EQ(A->node_set_string(sampler, "resolution", "0.06M"), INF_STATUS_OK);
  JobLog log;
  log.cancel_at_step = 2;
  std::string message;
  EXPECT_EQ(run(sampler, {embedding({4}, 11), nullptr}, nullptr, &log, false, &message), INF_STATUS_CANCELLED);
  EXPECT_EQ(log.steps, (std::vector<uint32_t>{1, 2}));  // no third scale was reported
  EXPECT_EQ(log.totals, (std::vector<uint32_t>{kScales006, kScales006}));
  EXPECT_EQ(log.stages, (std::vector<std::string>{"sample", "sample"}));
  // The library words a cancelled job's message ("job cancelled after step 2 of 7").
  EXPECT_NE(message.find("2 of 7"), std::string::npos) << message;
}

TEST_F(SamplerNodes, PreviewsComeOncePerScaleWhenAskedAndGrow) {
  inf_node* sampler = generator();
  ASSERT_EQ(A->node_set_string(sampler, "resolution", "0.06M"), INF_STATUS_OK);
  inf_value* prompt = embedding({4}, 12);
  JobLog with;
  ASSERT_EQ(run(sampler, {prompt, nullptr}, nullptr, &with, true), INF_STATUS_OK);
  ASSERT_EQ(with.previews.size(), kScales006);
  const uint32_t sides[] = {1, 2, 4, 6, 8, 12, 16};  // the 1:1 grids; the tiny VAE has stride 16
  for (size_t k = 0; k < kScales006; ++k) {
    const JobLog::Preview& preview = with.previews[k];
    EXPECT_EQ(preview.step, k + 1);
    EXPECT_EQ(preview.width, sides[k] * 16) << "scale " << k;
    EXPECT_EQ(preview.height, sides[k] * 16) << "scale " << k;
    EXPECT_EQ(preview.scalar, INF_SCALAR_F32);
    EXPECT_EQ(preview.channels, INF_CHANNELS_RGB);
    EXPECT_EQ(preview.transfer, INF_TRANSFER_SRGB);
    EXPECT_TRUE(preview.finite);
    EXPECT_GE(preview.low, 0.0f);
    EXPECT_LE(preview.high, 1.0f);
  }
  EXPECT_EQ(with.steps.size(), kScales006);

  JobLog without;  // progress only: no previews are made
  ASSERT_EQ(run(sampler, {prompt, nullptr}, nullptr, &without, false), INF_STATUS_OK);
  EXPECT_TRUE(without.previews.empty());
  EXPECT_EQ(without.steps.size(), kScales006);
}

TEST_F(SamplerNodes, BadInputFailsTheJobWithAClearMessage) {
  std::string message;
  inf_node* sampler = generator();
  ASSERT_EQ(A->node_set_string(sampler, "resolution", "0.06M"), INF_STATUS_OK);
  EXPECT_EQ(run(sampler, {embedding({4}, 1, 256), nullptr}, nullptr, nullptr, false, &message),
            INF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(message.find("256"), std::string::npos) << message;
  EXPECT_NE(message.find("512"), std::string::npos) << message;

  EXPECT_EQ(run(sampler, {embedding({4, 5}, 1), embedding({3, 3, 3}, 2)}, nullptr, nullptr, false, &message),
            INF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(message.find("negative"), std::string::npos) << message;

  ASSERT_EQ(A->node_set_float(sampler, "tau", 0.0), INF_STATUS_OK);
  EXPECT_EQ(run(sampler, {embedding({4}, 1), nullptr}, nullptr, nullptr, false, &message),
            INF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(message.find("tau"), std::string::npos) << message;

  inf_value* source = generate(embedding({4}, 3), 5, 2);  // two images
  inf_node* edit = editor();
  ASSERT_EQ(A->node_set_int(edit, "keep_scales", 5), INF_STATUS_OK);
  EXPECT_EQ(run(edit, {truncated(source, 4), embedding({4}, 4), nullptr, nullptr}, nullptr, nullptr, false, &message),
            INF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(message.find("keep_scales is 5"), std::string::npos) << message;

  ASSERT_EQ(A->node_set_int(edit, "keep_scales", 2), INF_STATUS_OK);
  EXPECT_EQ(run(edit, {truncated(source, 4), embedding({4}, 4), nullptr, left_mask(8, 8, 4)}, nullptr, nullptr, false,
                &message),
            INF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(message.find("mask"), std::string::npos) << message;

  EXPECT_EQ(run(edit, {source, embedding({4, 4, 4}, 4), nullptr, nullptr}, nullptr, nullptr, false, &message),
            INF_STATUS_INVALID_ARGUMENT);  // 3 prompts for 2 images
  EXPECT_NE(message.find("one per image (2)"), std::string::npos) << message;

  EXPECT_EQ(run(edit, {source, embedding({4}, 4), embedding({2, 2, 2}, 5), nullptr}, nullptr, nullptr, false, &message),
            INF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(message.find("negative"), std::string::npos) << message;

  // Tokens of another width (8 bits) or another tokenizer.
  std::vector<uint8_t> zeros(4 * 8, 0);
  const inf_grid grids[] = {{1, 1}, {2, 2}};
  const uint8_t* bits[] = {zeros.data(), zeros.data()};
  inf_bit_tokens_desc narrow = INF_BIT_TOKENS_DESC_INIT;
  narrow.images = 1;
  narrow.bits_per_token = 8;
  narrow.schedule_scales = 2;
  narrow.stored_scales = 2;
  narrow.grids = grids;
  narrow.rope_grid = {2, 2};
  narrow.bits = bits;
  inf_value* eight_bit = nullptr;
  ASSERT_EQ(A->value_create_bit_tokens(&narrow, &eight_bit), INF_STATUS_OK) << A->last_error();
  keep(eight_bit);
  EXPECT_EQ(run(edit, {eight_bit, embedding({4}, 4), nullptr, nullptr}, nullptr, nullptr, false, &message),
            INF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(message.find("8-bit"), std::string::npos) << message;

  std::vector<uint8_t> zeros16(4 * kTinyBits, 0);
  const uint8_t* bits16[] = {zeros16.data(), zeros16.data()};
  inf_bit_tokens_desc foreign = narrow;
  foreign.bits_per_token = kTinyBits;
  foreign.bits = bits16;
  foreign.tokenizer = "some other vae";
  inf_value* other_vae = nullptr;
  ASSERT_EQ(A->value_create_bit_tokens(&foreign, &other_vae), INF_STATUS_OK) << A->last_error();
  keep(other_vae);
  EXPECT_EQ(run(edit, {other_vae, embedding({4}, 4), nullptr, nullptr}, nullptr, nullptr, false, &message),
            INF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(message.find("some other vae"), std::string::npos) << message;
}

}  // namespace
