// text.encode, image.encode and image.decode through the C ABI, as a host drives them (dlopen,
// then only the function table): against the golden files of Hugging Face's T5 and the official
// BSQ-VAE, and on the random "tiny" pipeline for batching, round trips, parameters and bad input.
//
// The golden files hold their weights as "weight.<name>" next to input.* and expect.* tensors
// (tests/data/golden/README.md, docs/golden-t5.md); the engine's manifest takes them as they
// are with {"path": ..., "select": "weight"}.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "abi_fixture.h"

namespace {

using abi_test::api;
using abi_test::library;
using nlohmann::json;
namespace fs = std::filesystem;

const std::string kDataDir = INF_TEST_DATA_DIR;

// ---- a minimal safetensors reader for the golden files (no infinode code) ----

class GoldenFile {
 public:
  explicit GoldenFile(const std::string& path) : path_(path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    bytes_ = content.str();
    if (bytes_.size() < 8) throw std::runtime_error(path + ": not a safetensors file");
    uint64_t header_size = 0;
    for (int i = 7; i >= 0; --i) header_size = header_size << 8 | static_cast<unsigned char>(bytes_[static_cast<size_t>(i)]);
    header_ = json::parse(bytes_.substr(8, header_size));
    data_start_ = 8 + header_size;
  }

  bool contains(const std::string& name) const { return header_.contains(name); }
  std::vector<int64_t> shape(const std::string& name) const { return header_.at(name).at("shape"); }
  const json& metadata() const { return header_.at("__metadata__"); }

  template <typename T>
  std::vector<T> get(const std::string& name, const char* dtype) const {
    const json& entry = header_.at(name);
    if (entry.at("dtype") != dtype) throw std::runtime_error(name + " is not " + dtype);
    const size_t begin = entry.at("data_offsets")[0], end = entry.at("data_offsets")[1];
    std::vector<T> values((end - begin) / sizeof(T));
    std::memcpy(values.data(), bytes_.data() + data_start_ + begin, end - begin);
    return values;
  }
  std::vector<float> floats(const std::string& name) const { return get<float>(name, "F32"); }
  std::vector<uint8_t> bits(const std::string& name) const { return get<uint8_t>(name, "U8"); }
  std::vector<int32_t> ints(const std::string& name) const { return get<int32_t>(name, "I32"); }

