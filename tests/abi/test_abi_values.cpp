// Values across the boundary: text and its UTF-8 checks, token ids, embeddings, bit tokens and
// host-allocated strided images, including every way a descriptor can be wrong.
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "abi_fixture.h"

namespace abi_test {
namespace {

using AbiValues = AbiTest;

TEST_F(AbiValues, TextRoundTripsAndMustBeValidUtf8) {
  inf_value* value = make_text("h\xC3\xA9llo \xF0\x9F\xA6\x8A");  // "héllo 🦊"
  const char* text = nullptr;
  size_t length = 0;
  ASSERT_EQ(A->value_get_text(value, &text, &length), INF_STATUS_OK);
  EXPECT_STREQ(text, "h\xC3\xA9llo \xF0\x9F\xA6\x8A");
  EXPECT_EQ(length, 11u);
  inf_value_type type = INF_TYPE_NONE;
  ASSERT_EQ(A->value_type(value, &type), INF_STATUS_OK);
  EXPECT_EQ(type, INF_TYPE_TEXT);
  EXPECT_EQ(A->value_release(value), INF_STATUS_OK);

  const char* const bad[] = {
      "\xC0\xAF",          // overlong '/'
      "\xE0\x80\xAF",      // overlong, 3 bytes
      "\xED\xA0\x80",      // UTF-16 surrogate
      "\xF4\x90\x80\x80",  // past U+10FFFF
      "abc\xE2\x82",       // truncated at the end
      "\x80 stray",        // continuation byte first
      "\xFF",
  };
  for (const char* text_bytes : bad) {
    value = reinterpret_cast<inf_value*>(0x1);
    EXPECT_EQ(A->value_create_text(text_bytes, INF_TEXT_NUL_TERMINATED, &value), INF_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(value, nullptr);
    EXPECT_NE(std::string(A->last_error()).find("UTF-8"), std::string::npos) << A->last_error();
  }
  EXPECT_EQ(A->value_create_text("a\0b", 3, &value), INF_STATUS_INVALID_ARGUMENT) << "embedded NUL";
  const std::string huge(INF_TEXT_MAX_BYTES + 1, 'a');
  EXPECT_EQ(A->value_create_text(huge.c_str(), huge.size(), &value), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(A->value_create_text(huge.c_str(), INF_TEXT_NUL_TERMINATED, &value), INF_STATUS_INVALID_ARGUMENT);
  ASSERT_EQ(A->value_create_text("", 0, &value), INF_STATUS_OK) << "the empty prompt is a prompt";
  EXPECT_EQ(A->value_release(value), INF_STATUS_OK);
  ASSERT_EQ(A->value_create_text("abcdef", 3, &value), INF_STATUS_OK) << "an explicit length stops early";
  ASSERT_EQ(A->value_get_text(value, &text, nullptr), INF_STATUS_OK);
  EXPECT_STREQ(text, "abc");
  EXPECT_EQ(A->value_release(value), INF_STATUS_OK);
}

TEST_F(AbiValues, WrongValueTypesAreTypeMismatches) {
  inf_value* text = make_text("a prompt");
  inf_value* tokens = make_tokens(2);
  inf_bit_tokens_desc desc = INF_BIT_TOKENS_DESC_INIT;
  EXPECT_EQ(A->value_get_bit_tokens(text, &desc), INF_STATUS_TYPE_MISMATCH);
  EXPECT_NE(std::string(A->value_last_error(text)).find("holds TEXT, not BIT_TOKENS"), std::string::npos);
  const char* bytes = nullptr;
  EXPECT_EQ(A->value_get_text(tokens, &bytes, nullptr), INF_STATUS_TYPE_MISMATCH);
  inf_image_desc info = INF_IMAGE_DESC_INIT;
  EXPECT_EQ(A->value_get_image_info(text, &info), INF_STATUS_TYPE_MISMATCH);
  const int32_t* ids = nullptr;
  size_t count = 0;
  EXPECT_EQ(A->value_get_token_ids(text, &ids, &count), INF_STATUS_TYPE_MISMATCH);
  EXPECT_EQ(A->value_save_bit_tokens(text, "/tmp/never.safetensors"), INF_STATUS_TYPE_MISMATCH);

  inf_node* truncate = make_node("org.infinode.tokens.truncate");
  inf_job* job = nullptr;
  EXPECT_EQ(A->node_run_async(truncate, &text, 1, nullptr, &job), INF_STATUS_TYPE_MISMATCH);
  EXPECT_NE(std::string(A->node_last_error(truncate)).find("input 'tokens' holds TEXT"), std::string::npos)
      << A->node_last_error(truncate);
  EXPECT_EQ(job, nullptr);
  EXPECT_EQ(A->node_release(truncate), INF_STATUS_OK);
  EXPECT_EQ(A->value_release(text), INF_STATUS_OK);
  EXPECT_EQ(A->value_release(tokens), INF_STATUS_OK);
}

TEST_F(AbiValues, TokenIdsAndEmbeddings) {
  const int32_t ids[] = {71, 1465, 1};
  inf_value* value = nullptr;
  ASSERT_EQ(A->value_create_token_ids(ids, 3, &value), INF_STATUS_OK);
  const int32_t* back = nullptr;
  size_t count = 0;
  ASSERT_EQ(A->value_get_token_ids(value, &back, &count), INF_STATUS_OK);
  ASSERT_EQ(count, 3u);
  EXPECT_EQ(back[1], 1465);
  EXPECT_EQ(A->value_release(value), INF_STATUS_OK);
  const int32_t negative[] = {5, -1};
  EXPECT_EQ(A->value_create_token_ids(negative, 2, &value), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(A->value_create_token_ids(ids, 0, &value), INF_STATUS_INVALID_ARGUMENT);

  const float features[] = {0.5f, -1.0f, 2.0f, 0.0f, 1.5f, 3.0f};
  inf_text_embedding_desc desc = INF_TEXT_EMBEDDING_DESC_INIT;
  desc.tokens = 2;
  desc.channels = 3;
  desc.data = features;
  ASSERT_EQ(A->value_create_text_embedding(&desc, &value), INF_STATUS_OK);
  inf_text_embedding_desc out = INF_TEXT_EMBEDDING_DESC_INIT;
  ASSERT_EQ(A->value_get_text_embedding(value, &out), INF_STATUS_OK);
  EXPECT_EQ(out.tokens, 2u);
  EXPECT_EQ(out.channels, 3u);
  EXPECT_NE(out.data, features) << "the value holds a copy";
  EXPECT_EQ(out.data[5], 3.0f);
  EXPECT_EQ(A->value_release(value), INF_STATUS_OK);
  const float with_nan[] = {0.0f, std::numeric_limits<float>::quiet_NaN()};
  desc.tokens = 1;
  desc.channels = 2;
  desc.data = with_nan;
  EXPECT_EQ(A->value_create_text_embedding(&desc, &value), INF_STATUS_INVALID_ARGUMENT);
  desc.tokens = 0;
  EXPECT_EQ(A->value_create_text_embedding(&desc, &value), INF_STATUS_INVALID_ARGUMENT);

  // A batch of prompts: 3 tokens = prompts of 1 and 2 tokens.
  const float batch[] = {1, 2, 3, 4, 5, 6};
  const uint32_t lengths[] = {1, 2};
  desc = INF_TEXT_EMBEDDING_DESC_INIT;
  desc.tokens = 3;
  desc.channels = 2;
  desc.data = batch;
  desc.prompts = 2;
  desc.prompt_tokens = lengths;
  ASSERT_EQ(A->value_create_text_embedding(&desc, &value), INF_STATUS_OK);
  out = INF_TEXT_EMBEDDING_DESC_INIT;
  ASSERT_EQ(A->value_get_text_embedding(value, &out), INF_STATUS_OK);
  ASSERT_EQ(out.prompts, 2u);
  EXPECT_EQ(out.prompt_tokens[0], 1u);
  EXPECT_EQ(out.prompt_tokens[1], 2u);
  EXPECT_EQ(A->value_release(value), INF_STATUS_OK);
  const uint32_t wrong_sum[] = {1, 1};
  desc.prompt_tokens = wrong_sum;
  EXPECT_EQ(A->value_create_text_embedding(&desc, &value), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(A->last_error()).find("sum to 2"), std::string::npos) << A->last_error();
  const uint32_t empty_prompt[] = {0, 3};
  desc.prompt_tokens = empty_prompt;
  EXPECT_EQ(A->value_create_text_embedding(&desc, &value), INF_STATUS_INVALID_ARGUMENT);
  desc.prompt_tokens = nullptr;
  EXPECT_EQ(A->value_create_text_embedding(&desc, &value), INF_STATUS_INVALID_ARGUMENT);
  desc.prompts = 4;  // more prompts than tokens
  desc.prompt_tokens = lengths;
  EXPECT_EQ(A->value_create_text_embedding(&desc, &value), INF_STATUS_INVALID_ARGUMENT);
  // A single prompt reads back as one prompt of every token.
  desc.prompts = 0;
  ASSERT_EQ(A->value_create_text_embedding(&desc, &value), INF_STATUS_OK);
  ASSERT_EQ(A->value_get_text_embedding(value, &out), INF_STATUS_OK);
  ASSERT_EQ(out.prompts, 1u);
  EXPECT_EQ(out.prompt_tokens[0], 3u);
  EXPECT_EQ(A->value_release(value), INF_STATUS_OK);
}

TEST_F(AbiValues, BitTokensRoundTripThroughDescriptorsAndFiles) {
  inf_value* tokens = make_tokens(4, 2, 3);
  inf_bit_tokens_desc desc = INF_BIT_TOKENS_DESC_INIT;
  ASSERT_EQ(A->value_get_bit_tokens(tokens, &desc), INF_STATUS_OK);
  EXPECT_EQ(desc.images, 2u);
  EXPECT_EQ(desc.bits_per_token, 3u);
  EXPECT_EQ(desc.spatial_patch, 1u);
  EXPECT_EQ(desc.schedule_scales, 4u);
  EXPECT_EQ(desc.stored_scales, 4u);
  EXPECT_EQ(desc.grids[3].height, 4u);
  EXPECT_EQ(desc.rope_grid.width, 4u);
  EXPECT_STREQ(desc.tokenizer, "test-vae");
  const auto expected = token_bits(4, 2, 3);
  for (uint32_t k = 0; k < 4; ++k)
    EXPECT_EQ(std::memcmp(desc.bits[k], expected[k].data(), expected[k].size()), 0) << "scale " << k;

  const std::string path = ::testing::TempDir() + "abi_tokens.safetensors";
  ASSERT_EQ(A->value_save_bit_tokens(tokens, path.c_str()), INF_STATUS_OK) << A->value_last_error(tokens);
  inf_value* loaded = nullptr;
  ASSERT_EQ(A->value_load_bit_tokens(path.c_str(), &loaded), INF_STATUS_OK) << A->last_error();
  inf_bit_tokens_desc reloaded = INF_BIT_TOKENS_DESC_INIT;
  ASSERT_EQ(A->value_get_bit_tokens(loaded, &reloaded), INF_STATUS_OK);
  EXPECT_EQ(reloaded.stored_scales, 4u);
  EXPECT_EQ(std::memcmp(reloaded.bits[3], expected[3].data(), expected[3].size()), 0);
  std::remove(path.c_str());
  inf_value* missing = nullptr;
  EXPECT_EQ(A->value_load_bit_tokens(path.c_str(), &missing), INF_STATUS_IO) << A->last_error();
  EXPECT_EQ(missing, nullptr);

  // Broken descriptors, each refused with a message and no value.
  const auto refuse = [&](inf_bit_tokens_desc broken, const char* why) {
    inf_value* value = reinterpret_cast<inf_value*>(0x1);
    EXPECT_EQ(A->value_create_bit_tokens(&broken, &value), INF_STATUS_INVALID_ARGUMENT) << why;
    EXPECT_EQ(value, nullptr) << why;
  };
  inf_bit_tokens_desc broken = desc;
  broken.stored_scales = 5;
  refuse(broken, "more stored scales than the schedule");
  broken = desc;
  broken.stored_scales = 0;
  refuse(broken, "no stored scales");
  const inf_grid not_starting_at_one[] = {{2, 2}, {3, 3}, {4, 4}, {4, 4}};
  broken = desc;
  broken.grids = not_starting_at_one;
  refuse(broken, "first grid not 1x1");
  broken = desc;
  broken.rope_grid = {2, 2};
  refuse(broken, "grids larger than the rope grid");
  std::vector<const uint8_t*> with_null(desc.bits, desc.bits + 4);
  with_null[2] = nullptr;
  broken = desc;
  broken.bits = with_null.data();
  refuse(broken, "a NULL scale");
  std::vector<uint8_t> twos(expected[1].size(), 2);
  std::vector<const uint8_t*> with_twos(desc.bits, desc.bits + 4);
  with_twos[1] = twos.data();
  broken = desc;
  broken.bits = with_twos.data();
  refuse(broken, "bits that are not 0 or 1");
  broken = desc;
  broken.images = 0;
  refuse(broken, "no images");
  broken = desc;
  broken.grids = nullptr;
  refuse(broken, "no grids");
  EXPECT_EQ(A->value_release(loaded), INF_STATUS_OK);
  EXPECT_EQ(A->value_release(tokens), INF_STATUS_OK);
}

using AbiImages = AbiTest;

inf_image_desc rgba8(uint32_t width, uint32_t height, void* data) {
  inf_image_desc desc = INF_IMAGE_DESC_INIT;
  desc.width = width;
  desc.height = height;
  desc.pixel_stride = 4;
  desc.row_stride = 4 * static_cast<int64_t>(width);
  desc.data = data;
  return desc;
}

TEST_F(AbiImages, BadDescriptorsAreRefused) {
  std::vector<uint8_t> pixels(64 * 64 * 4, 7);
  const auto refuse = [&](inf_image_desc desc, const char* why) {
    inf_value* value = reinterpret_cast<inf_value*>(0x1);
    EXPECT_EQ(A->value_create_image(&desc, &value), INF_STATUS_INVALID_ARGUMENT) << why;
    EXPECT_EQ(value, nullptr) << why;
    EXPECT_STRNE(A->last_error(), "") << why;
  };
  const inf_image_desc good = rgba8(8, 8, pixels.data());
  inf_image_desc desc = good;
  desc.width = 0;
  refuse(desc, "zero width");
  desc = good;
  desc.height = 0;
  refuse(desc, "zero height");
  desc = good;
  desc.width = INF_IMAGE_MAX_SIDE + 1;
  refuse(desc, "too wide");
  desc = good;
  desc.height = UINT32_MAX;
  refuse(desc, "absurdly tall");
  desc = good;
  desc.data = nullptr;
  refuse(desc, "NULL data");
  desc = good;
  desc.pixel_stride = 3;
  refuse(desc, "pixel stride smaller than a pixel");
  desc = good;
  desc.pixel_stride = -4;
  refuse(desc, "negative pixel stride");
  desc = good;
  desc.row_stride = 31;
  refuse(desc, "row stride smaller than a row");
  desc = good;
  desc.row_stride = 0;
  refuse(desc, "zero row stride");
  desc = good;
  desc.row_stride = INT64_MIN;
  refuse(desc, "INT64_MIN row stride");
  desc = good;
  desc.row_stride = INT64_MAX;
  refuse(desc, "INT64_MAX row stride");
  desc = good;
  desc.pixel_stride = INT64_MAX;
  refuse(desc, "INT64_MAX pixel stride");
  desc = good;
  desc.data = reinterpret_cast<void*>(uintptr_t{64});
  desc.row_stride = -32;
  refuse(desc, "a bottom-up buffer that would start below address 0");
  desc = good;
  desc.scalar = static_cast<inf_scalar_type>(9);
  refuse(desc, "unknown scalar");
  desc = good;
  desc.channels = static_cast<inf_channel_layout>(2);
  refuse(desc, "two channels");
  desc = good;
  desc.transfer = static_cast<inf_transfer>(0);
  refuse(desc, "no transfer");
  desc = good;
  desc.alpha = static_cast<inf_alpha_mode>(5);
  refuse(desc, "unknown alpha mode");
  desc = good;
  desc.reserved = 1;
  refuse(desc, "reserved set");
  desc = good;
  desc.struct_size = 12;
  refuse(desc, "struct_size too small");
  desc = good;
  desc.channels = INF_CHANNELS_RGB;
  inf_value* mask = nullptr;
  EXPECT_EQ(A->value_create_mask(&desc, &mask), INF_STATUS_INVALID_ARGUMENT) << "an RGB mask";
}

TEST_F(AbiImages, StridedRoundTripWithLayoutAndScalarConversion) {
  // 3x2 RGBA u8 with padded rows (row stride 16 > 12).
  std::vector<uint8_t> source(16 * 2, 0xEE);
  for (uint32_t y = 0; y < 2; ++y)
    for (uint32_t x = 0; x < 3; ++x)
      for (uint32_t c = 0; c < 4; ++c) source[y * 16 + x * 4 + c] = static_cast<uint8_t>(10 * (y * 3 + x) + c);
  inf_image_desc desc = rgba8(3, 2, source.data());
  desc.row_stride = 16;
  inf_value* image = nullptr;
  ASSERT_EQ(A->value_create_image(&desc, &image), INF_STATUS_OK) << A->last_error();
  inf_image_desc info = INF_IMAGE_DESC_INIT;
  ASSERT_EQ(A->value_get_image_info(image, &info), INF_STATUS_OK);
  EXPECT_EQ(info.width, 3u);
  EXPECT_EQ(info.height, 2u);
  EXPECT_EQ(info.channels, INF_CHANNELS_RGBA);
  EXPECT_EQ(info.scalar, INF_SCALAR_F32);
  EXPECT_EQ(info.data, nullptr);

  // Back out as bottom-up f32 RGB: data points at the top row, which is the last in memory.
  std::vector<float> rgb(3 * 2 * 3, -1.0f);
  inf_image_desc out = INF_IMAGE_DESC_INIT;
  out.width = 3;
  out.height = 2;
  out.scalar = INF_SCALAR_F32;
  out.channels = INF_CHANNELS_RGB;
  out.pixel_stride = 12;
  out.row_stride = -36;
  out.data = rgb.data() + 9;
  ASSERT_EQ(A->value_read_image(image, &out), INF_STATUS_OK) << A->value_last_error(image);
  EXPECT_FLOAT_EQ(rgb[9 + 0], 0.0f / 255.0f) << "top-left R";
  EXPECT_FLOAT_EQ(rgb[9 + 4], 11.0f / 255.0f) << "top row, x = 1, G";
  EXPECT_FLOAT_EQ(rgb[0 + 2 * 3 + 2], 52.0f / 255.0f) << "bottom row (first in memory), x = 2, B";

  // And back to u8 RGBA with padding: exact.
  std::vector<uint8_t> again(16 * 2, 0xEE);
  inf_image_desc back = rgba8(3, 2, again.data());
  back.row_stride = 16;
  ASSERT_EQ(A->value_read_image(image, &back), INF_STATUS_OK);
  for (uint32_t y = 0; y < 2; ++y)
    for (uint32_t i = 0; i < 12; ++i) EXPECT_EQ(again[y * 16 + i], source[y * 16 + i]);
  EXPECT_EQ(again[12], 0xEE) << "padding untouched";

  inf_image_desc wrong_size = rgba8(4, 2, again.data());
  EXPECT_EQ(A->value_read_image(image, &wrong_size), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(A->value_release(image), INF_STATUS_OK);
}

TEST_F(AbiImages, TransferAlphaAndHalfFloatConversions) {
  // One sRGB-encoded pixel at 0.5 with alpha 0.5, premultiplied on the way in.
  const float premultiplied[] = {0.25f, 0.25f, 0.25f, 0.5f};
  inf_image_desc desc = INF_IMAGE_DESC_INIT;
  desc.width = 1;
  desc.height = 1;
  desc.scalar = INF_SCALAR_F32;
  desc.alpha = INF_ALPHA_PREMULTIPLIED;
  desc.pixel_stride = 16;
  desc.row_stride = 16;
  desc.data = const_cast<float*>(premultiplied);
  inf_value* image = nullptr;
  ASSERT_EQ(A->value_create_image(&desc, &image), INF_STATUS_OK);

  float straight_linear[4] = {};
  inf_image_desc out = desc;
  out.alpha = INF_ALPHA_STRAIGHT;
  out.transfer = INF_TRANSFER_LINEAR;
  out.data = straight_linear;
  ASSERT_EQ(A->value_read_image(image, &out), INF_STATUS_OK);
  EXPECT_NEAR(straight_linear[0], 0.21404f, 1e-4f) << "sRGB 0.5 in linear light";
  EXPECT_FLOAT_EQ(straight_linear[3], 0.5f);

  float premultiplied_again[4] = {};
  out = desc;
  out.data = premultiplied_again;
  ASSERT_EQ(A->value_read_image(image, &out), INF_STATUS_OK);
  for (int c = 0; c < 4; ++c) EXPECT_FLOAT_EQ(premultiplied_again[c], premultiplied[c]);

  uint16_t half[4] = {};
  out = desc;
  out.scalar = INF_SCALAR_F16;
  out.alpha = INF_ALPHA_STRAIGHT;
  out.pixel_stride = 8;
  out.row_stride = 8;
  out.data = half;
  ASSERT_EQ(A->value_read_image(image, &out), INF_STATUS_OK);
  EXPECT_EQ(half[0], 0x3800) << "0.5 as IEEE half";
  inf_value* from_half = nullptr;
  ASSERT_EQ(A->value_create_image(&out, &from_half), INF_STATUS_OK);
  uint16_t wide[4] = {};
  out.scalar = INF_SCALAR_U16;
  out.data = wide;
  ASSERT_EQ(A->value_read_image(from_half, &out), INF_STATUS_OK);
  EXPECT_EQ(wide[0], 32768) << "round(0.5 * 65535)";
  EXPECT_EQ(A->value_release(from_half), INF_STATUS_OK);
  EXPECT_EQ(A->value_release(image), INF_STATUS_OK);
}

TEST_F(AbiImages, MasksComeFromGrayOrAlpha) {
  uint8_t rgba[2 * 4] = {0, 0, 0, 255, 9, 9, 9, 0};
  inf_image_desc desc = rgba8(2, 1, rgba);
  inf_value* mask = nullptr;
  ASSERT_EQ(A->value_create_mask(&desc, &mask), INF_STATUS_OK);
  inf_value_type type = INF_TYPE_NONE;
  ASSERT_EQ(A->value_type(mask, &type), INF_STATUS_OK);
  EXPECT_EQ(type, INF_TYPE_MASK);
  uint8_t gray[2] = {7, 7};
  inf_image_desc out = INF_IMAGE_DESC_INIT;
  out.width = 2;
  out.height = 1;
  out.channels = INF_CHANNELS_GRAY;
  out.pixel_stride = 1;
  out.row_stride = 2;
  out.data = gray;
  ASSERT_EQ(A->value_read_image(mask, &out), INF_STATUS_OK);
  EXPECT_EQ(gray[0], 255);
  EXPECT_EQ(gray[1], 0);
  inf_image_desc info = INF_IMAGE_DESC_INIT;
  ASSERT_EQ(A->value_get_image_info(mask, &info), INF_STATUS_OK);
  EXPECT_EQ(info.channels, INF_CHANNELS_GRAY);
  EXPECT_EQ(A->value_release(mask), INF_STATUS_OK);
}

}  // namespace
}  // namespace abi_test
