// The safetensors reader and writer: values of a hand-written file, a write/read round trip,
// and one clean error per malformed file in tests/data/bad (made by
// tools/make_safetensors_fixtures.py).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "common/error.h"
#include "weights/safetensors.h"
#include "weights/weight_store.h"

namespace inf {
namespace {

const std::string kData = INF_TEST_DATA_DIR;

TEST(Safetensors, ReadsEveryDtypeWithValues) {
  const WeightStore store = WeightStore::open(kData + "/st/small.safetensors");
  EXPECT_EQ(store.size(), 9u);
  EXPECT_EQ(store.names().front(), "linear.weight");  // file order, not alphabetical
  EXPECT_EQ(store.metadata().at("kind"), "test");

  const Tensor weight = store.get("linear.weight", {2, 3});
  EXPECT_EQ(weight.data_as<float>()[5], 6.0f);
  EXPECT_TRUE(weight.buffer()->read_only());  // a view of the mapping, not a copy
  EXPECT_EQ(bf16_to_f32(static_cast<const uint16_t*>(store.get("embed.bf16").data())[1]), -2.0f);
  EXPECT_EQ(f16_to_f32(static_cast<const uint16_t*>(store.get("embed.f16").data())[1]), 3.0f);
  EXPECT_EQ(store.get("mask.i64").data_as<int64_t>()[2], int64_t{1} << 40);
  EXPECT_EQ(store.get("lens.i32").data_as<int32_t>()[1], 11);
  EXPECT_EQ(store.get("bits.u8").data_as<uint8_t>()[1], 1);
  EXPECT_EQ(store.get("scalar").ndim(), 0);
  EXPECT_EQ(store.get("empty").numel(), 0);
}

TEST(Safetensors, GetAsConvertsFloats) {
  const WeightStore store = WeightStore::open(kData + "/st/small.safetensors");
  const Tensor as_f32 = store.get_as("embed.bf16", DType::f32);
  EXPECT_EQ(as_f32.data_as<float>()[0], 1.0f);
  EXPECT_EQ(as_f32.data_as<float>()[1], -2.0f);
  const Tensor as_bf16 = store.get_as("linear.weight", DType::bf16);
  EXPECT_EQ(bf16_to_f32(static_cast<const uint16_t*>(as_bf16.data())[4]), 5.0f);
  EXPECT_THROW(store.get_as("mask.i64", DType::f32), Error);
}

TEST(Safetensors, ErrorsNameMissingAndMisShapedTensors) {
  const WeightStore store = WeightStore::open(kData + "/st/small.safetensors");
  try {
    store.get("blocks.3.attn.weight");
    FAIL() << "missing tensor did not throw";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("missing tensor 'blocks.3.attn.weight'"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("small.safetensors"), std::string::npos);
  }
  try {
    store.get("linear.weight", {3, 2});
    FAIL() << "mis-shaped tensor did not throw";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("has shape [2, 3], expected [3, 2]"), std::string::npos);
  }
}

TEST(Safetensors, WriteReadRoundTripConvertsAndPacksViews) {
  Tensor source = Tensor::host(DType::f32, {3, 4});
  for (int i = 0; i < 12; ++i) source.data_as<float>()[i] = static_cast<float>(i) * 0.5f - 2.0f;
  Tensor ids = Tensor::host(DType::i64, {2});
  ids.data_as<int64_t>()[0] = -7;
  ids.data_as<int64_t>()[1] = 1ll << 50;
  const std::string path = testing::TempDir() + "/roundtrip.safetensors";
  write_safetensors(path,
                    {{"plain", source, DType::f32},
                     {"transposed", source.transpose(0, 1), DType::f32},
                     {"half", source, DType::bf16},
                     {"ids", ids, DType::i64}},
                    {{"origin", "test"}});
  const WeightStore store = WeightStore::open(path);
  EXPECT_EQ(store.metadata().at("origin"), "test");
  const Tensor transposed = store.get("transposed", {4, 3});
  EXPECT_EQ(transposed.data_as<float>()[1], source.data_as<float>()[4]);  // [0][1] of the transpose = [1][0]
  const Tensor half = store.get_as("half", DType::f32);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(half.data_as<float>()[i], source.data_as<float>()[i]);  // exact in bf16
  EXPECT_EQ(store.get("ids").data_as<int64_t>()[1], 1ll << 50);
  std::remove(path.c_str());
}

TEST(Safetensors, WriterRefusesIntegerToFloatAndLeavesNoFile) {
  Tensor ids = Tensor::host(DType::i32, {2});
  const std::string path = testing::TempDir() + "/refused.safetensors";
  EXPECT_THROW(write_safetensors(path, {{"ids", ids, DType::f32}}, {}), Error);
  EXPECT_EQ(std::fopen(path.c_str(), "rb"), nullptr);
}

TEST(Safetensors, WriterFailsCleanlyOnUnwritableDirectory) {
  Tensor t = Tensor::host(DType::f32, {1});
  EXPECT_THROW(write_safetensors("/nonexistent-dir/x.safetensors", {{"t", t, DType::f32}}, {}), Error);
}

struct BadFile {
  const char* file;
  const char* phrase;  // what the one-line error must say
};

class MalformedSafetensors : public testing::TestWithParam<BadFile> {};

TEST_P(MalformedSafetensors, FailsWithOneClearError) {
  const std::string path = kData + "/bad/" + GetParam().file + ".safetensors";
  try {
    WeightStore::open(path);
    FAIL() << path << " was accepted";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_EQ(error.kind(), ErrorKind::invalid_data) << message;
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(GetParam().phrase), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

INSTANTIATE_TEST_SUITE_P(
    BadFiles, MalformedSafetensors,
    testing::Values(BadFile{"st_empty", "truncated"}, BadFile{"st_short_length", "truncated"},
                    BadFile{"st_header_past_eof", "runs past the end"}, BadFile{"st_absurd_header", "absurd"},
                    BadFile{"st_invalid_json", "not valid JSON"}, BadFile{"st_json_not_object", "not an object"},
                    BadFile{"st_unknown_dtype", "unsupported dtype \"Q4\""},
                    BadFile{"st_offsets_out_of_range", "out of range"}, BadFile{"st_offsets_reversed", "out of range"},
                    BadFile{"st_size_mismatch", "needs 24 bytes"}, BadFile{"st_overlap", "overlap"},
                    BadFile{"st_negative_dim", "negative"}, BadFile{"st_shape_overflow", "overflows"},
                    BadFile{"st_deep_nesting", "nested deeper"}, BadFile{"st_metadata_not_string", "not a string"},
                    BadFile{"st_missing_offsets", "data_offsets"}, BadFile{"st_truncated_data", "out of range"},
                    BadFile{"st_entry_not_object", "not an object"}),
    [](const testing::TestParamInfo<BadFile>& param_info) { return std::string(param_info.param.file); });

}  // namespace
}  // namespace inf