 private:
  std::string path_, bytes_;
  json header_;
  size_t data_start_ = 0;
};

// max |a - b| over max |b|: the CLI golden runner's relative error.
double relative_error(const std::vector<float>& actual, const std::vector<float>& expected) {
  if (actual.size() != expected.size()) return INFINITY;
  double error = 0, scale = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    error = std::max(error, std::fabs(static_cast<double>(actual[i]) - expected[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(expected[i])));
  }
  return scale == 0 ? error : error / scale;
}

double max_abs_error(const std::vector<float>& actual, const std::vector<float>& expected) {
  if (actual.size() != expected.size()) return INFINITY;
  double error = 0;
  for (size_t i = 0; i < actual.size(); ++i)
    error = std::max(error, std::fabs(static_cast<double>(actual[i]) - expected[i]));
  return error;
}

// ---- host-side copies of values ----

struct Embedding {
  uint32_t tokens = 0, channels = 0;
  std::vector<float> data;
  std::vector<uint32_t> lengths;  // one per prompt
  std::vector<float> prompt(size_t p) const {
    size_t row = 0;
    for (size_t q = 0; q < p; ++q) row += lengths[q];
    return {data.begin() + static_cast<std::ptrdiff_t>(row * channels),
            data.begin() + static_cast<std::ptrdiff_t>((row + lengths[p]) * channels)};
  }
};

struct Tokens {
  uint32_t images = 0, bits_per_token = 0, spatial_patch = 1, stored = 0;
  std::vector<inf_grid> grids;
  inf_grid rope_grid{0, 0};
  std::vector<std::vector<uint8_t>> bits;  // per stored scale
  std::string tokenizer;
};

// RGB f32, interleaved, values 0..1 (sRGB-encoded).
struct Image {
  uint32_t width = 0, height = 0;
  std::vector<float> rgb;
};

class NodesFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(library(), nullptr) << dlerror();
    A = api();
    ASSERT_NE(A, nullptr);
  }

  void TearDown() override {
    for (inf_value* value : values_) EXPECT_EQ(A->value_release(value), INF_STATUS_OK);
    for (inf_node* node : nodes_) EXPECT_EQ(A->node_release(node), INF_STATUS_OK);
    for (inf_engine* engine : engines_) EXPECT_EQ(A->engine_release(engine), INF_STATUS_OK);
  }

  inf_engine* engine_for(const std::string& manifest) {
    inf_engine_config config = INF_ENGINE_CONFIG_INIT;
    config.model_manifest = manifest.c_str();
    config.log_callback = [](void*, inf_log_level, const char*) {};  // keep the test output quiet
    inf_engine* engine = nullptr;
    EXPECT_EQ(A->engine_create(&config, &engine), INF_STATUS_OK) << A->last_error();
    if (engine != nullptr) engines_.push_back(engine);
    return engine;
  }

  inf_node* node(inf_engine* engine, const char* id) {
    inf_node* created = nullptr;
    EXPECT_EQ(A->node_create(engine, id, &created), INF_STATUS_OK) << A->engine_last_error(engine);
    if (created != nullptr) nodes_.push_back(created);
    return created;
  }

  // Values are released at the end of the test.
  inf_value* keep(inf_value* value) {
    if (value != nullptr) values_.push_back(value);
    return value;
  }

  inf_value* text(const std::string& utf8) {
    inf_value* value = nullptr;
    EXPECT_EQ(A->value_create_text(utf8.data(), utf8.size(), &value), INF_STATUS_OK) << A->last_error();
    return keep(value);
  }

  inf_value* ids(const std::vector<int32_t>& list) {
    inf_value* value = nullptr;
    EXPECT_EQ(A->value_create_token_ids(list.data(), list.size(), &value), INF_STATUS_OK) << A->last_error();
    return keep(value);
  }

  inf_value* image(const Image& pixels) {
    inf_image_desc desc = INF_IMAGE_DESC_INIT;
    desc.width = pixels.width;
    desc.height = pixels.height;
    desc.scalar = INF_SCALAR_F32;
    desc.channels = INF_CHANNELS_RGB;
    desc.transfer = INF_TRANSFER_SRGB;
    desc.pixel_stride = 3 * sizeof(float);
    desc.row_stride = desc.pixel_stride * pixels.width;
    desc.data = const_cast<float*>(pixels.rgb.data());
    inf_value* value = nullptr;
    EXPECT_EQ(A->value_create_image(&desc, &value), INF_STATUS_OK) << A->last_error();
    return keep(value);
  }

  inf_value* tokens(const Tokens& source) {
    std::vector<const uint8_t*> pointers;
    for (const auto& scale : source.bits) pointers.push_back(scale.data());
    inf_bit_tokens_desc desc = INF_BIT_TOKENS_DESC_INIT;
    desc.images = source.images;
    desc.bits_per_token = source.bits_per_token;
    desc.spatial_patch = source.spatial_patch;
    desc.schedule_scales = static_cast<uint32_t>(source.grids.size());
    desc.stored_scales = static_cast<uint32_t>(source.bits.size());
    desc.grids = source.grids.data();
    desc.rope_grid = source.rope_grid;
    desc.bits = pointers.data();
    desc.tokenizer = source.tokenizer.c_str();
    inf_value* value = nullptr;
    EXPECT_EQ(A->value_create_bit_tokens(&desc, &value), INF_STATUS_OK) << A->last_error();
    return keep(value);
  }

  // Runs a job to its end. On success, *output gets output 0 (kept); *message gets the job's error.
  inf_status run(inf_node* target, std::vector<inf_value*> inputs, inf_value** output = nullptr,
                 std::string* message = nullptr, const inf_job_callbacks* callbacks = nullptr) {
    inf_job* job = nullptr;
    const inf_status started =
        A->node_run_async(target, inputs.data(), static_cast<uint32_t>(inputs.size()), callbacks, &job);
    if (started != INF_STATUS_OK) {
      if (message != nullptr) *message = A->last_error();
      return started;
    }
    inf_status result = INF_STATUS_INTERNAL;
    EXPECT_EQ(A->job_wait(job, INF_WAIT_FOREVER, &result), INF_STATUS_OK);
    if (message != nullptr) *message = A->job_last_error(job);
    if (output != nullptr && result == INF_STATUS_OK) {
      EXPECT_EQ(A->job_get_output(job, 0, output), INF_STATUS_OK);
      keep(*output);
    }
    EXPECT_EQ(A->job_release(job), INF_STATUS_OK);
    return result;
  }

  // Runs a job that must succeed and returns its output.
  inf_value* output_of(inf_node* target, std::vector<inf_value*> inputs) {
    inf_value* output = nullptr;
    std::string message;
    EXPECT_EQ(run(target, std::move(inputs), &output, &message), INF_STATUS_OK) << message;
    return output;
  }

  Embedding embedding(inf_value* value) {
    Embedding result;
    inf_text_embedding_desc desc = INF_TEXT_EMBEDDING_DESC_INIT;
    EXPECT_EQ(A->value_get_text_embedding(value, &desc), INF_STATUS_OK) << A->last_error();
    result.tokens = desc.tokens;
    result.channels = desc.channels;
    result.data.assign(desc.data, desc.data + size_t{desc.tokens} * desc.channels);
    if (desc.prompts <= 1)
      result.lengths = {desc.tokens};
    else
      result.lengths.assign(desc.prompt_tokens, desc.prompt_tokens + desc.prompts);
    return result;
  }

  Tokens tokens_of(inf_value* value) {
    Tokens result;
    inf_bit_tokens_desc desc = INF_BIT_TOKENS_DESC_INIT;
    EXPECT_EQ(A->value_get_bit_tokens(value, &desc), INF_STATUS_OK) << A->last_error();
    result.images = desc.images;
    result.bits_per_token = desc.bits_per_token;
    result.spatial_patch = desc.spatial_patch;
    result.stored = desc.stored_scales;
    result.grids.assign(desc.grids, desc.grids + desc.schedule_scales);
    result.rope_grid = desc.rope_grid;
    for (uint32_t k = 0; k < desc.stored_scales; ++k) {
      const size_t count = size_t{desc.images} * desc.grids[k].height * desc.grids[k].width * desc.bits_per_token;
      result.bits.emplace_back(desc.bits[k], desc.bits[k] + count);
    }
    result.tokenizer = desc.tokenizer == nullptr ? "" : desc.tokenizer;
    return result;
  }

  Image image_of(inf_value* value) {
    Image result;
    inf_image_desc info = INF_IMAGE_DESC_INIT;
    EXPECT_EQ(A->value_get_image_info(value, &info), INF_STATUS_OK) << A->last_error();
    EXPECT_EQ(info.channels, INF_CHANNELS_RGB);
    EXPECT_EQ(info.scalar, INF_SCALAR_F32);
    EXPECT_EQ(info.transfer, INF_TRANSFER_SRGB);
    result.width = info.width;
    result.height = info.height;
    result.rgb.resize(size_t{info.width} * info.height * 3);
    inf_image_desc destination = INF_IMAGE_DESC_INIT;
    destination.width = info.width;
    destination.height = info.height;
    destination.scalar = INF_SCALAR_F32;
    destination.channels = INF_CHANNELS_RGB;
    destination.transfer = INF_TRANSFER_SRGB;
    destination.pixel_stride = 3 * sizeof(float);
    destination.row_stride = destination.pixel_stride * info.width;
    destination.data = result.rgb.data();
    EXPECT_EQ(A->value_read_image(value, &destination), INF_STATUS_OK) << A->last_error();
    return result;
  }

  const inf_api* A = nullptr;

 private:
  std::vector<inf_engine*> engines_;
  std::vector<inf_node*> nodes_;
  std::vector<inf_value*> values_;
};

// A planar [3, H, W] image in the model's range [-1, 1] as a host image (interleaved, 0..1).
Image image_from_model_range(const std::vector<float>& planar, uint32_t width, uint32_t height) {
  Image result{width, height, std::vector<float>(size_t{width} * height * 3)};
  const size_t plane = size_t{width} * height;
  for (size_t p = 0; p < plane; ++p)
    for (size_t c = 0; c < 3; ++c) result.rgb[p * 3 + c] = (planar[c * plane + p] + 1.0f) * 0.5f;
  return result;
}

// A host image back to planar [3, H, W] in [-1, 1].
std::vector<float> model_range(const Image& image) {
  const size_t plane = size_t{image.width} * image.height;
  std::vector<float> planar(plane * 3);
  for (size_t p = 0; p < plane; ++p)
    for (size_t c = 0; c < 3; ++c) planar[c * plane + p] = image.rgb[p * 3 + c] * 2.0f - 1.0f;
  return planar;
}

// Smooth colour ramps with a bright square: something a VAE has to work to reproduce.
Image test_image(uint32_t width, uint32_t height) {
  Image result{width, height, std::vector<float>(size_t{width} * height * 3)};
  for (uint32_t y = 0; y < height; ++y)
    for (uint32_t x = 0; x < width; ++x) {
      float* pixel = &result.rgb[(size_t{y} * width + x) * 3];
      const bool square = x > width / 4 && x < width / 2 && y > height / 3 && y < 2 * height / 3;
      pixel[0] = square ? 0.95f : static_cast<float>(x) / static_cast<float>(width);
      pixel[1] = square ? 0.9f : static_cast<float>(y) / static_cast<float>(height);
      pixel[2] = 0.5f + 0.4f * std::sin(0.3f * static_cast<float>(x + 2 * y));
    }
  return result;
}

// ---- the golden files ----

// The golden T5 (with its test tokenizer) and the golden VAE, with the VAE golden's schedule
// (1, 2, 4, 6, 8 on a 128x128 image) as the model's fixed schedule: that schedule is no
// template's, and "auto" takes the model's schedule, so image.encode quantizes exactly as the
// reference did.
class GoldenNodes : public NodesFixture {
 protected:
  static void SetUpTestSuite() {
    t5_golden_ = new GoldenFile(kT5Golden);
    vae_golden_ = new GoldenFile(kVaeGolden);
  }

  static void TearDownTestSuite() {
    delete t5_golden_;
    delete vae_golden_;
  }

  inf_engine* golden_engine() {
    const json manifest = {
        {"t5", {{"path", kT5Golden}, {"select", "weight"}}},
        {"spiece", kDataDir + "/text/test_spiece.model"},
        {"vae", {{"path", kVaeGolden}, {"select", "weight"}}},
        {"defaults", {{"schedule", {{"grids", {{1, 1}, {2, 2}, {4, 4}, {6, 6}, {8, 8}}}, {"rope_grid", {8, 8}}}}}}};
    return engine_for(manifest.dump());
  }

  // The golden decoder bits (`prefix` "expect.bits" or "input.decoder_bits") as tokens.
  Tokens golden_tokens(const std::string& prefix, const std::string& tokenizer) const {
    Tokens result;
    result.images = 1;
    result.bits_per_token = 16;
    result.grids = {{1, 1}, {2, 2}, {4, 4}, {6, 6}, {8, 8}};
    result.rope_grid = {8, 8};
    for (int k = 0; k < 5; ++k) result.bits.push_back(vae_golden_->bits(prefix + ".s" + std::to_string(k)));
    result.tokenizer = tokenizer;
    return result;
  }

  static inline const std::string kT5Golden = kDataDir + "/golden/t5_tiny.safetensors";
  static inline const std::string kVaeGolden = kDataDir + "/golden/vae_tiny.safetensors";
  static GoldenFile* t5_golden_;
  static GoldenFile* vae_golden_;
};

GoldenFile* GoldenNodes::t5_golden_ = nullptr;
GoldenFile* GoldenNodes::vae_golden_ = nullptr;

// Tolerance: relative error (max abs error over the largest reference magnitude) 1e-5, as the
// CLI's T5 golden test; the file's own fp32-vs-fp64 spread is up to 2.7e-6 absolute.
constexpr double kT5RelativeTolerance = 1e-5;

TEST_F(GoldenNodes, TextEncodeOfIdsGivesTheT5HiddenStates) {
  inf_node* encoder = node(golden_engine(), "org.infinode.text.encode");
  const size_t count = json::parse(t5_golden_->metadata().at("prompts").get<std::string>()).size();
  ASSERT_EQ(count, 35u);
  for (size_t p = 0; p < count; ++p) {
    SCOPED_TRACE("prompt " + std::to_string(p));
    const std::vector<int32_t> prompt_ids = t5_golden_->ints("input.ids.p" + std::to_string(p));
    const Embedding features = embedding(output_of(encoder, {nullptr, ids(prompt_ids)}));
    ASSERT_EQ(features.lengths, std::vector<uint32_t>{static_cast<uint32_t>(prompt_ids.size())});
    ASSERT_EQ(features.channels, 64u);
    EXPECT_LE(relative_error(features.data, t5_golden_->floats("expect.features.p" + std::to_string(p))),
              kT5RelativeTolerance);
  }
}

TEST_F(GoldenNodes, TextEncodeOfTextTokenizesAsHuggingFace) {
  inf_node* encoder = node(golden_engine(), "org.infinode.text.encode");
  const json prompts = json::parse(t5_golden_->metadata().at("prompts").get<std::string>());
  // The empty prompt, English, Chinese, emoji, and one cut to 512 tokens.
  for (size_t p = 0; p < 5; ++p) {
    SCOPED_TRACE("prompt " + std::to_string(p));
    const Embedding features = embedding(output_of(encoder, {text(prompts[p].get<std::string>()), nullptr}));
    const std::vector<float> expected = t5_golden_->floats("expect.features.p" + std::to_string(p));
    ASSERT_EQ(features.data.size(), expected.size());
    EXPECT_LE(relative_error(features.data, expected), kT5RelativeTolerance);
  }
}

TEST_F(GoldenNodes, SplitLinesGivesOneEmbeddingPerLine) {
  inf_node* encoder = node(golden_engine(), "org.infinode.text.encode");
  ASSERT_EQ(A->node_set_bool(encoder, "split_lines", 1), INF_STATUS_OK);
  const json prompts = json::parse(t5_golden_->metadata().at("prompts").get<std::string>());
  // Blank lines and a CRLF ending are not prompts.
  const std::string lines = prompts[1].get<std::string>() + "\r\n\n   \n" + prompts[2].get<std::string>() + "\n" +
                            prompts[3].get<std::string>() + "\n";
  const Embedding batch = embedding(output_of(encoder, {text(lines), nullptr}));
  ASSERT_EQ(batch.lengths.size(), 3u);
  for (size_t p = 0; p < 3; ++p) {
    const std::vector<float> expected = t5_golden_->floats("expect.features.p" + std::to_string(p + 1));
    EXPECT_EQ(int64_t{batch.lengths[p]}, t5_golden_->shape("expect.features.p" + std::to_string(p + 1))[0]);
    EXPECT_LE(relative_error(batch.prompt(p), expected), kT5RelativeTolerance) << "line " << p;
  }
}

TEST_F(GoldenNodes, ImageEncodeGivesTheGoldenBits) {
  inf_node* encoder = node(golden_engine(), "org.infinode.image.encode");
  // The golden image is [-1, 1]; the node reads 0..1 and maps back (x + 1) / 2 * 2 - 1, which can
  // move a value by one float ulp. The smallest |u| of the golden quantizer is 4e-4, so no bit can
  // flip from that.
  const Image source = image_from_model_range(vae_golden_->floats("input.image"), 128, 128);
  const Tokens encoded = tokens_of(output_of(encoder, {image(source)}));
  EXPECT_EQ(encoded.images, 1u);
  EXPECT_EQ(encoded.bits_per_token, 16u);
  EXPECT_EQ(encoded.spatial_patch, 1u);  // no transformer in the manifest: the VAE's own tokens
  EXPECT_EQ(encoded.tokenizer.rfind("bsq-vae d16 s16 ", 0), 0u) << encoded.tokenizer;
  ASSERT_EQ(encoded.grids.size(), 5u);
  ASSERT_EQ(encoded.bits.size(), 5u);
  for (size_t k = 0; k < 5; ++k) EXPECT_EQ(encoded.bits[k], vae_golden_->bits("expect.bits.s" + std::to_string(k))) << k;
}

// Tolerance: max abs error 1e-4 over the [-1, 1] range, as the golden README suggests for fp32
// VAE outputs (its fp32-vs-fp64 spread is 1.2e-5 unclamped); the 0..1 round trip of the image
// value adds a few ulps.
constexpr double kDecoderTolerance = 1e-4;

TEST_F(GoldenNodes, ImageDecodeMatchesTheGoldenDecoder) {
  inf_engine* engine = golden_engine();
  inf_node* decoder = node(engine, "org.infinode.image.decode");
  inf_node* encoder = node(engine, "org.infinode.image.encode");
  // The identity the engine's VAE stamps on its tokens, so the decoder's check passes.
  const std::string identity =
      tokens_of(output_of(encoder, {image(image_from_model_range(vae_golden_->floats("input.image"), 128, 128))}))
          .tokenizer;
  const struct {
    const char* bits;
    const char* expected;
    std::string tokenizer;
  } cases[] = {{"expect.bits", "expect.decoded", identity}, {"input.decoder_bits", "expect.decoder_out", ""}};
  for (const auto& golden : cases) {
    SCOPED_TRACE(golden.bits);
    const Image decoded = image_of(output_of(decoder, {tokens(golden_tokens(golden.bits, golden.tokenizer))}));
    ASSERT_EQ(decoded.width, 128u);
    ASSERT_EQ(decoded.height, 128u);
    EXPECT_LE(max_abs_error(model_range(decoded), vae_golden_->floats(golden.expected)), kDecoderTolerance);
  }
}

// ---- the random tiny pipeline ----

// {"random": "tiny"} with a 4-scale schedule (64x64 pixels) so the VAE passes stay fast; the
// tests of "auto" without a fixed schedule make their own engines.
const char* const kTinyManifest =
    R"({"random": "tiny", "defaults": {"schedule": {"grids": [[1, 1], [2, 2], [3, 3], [4, 4]], "rope_grid": [4, 4]}}})";

class TinyNodes : public NodesFixture {
 protected:
  void SetUp() override {
    NodesFixture::SetUp();
    engine = engine_for(kTinyManifest);
    ASSERT_NE(engine, nullptr);
  }

  inf_status run_expecting_failure(inf_node* target, std::vector<inf_value*> inputs, std::string& message) {
    return run(target, std::move(inputs), nullptr, &message);
  }

  inf_engine* engine = nullptr;
};

TEST_F(TinyNodes, DescriptorsFollowTheContract) {
  const inf_node_desc* desc = nullptr;
  ASSERT_EQ(A->engine_find_node(engine, "org.infinode.text.encode", &desc), INF_STATUS_OK);
  ASSERT_EQ(desc->input_count, 2u);
  EXPECT_STREQ(desc->inputs[0]->id, "text");
  EXPECT_EQ(desc->inputs[0]->type, INF_TYPE_TEXT);
  EXPECT_STREQ(desc->inputs[1]->id, "ids");
  EXPECT_EQ(desc->inputs[1]->type, INF_TYPE_TOKEN_IDS);
  EXPECT_NE(desc->inputs[0]->flags & INF_PORT_FLAG_OPTIONAL, 0u);
  EXPECT_NE(desc->inputs[1]->flags & INF_PORT_FLAG_OPTIONAL, 0u);
  EXPECT_EQ(desc->outputs[0]->type, INF_TYPE_TEXT_EMBEDDING);
  EXPECT_STREQ(desc->outputs[0]->id, "embedding");
  EXPECT_NE(desc->flags & INF_NODE_FLAG_PROGRESS, 0u);
  ASSERT_EQ(desc->param_count, 3u);
  EXPECT_STREQ(desc->params[0]->id, "split_lines");
  EXPECT_EQ(desc->params[0]->type, INF_PARAM_BOOL);
  EXPECT_EQ(desc->params[0]->int_default, 0);
  EXPECT_STREQ(desc->params[1]->id, "max_length");
  EXPECT_EQ(desc->params[1]->int_min, 1);
  EXPECT_EQ(desc->params[1]->int_max, 512);
  EXPECT_EQ(desc->params[1]->int_default, 512);
  EXPECT_STREQ(desc->params[2]->id, "spiece_model");
  EXPECT_NE(desc->params[2]->flags & INF_PARAM_FLAG_PATH, 0u);

  ASSERT_EQ(A->engine_find_node(engine, "org.infinode.image.encode", &desc), INF_STATUS_OK);
  EXPECT_STREQ(desc->inputs[0]->id, "image");
  EXPECT_EQ(desc->inputs[0]->type, INF_TYPE_IMAGE);
  EXPECT_STREQ(desc->outputs[0]->id, "tokens");
  EXPECT_EQ(desc->outputs[0]->type, INF_TYPE_BIT_TOKENS);
  ASSERT_EQ(desc->param_count, 3u);
  EXPECT_STREQ(desc->params[0]->id, "resolution");
  ASSERT_EQ(desc->params[0]->choice_count, 5u);
  const char* const choices[] = {"auto", "0.06M", "0.25M", "0.60M", "1M"};
  for (uint32_t c = 0; c < 5; ++c) EXPECT_STREQ(desc->params[0]->choices[c], choices[c]);
  EXPECT_EQ(desc->params[0]->int_default, 0);
  EXPECT_STREQ(desc->params[1]->id, "tile");
  EXPECT_STREQ(desc->params[2]->id, "overlap");

  ASSERT_EQ(A->engine_find_node(engine, "org.infinode.image.decode", &desc), INF_STATUS_OK);
  EXPECT_STREQ(desc->inputs[0]->id, "tokens");
  EXPECT_STREQ(desc->outputs[0]->id, "image");
  EXPECT_EQ(desc->outputs[0]->type, INF_TYPE_IMAGE);
  ASSERT_EQ(desc->param_count, 4u);
  EXPECT_STREQ(desc->params[0]->id, "image_index");
  EXPECT_EQ(desc->params[0]->int_max, 4095);
  EXPECT_STREQ(desc->params[1]->id, "scales");
  EXPECT_EQ(desc->params[1]->int_max, 64);
  EXPECT_STREQ(desc->params[2]->id, "tile");
  EXPECT_STREQ(desc->params[3]->id, "overlap");
}

TEST_F(TinyNodes, SplitLinesBatchEqualsSinglePromptEncodes) {
  const std::vector<std::string> prompts = {"a red cube", "two blue spheres on grass", "x"};
  // A second engine encodes the single prompts: its own cache, so nothing is shared but weights
  // made from the same seed.
  inf_node* single = node(engine_for(kTinyManifest), "org.infinode.text.encode");
  inf_node* batch = node(engine, "org.infinode.text.encode");
  ASSERT_EQ(A->node_set_bool(batch, "split_lines", 1), INF_STATUS_OK);
  const Embedding together = embedding(output_of(batch, {text(prompts[0] + "\n" + prompts[1] + "\n\n" + prompts[2]), nullptr}));
  ASSERT_EQ(together.lengths.size(), 3u);
  for (size_t p = 0; p < prompts.size(); ++p) {
    const Embedding alone = embedding(output_of(single, {text(prompts[p]), nullptr}));
    ASSERT_EQ(alone.lengths.size(), 1u);
    EXPECT_EQ(alone.lengths[0], prompts[p].size() + 1) << "byte tokenizer: one id per byte, then EOS";
    EXPECT_EQ(together.lengths[p], alone.lengths[0]);
    EXPECT_EQ(together.prompt(p), alone.data) << "prompt " << p;
  }
  EXPECT_EQ(together.channels, 512u);
}

TEST_F(TinyNodes, TextAndItsTokenIdsGiveTheSameEmbedding) {
  inf_node* tokenizer = node(engine, "org.infinode.text.tokenize");
  inf_node* encoder = node(engine, "org.infinode.text.encode");
  inf_value* prompt = text("a small green cone");
  const Embedding from_text = embedding(output_of(encoder, {prompt, nullptr}));
  const Embedding from_ids = embedding(output_of(encoder, {nullptr, output_of(tokenizer, {prompt})}));
  EXPECT_EQ(from_text.lengths, from_ids.lengths);
  EXPECT_EQ(from_text.data, from_ids.data);
  // The empty prompt is EOS alone, a valid prompt (the reference's empty negative prompt).
  EXPECT_EQ(embedding(output_of(encoder, {text(""), nullptr})).lengths, std::vector<uint32_t>{1});
}

TEST_F(TinyNodes, LongPromptsAreCutToTheTransformersTextLength) {
  // The random tiny transformer's learned unconditional text has 32 rows; the byte tokenizer
  // makes one id per byte, so a 40-byte prompt is cut to 31 bytes + EOS (a warning says so).
  inf_node* encoder = node(engine, "org.infinode.text.encode");
  inf_value* cut = output_of(encoder, {text(std::string(40, 'x')), nullptr});
  EXPECT_EQ(embedding(cut).lengths, std::vector<uint32_t>{32});
  EXPECT_EQ(embedding(output_of(encoder, {text(std::string(31, 'x')), nullptr})).lengths, std::vector<uint32_t>{32});
  // The sampler takes it; uncut, it would refuse a 41-token prompt (no unconditional rows for it).
  EXPECT_NE(output_of(node(engine, "org.infinode.sampler.generate"), {cut, nullptr}), nullptr);
}

struct ProgressLog {
  std::vector<uint32_t> steps, totals;
  std::vector<std::string> stages;
  uint32_t cancel_at = 0;  // 0: never
};

int32_t record_progress(void* user_data, const inf_progress* progress) {
  auto* log = static_cast<ProgressLog*>(user_data);
  log->steps.push_back(progress->step);
  log->totals.push_back(progress->total_steps);
  log->stages.push_back(progress->stage == nullptr ? "" : progress->stage);
  return log->cancel_at != 0 && progress->step >= log->cancel_at ? 1 : 0;
}

TEST_F(TinyNodes, TextEncodeReportsOneStepPerPromptAndStopsWhenCancelled) {
  inf_node* encoder = node(engine, "org.infinode.text.encode");
  ASSERT_EQ(A->node_set_bool(encoder, "split_lines", 1), INF_STATUS_OK);
  ProgressLog log;
  inf_job_callbacks callbacks = INF_JOB_CALLBACKS_INIT;
  callbacks.user_data = &log;
  callbacks.on_progress = record_progress;
  inf_value* output = nullptr;
  ASSERT_EQ(run(encoder, {text("one\ntwo\nthree"), nullptr}, &output, nullptr, &callbacks), INF_STATUS_OK);
  EXPECT_EQ(log.steps, (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(log.totals, (std::vector<uint32_t>{3, 3, 3}));
  EXPECT_EQ(log.stages, (std::vector<std::string>{"encode", "encode", "encode"}));

  ProgressLog cancelled;
  cancelled.cancel_at = 1;
  callbacks.user_data = &cancelled;
  std::string message;
  EXPECT_EQ(run(encoder, {text("four\nfive\nsix"), nullptr}, nullptr, &message, &callbacks), INF_STATUS_CANCELLED);
  EXPECT_EQ(cancelled.steps, std::vector<uint32_t>{1}) << "no prompt is encoded after the cancel";
}

TEST_F(TinyNodes, TextEncodeRefusesBadInput) {
  inf_node* encoder = node(engine, "org.infinode.text.encode");
  std::string message;
  EXPECT_EQ(run_expecting_failure(encoder, {text("a"), ids({97, 1})}, message), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(message.find("exactly one"), std::string::npos) << message;
  EXPECT_NE(message.find("both"), std::string::npos) << message;
  EXPECT_EQ(run_expecting_failure(encoder, {nullptr, nullptr}, message), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(message.find("neither"), std::string::npos) << message;

  // The tiny T5 has 384 embedding rows.
  EXPECT_EQ(run_expecting_failure(encoder, {nullptr, ids({5, 384, 1})}, message), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(message.find("384"), std::string::npos) << message;
  EXPECT_NE(message.find("vocabulary"), std::string::npos) << message;
  EXPECT_NE(message.find("position 1"), std::string::npos) << message;

  ASSERT_EQ(A->node_set_int(encoder, "max_length", 2), INF_STATUS_OK);
  EXPECT_EQ(run_expecting_failure(encoder, {nullptr, ids({5, 6, 1})}, message), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(message.find("max_length 2"), std::string::npos) << message;
  ASSERT_EQ(A->node_set_int(encoder, "max_length", 512), INF_STATUS_OK);

  inf_value* no_ids = nullptr;
  if (A->value_create_token_ids(nullptr, 0, &no_ids) == INF_STATUS_OK) {  // the ABI may refuse it first
    keep(no_ids);
    EXPECT_EQ(run_expecting_failure(encoder, {nullptr, no_ids}, message), INF_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(message.find("empty"), std::string::npos) << message;
  }

  ASSERT_EQ(A->node_set_bool(encoder, "split_lines", 1), INF_STATUS_OK);
  EXPECT_EQ(run_expecting_failure(encoder, {text(" \n\r\n\t"), nullptr}, message), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(message.find("no non-blank line"), std::string::npos) << message;
  EXPECT_EQ(run_expecting_failure(encoder, {text(""), nullptr}, message), INF_STATUS_INVALID_ARGUMENT);

  ASSERT_EQ(A->node_set_bool(encoder, "split_lines", 0), INF_STATUS_OK);
  ASSERT_EQ(A->node_set_string(encoder, "spiece_model", "/nonexistent/spiece.model"), INF_STATUS_OK);
  EXPECT_NE(run_expecting_failure(encoder, {text("a"), nullptr}, message), INF_STATUS_OK);
  EXPECT_NE(message.find("/nonexistent/spiece.model"), std::string::npos) << message;
}

TEST_F(TinyNodes, EncodeDecodeRoundTripKeepsTheSchedulesSize) {
  inf_node* encoder = node(engine, "org.infinode.image.encode");
  inf_node* decoder = node(engine, "org.infinode.image.decode");
  // 48 wide, 80 tall: resized to cover 64x64 (64x106) and centre-cropped.
  const Tokens encoded = tokens_of(output_of(encoder, {image(test_image(48, 80))}));
  EXPECT_EQ(encoded.images, 1u);
  EXPECT_EQ(encoded.bits_per_token, 16u);  // tiny transformer 16 bits = tiny VAE 16 bits: patch 1
  EXPECT_EQ(encoded.spatial_patch, 1u);
  ASSERT_EQ(encoded.grids.size(), 4u);
  EXPECT_EQ(encoded.stored, 4u);
  EXPECT_EQ(encoded.grids.back().height, 4u);
  EXPECT_FALSE(encoded.tokenizer.empty());
  for (size_t k = 0; k < encoded.bits.size(); ++k)
    for (const uint8_t bit : encoded.bits[k]) ASSERT_LE(bit, 1);

  const Image decoded = image_of(output_of(decoder, {tokens(encoded)}));
  EXPECT_EQ(decoded.width, 64u);
  EXPECT_EQ(decoded.height, 64u);
  for (const float value : decoded.rgb) {
    ASSERT_GE(value, 0.0f);
    ASSERT_LE(value, 1.0f);
  }
  // The preprocessing upscales any image, down to a single pixel.
  EXPECT_EQ(tokens_of(output_of(encoder, {image(test_image(1, 1))})).stored, 4u);
}

TEST_F(TinyNodes, AutoResolutionTakesTheKeyNearestTheImage) {
  // Without a fixed schedule: 256x256 pixels is exactly 0.06M's 16x16 grid at 16 pixels per token.
  inf_node* encoder = node(engine_for(R"({"random": "tiny"})"), "org.infinode.image.encode");
  Tokens encoded = tokens_of(output_of(encoder, {image(test_image(256, 256))}));
  ASSERT_EQ(encoded.grids.size(), 7u);
  EXPECT_EQ(encoded.grids.back().height, 16u);
  EXPECT_EQ(encoded.rope_grid.height, 64u);
  // A wide image takes the nearest aspect template, h/w 0.5, whose 0.06M grid (11x22, 176x352
  // pixels) is nearer its 45000 pixels than 0.25M's (23x46, 368x736).
  encoded = tokens_of(output_of(encoder, {image(test_image(300, 150))}));
  ASSERT_EQ(encoded.grids.size(), 7u);
  EXPECT_EQ(encoded.grids.back().height, 11u);
  EXPECT_EQ(encoded.grids.back().width, 22u);
  // The model's default resolution wins over the image's size; an explicit key over both.
  inf_node* defaulted =
      node(engine_for(R"({"random": "tiny", "defaults": {"resolution": "0.25M"}})"), "org.infinode.image.encode");
  ASSERT_EQ(A->node_set_string(defaulted, "resolution", "0.06M"), INF_STATUS_OK);
  EXPECT_EQ(tokens_of(output_of(defaulted, {image(test_image(32, 32))})).grids.size(), 7u);
}

// Two encoded images as one batch of tokens (image 0, then image 1).
Tokens batch_of(const Tokens& first, const Tokens& second) {
  Tokens batch = first;
  batch.images = 2;
  for (size_t k = 0; k < batch.bits.size(); ++k)
    batch.bits[k].insert(batch.bits[k].end(), second.bits[k].begin(), second.bits[k].end());
  return batch;
}

TEST_F(TinyNodes, DecodePicksTheImageAndTheScales) {
  inf_node* encoder = node(engine, "org.infinode.image.encode");
  inf_node* decoder = node(engine, "org.infinode.image.decode");
  const Tokens first = tokens_of(output_of(encoder, {image(test_image(64, 64))}));
  const Tokens second = tokens_of(output_of(encoder, {image(test_image(40, 64))}));
  ASSERT_NE(first.bits.back(), second.bits.back()) << "the two test images should differ";
  inf_value* batch = tokens(batch_of(first, second));

  const Image alone = image_of(output_of(decoder, {tokens(second)}));
  ASSERT_EQ(A->node_set_int(decoder, "image_index", 1), INF_STATUS_OK);
  EXPECT_EQ(image_of(output_of(decoder, {batch})).rgb, alone.rgb);

  std::string message;
  ASSERT_EQ(A->node_set_int(decoder, "image_index", 2), INF_STATUS_OK);
  EXPECT_EQ(run(decoder, {batch}, nullptr, &message), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(message.find("image_index 2"), std::string::npos) << message;
  EXPECT_NE(message.find("2 images"), std::string::npos) << message;
  ASSERT_EQ(A->node_set_int(decoder, "image_index", 0), INF_STATUS_OK);

  // The first 2 scales: the same as tokens that hold only those (tokens.truncate).
  inf_node* truncate = node(engine, "org.infinode.tokens.truncate");
  ASSERT_EQ(A->node_set_int(truncate, "keep_scales", 2), INF_STATUS_OK);
  const Image truncated = image_of(output_of(decoder, {output_of(truncate, {batch})}));
  ASSERT_EQ(A->node_set_int(decoder, "scales", 2), INF_STATUS_OK);
  const Image coarse = image_of(output_of(decoder, {batch}));
  EXPECT_EQ(coarse.width, 64u);
  EXPECT_EQ(coarse.rgb, truncated.rgb);
  ASSERT_EQ(A->node_set_int(decoder, "scales", 0), INF_STATUS_OK);
  EXPECT_NE(image_of(output_of(decoder, {batch})).rgb, coarse.rgb);

  ASSERT_EQ(A->node_set_int(decoder, "scales", 5), INF_STATUS_OK);
  EXPECT_EQ(run(decoder, {batch}, nullptr, &message), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(message.find("scales 5"), std::string::npos) << message;
  EXPECT_NE(message.find("4 scales"), std::string::npos) << message;
}

TEST_F(TinyNodes, DecodeRefusesTokensOfAnotherTokenizer) {
  inf_node* encoder = node(engine, "org.infinode.image.encode");
  inf_node* decoder = node(engine, "org.infinode.image.decode");
  Tokens encoded = tokens_of(output_of(encoder, {image(test_image(64, 64))}));
  const std::string ours = encoded.tokenizer;
  encoded.tokenizer = "bsq-vae d16 s16 0123456789abcdef";
  std::string message;
  EXPECT_EQ(run(decoder, {tokens(encoded)}, nullptr, &message), INF_STATUS_INVALID_DATA);
  EXPECT_NE(message.find(encoded.tokenizer), std::string::npos) << message;
  EXPECT_NE(message.find(ours), std::string::npos) << message;

  // Unknown identity ("") is accepted, but the bits must fit the VAE: 4-bit tokens do not.
  Tokens narrow;
  narrow.images = 1;
  narrow.bits_per_token = 4;
  narrow.grids = {{1, 1}, {2, 2}};
  narrow.rope_grid = {2, 2};
  narrow.bits = {std::vector<uint8_t>(4, 1), std::vector<uint8_t>(16, 0)};
  EXPECT_EQ(run(decoder, {tokens(narrow)}, nullptr, &message), INF_STATUS_INVALID_DATA);
  EXPECT_NE(message.find("4 bits per token"), std::string::npos) << message;
  EXPECT_NE(message.find("16"), std::string::npos) << message;
}

TEST_F(TinyNodes, TilingParametersAreChecked) {
  inf_node* encoder = node(engine, "org.infinode.image.encode");
  inf_node* decoder = node(engine, "org.infinode.image.decode");
  inf_value* picture = image(test_image(64, 64));
  const Tokens untiled = tokens_of(output_of(encoder, {picture}));

  // A tile as large as the 4x4 latent is the untiled pass.
  ASSERT_EQ(A->node_set_int(encoder, "tile", 4), INF_STATUS_OK);
  EXPECT_EQ(tokens_of(output_of(encoder, {picture})).bits, untiled.bits);
  ASSERT_EQ(A->node_set_int(encoder, "overlap", 4), INF_STATUS_OK);
  std::string message;
  EXPECT_EQ(run(encoder, {picture}, nullptr, &message), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(message.find("overlap 4 must be smaller than tile 4"), std::string::npos) << message;

  // Real tiles on the decoder: the size is the same, the pixels close to the untiled ones.
  inf_value* encoded = tokens(untiled);
  const Image whole = image_of(output_of(decoder, {encoded}));
  ASSERT_EQ(A->node_set_int(decoder, "tile", 2), INF_STATUS_OK);
  ASSERT_EQ(A->node_set_int(decoder, "overlap", 1), INF_STATUS_OK);
  const Image tiled = image_of(output_of(decoder, {encoded}));
  ASSERT_EQ(tiled.width, whole.width);
  ASSERT_EQ(tiled.height, whole.height);
  EXPECT_NE(tiled.rgb, whole.rgb) << "tile 2 of a 4x4 latent should really tile";
}

}  // namespace
