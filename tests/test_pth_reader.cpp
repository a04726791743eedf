// The restricted PyTorch checkpoint reader: every fixture made by tools/make_torch_fixtures.py
// against its hand-written safetensors companion (names, dtypes, shapes, every element walked
// through the strides), the layout details torch produces (views, shared storages, nested
// dicts, metadata), and one clean, specific error per malformed or malicious file.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "weights/pickle_machine.h"
#include "weights/pth_reader.h"
#include "weights/safetensors.h"
#include "weights/weight_store.h"
#include "weights/zip_archive.h"

namespace inf {
namespace {

const std::string kData = INF_TEST_DATA_DIR;

std::map<std::string, const TensorRecord*> by_name(const WeightFileContents& contents) {
  std::map<std::string, const TensorRecord*> records;
  for (const TensorRecord& record : contents.tensors) records[record.name] = &record;
  return records;
}

// The record's elements in row-major order, each as its raw bytes, found by walking the
// strides from byte_offset. Also checks that every element lies inside the validated range.
std::vector<std::string> element_bytes(const TensorRecord& record) {
  const size_t element_size = dtype_size(record.dtype);
  const int64_t count = shape_numel(record.shape);
  std::vector<std::string> elements;
  std::vector<int64_t> index(record.shape.size(), 0);
  for (int64_t n = 0; n < count; ++n) {
    uint64_t offset = record.byte_offset;
    for (size_t axis = 0; axis < index.size(); ++axis) {
      offset += static_cast<uint64_t>(index[axis] * record.strides[axis]) * element_size;
    }
    EXPECT_GE(offset, record.range_begin) << record.name;
    EXPECT_LE(offset + element_size, record.range_end) << record.name;
    EXPECT_LE(record.range_end, record.file->size()) << record.name;
    elements.emplace_back(reinterpret_cast<const char*>(record.file->data()) + offset, element_size);
    for (size_t axis = index.size(); axis-- > 0;) {
      if (++index[axis] < record.shape[axis]) break;
      index[axis] = 0;
    }
  }
  return elements;
}

void expect_matches_companion(const std::string& fixture) {
  SCOPED_TRACE(fixture);
  const WeightFileContents actual = read_pth(kData + "/pth/" + fixture + ".pth");
  const WeightFileContents expected = read_safetensors(kData + "/pth/" + fixture + ".expected.safetensors");
  ASSERT_EQ(actual.tensors.size(), expected.tensors.size());
  for (size_t i = 0; i < actual.tensors.size(); ++i) {
    EXPECT_EQ(actual.tensors[i].name, expected.tensors[i].name) << "tensors keep the checkpoint's order";
  }
  const auto expected_records = by_name(expected);
  for (const TensorRecord& record : actual.tensors) {
    SCOPED_TRACE(record.name);
    const auto found = expected_records.find(record.name);
    ASSERT_NE(found, expected_records.end());
    const TensorRecord& want = *found->second;
    EXPECT_EQ(record.dtype, want.dtype);
    EXPECT_EQ(record.shape, want.shape);
    ASSERT_EQ(record.strides.size(), record.shape.size());
    EXPECT_EQ(element_bytes(record), element_bytes(want));
  }
  EXPECT_EQ(actual.metadata, expected.metadata);
}

TEST(PthReader, PlainStateDictMatchesCompanion) { expect_matches_companion("plain_state_dict"); }
TEST(PthReader, NestedVaeMatchesCompanion) { expect_matches_companion("nested_vae"); }
TEST(PthReader, TrainerNestedMatchesCompanion) { expect_matches_companion("trainer_nested"); }
TEST(PthReader, Protocol4MatchesCompanion) { expect_matches_companion("protocol4_state_dict"); }
TEST(PthReader, Zip64ArchiveMatchesCompanion) { expect_matches_companion("zip64_state_dict"); }

TEST(PthReader, KeepsTorchViewsAsStridedRecords) {
  const WeightFileContents contents = read_pth(kData + "/pth/plain_state_dict.pth");
  const auto records = by_name(contents);
  const TensorRecord& transposed = *records.at("transposed");
  EXPECT_EQ(transposed.shape, (Shape{5, 3}));
  EXPECT_EQ(transposed.strides, (std::vector<int64_t>{1, 5}));

  const TensorRecord& full = *records.at("shared.full");
  const TensorRecord& slice = *records.at("shared.slice");
  const TensorRecord& every_other = *records.at("shared.every_other");
  EXPECT_EQ(slice.range_begin, full.range_begin) << "a slice shares its base's storage";
  EXPECT_EQ(slice.byte_offset, full.byte_offset + 3 * sizeof(float));
  EXPECT_EQ(every_other.strides, (std::vector<int64_t>{2}));
  EXPECT_EQ(every_other.byte_offset, full.byte_offset + sizeof(float));

  EXPECT_TRUE(records.at("scalar")->shape.empty());
  EXPECT_EQ(shape_numel(records.at("empty")->shape), 0);
  EXPECT_EQ(records.at("quantizer.lfq.mask")->dtype, DType::i64);
  EXPECT_EQ(records.at("param")->shape, (Shape{2, 2}));
  EXPECT_TRUE(contents.metadata.empty());
}

TEST(PthReader, FlattensNestedDictsAndKeepsScalarsAsMetadata) {
  const WeightFileContents vae = read_pth(kData + "/pth/nested_vae.pth");
  const auto records = by_name(vae);
  EXPECT_EQ(records.count("vae.encoder.conv_in.weight"), 1u);
  EXPECT_EQ(records.at("vae.decoder.norm_out.weight")->dtype, DType::bf16);
  EXPECT_EQ(records.count("ema.0.weight"), 1u);  // a module state_dict, pickled with BUILD
  EXPECT_EQ(vae.metadata.at("epoch"), "3");
  EXPECT_EQ(vae.metadata.at("note"), "hi");
  EXPECT_EQ(vae.metadata.at("betas"), "(0.9, 0.999)");
  EXPECT_EQ(vae.metadata.at("done"), "True");
  EXPECT_EQ(vae.metadata.at("best"), "None");

  const WeightFileContents trainer = read_pth(kData + "/pth/trainer_nested.pth");
  const auto trainer_records = by_name(trainer);
  EXPECT_EQ(trainer_records.count("trainer.gpt_fsdp.blocks.0.attn.proj.weight"), 1u);
  EXPECT_EQ(trainer_records.count("extra.0"), 1u);
  EXPECT_EQ(trainer_records.count("extra.1"), 1u);
  EXPECT_EQ(trainer_records.count("by_index.0"), 1u);
  EXPECT_EQ(trainer.metadata.at("args_lr"), "0.5");
  EXPECT_EQ(trainer.metadata.at("milestones"), "[1, 2]");
  EXPECT_EQ(trainer.metadata.at("trainer.step"), "1000");
}

TEST(PthReader, WeightStoreServesPthTensors) {
  const WeightStore store = WeightStore::open(kData + "/pth/plain_state_dict.pth");
  const Tensor transposed = store.get("transposed", {5, 3});
  EXPECT_EQ(transposed.strides(), (std::vector<int64_t>{1, 5}));
  EXPECT_EQ(store.get("counts_i32").data_as<int32_t>()[2], 300000);
  EXPECT_EQ(store.get("quantizer.lfq.mask").data_as<int64_t>()[5], 32);
}

// ---- malformed and malicious files ---------------------------------------------------------

void expect_refused(const std::string& file, const std::vector<std::string>& phrases) {
  const std::string path = kData + "/bad/" + file;
  try {
    read_pth(path);
    ADD_FAILURE() << file << " loaded without an error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.rfind(path, 0), 0u) << "message does not start with the path: " << message;
    for (const std::string& phrase : phrases) {
      EXPECT_NE(message.find(phrase), std::string::npos) << "'" << phrase << "' missing from: " << message;
    }
  }
}

TEST(PthReaderBad, OsSystemGlobal) { expect_refused("pth_os_system.pth", {"'posix.system'", "not allowed", "pickle offset"}); }
TEST(PthReaderBad, UnknownReduceCallable) { expect_refused("pth_reduce_unknown_callable.pth", {"'builtins.eval'", "not allowed"}); }
TEST(PthReaderBad, HugeMemoIndex) { expect_refused("pth_huge_memo_index.pth", {"memo index 4294967295", "never stored"}); }
TEST(PthReaderBad, TruncatedPickle) { expect_refused("pth_truncated_pickle.pth", {"truncated", "pickle offset"}); }
TEST(PthReaderBad, TruncatedZip) { expect_refused("pth_truncated_zip.pth", {"truncated"}); }
TEST(PthReaderBad, StorageLargerThanItsMember) { expect_refused("pth_storage_out_of_range.pth", {"storage", "out of range"}); }
TEST(PthReaderBad, ViewPastItsStorage) { expect_refused("pth_view_out_of_range.pth", {"out of range"}); }
TEST(PthReaderBad, ExpandedView) { expect_refused("pth_expanded_view.pth", {"more elements than its storage"}); }
TEST(PthReaderBad, NegativeStride) { expect_refused("pth_negative_stride.pth", {"negative stride"}); }
TEST(PthReaderBad, CompressedEntry) { expect_refused("pth_compressed_entry.pth", {"compressed"}); }
TEST(PthReaderBad, LegacyFormat) { expect_refused("pth_legacy_format.pth", {"legacy", "torch>=1.6"}); }
TEST(PthReaderBad, NotADict) { expect_refused("pth_not_a_dict.pth", {"list, not a dict"}); }
TEST(PthReaderBad, DeepNesting) { expect_refused("pth_deep_nesting.pth", {"deeper than"}); }
TEST(PthReaderBad, DeepMarks) { expect_refused("pth_deep_marks.pth", {"MARKs deeper than"}); }
TEST(PthReaderBad, IntegerOverflow) { expect_refused("pth_long_int_overflow.pth", {"does not fit in 64 bits"}); }
TEST(PthReaderBad, UnsupportedDtype) { expect_refused("pth_double_dtype.pth", {"DoubleStorage", "unsupported dtype"}); }
TEST(PthReaderBad, EmptyFile) { expect_refused("pth_empty.pth", {"empty"}); }

TEST(PthReaderBad, SafetensorsFileIsNotAZip) {
  try {
    read_pth(kData + "/pth/plain_state_dict.expected.safetensors");
    ADD_FAILURE() << "a safetensors file read as a checkpoint";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("no zip signature"), std::string::npos) << error.what();
  }
}

// ---- the pickle machine on hand-written streams ---------------------------------------------

struct NoHooks : pickle::Hooks {
  pickle::Value find_global(pickle::ObjectArena&, std::string_view, std::string_view) override {
    throw Error(ErrorKind::invalid_data, "no globals here");
  }
  pickle::Value reduce(pickle::ObjectArena&, const pickle::Value&, const pickle::Tuple&) override {
    throw Error(ErrorKind::invalid_data, "no calls here");
  }
  pickle::Value persistent_load(pickle::ObjectArena&, const pickle::Value&) override {
    throw Error(ErrorKind::invalid_data, "no persistent ids here");
  }
  void build(const pickle::Value&, const pickle::Value&) override {}
};

pickle::Value run_pickle(const std::string& bytes, pickle::ObjectArena& arena) {
  NoHooks hooks;
  return pickle::run(bytes, "test.pkl", hooks, arena);
}

// A byte string from a literal that may contain NULs.
template <size_t N>
std::string stream(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

TEST(PickleMachine, DecodesScalars) {
  pickle::ObjectArena arena;
  // (LONG1 -2, BININT -70000, BINFLOAT 0.25, BININT2 513, 9-byte LONG1 -1)
  const pickle::Value value = run_pickle(stream("\x80\x02(\x8a\x01\xfeJ\x90\xee\xfe\xffG\x3f\xd0\x00\x00\x00\x00\x00\x00"
                                                "M\x01\x02\x8a\x09\xff\xff\xff\xff\xff\xff\xff\xff\xfft."),
                                         arena);
  const auto& items = std::get<const pickle::Tuple*>(value)->items;
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(std::get<int64_t>(items[0]), -2);
  EXPECT_EQ(std::get<int64_t>(items[1]), -70000);
  EXPECT_EQ(std::get<double>(items[2]), 0.25);
  EXPECT_EQ(std::get<int64_t>(items[3]), 513);
  EXPECT_EQ(std::get<int64_t>(items[4]), -1);
}

TEST(PickleMachine, MemoSharesContainers) {
  pickle::ObjectArena arena;
  // d = {} (memo 0); l = [d, d]; then d['k'] = 1 through the memo: (d, l, d), all one dict.
  const pickle::Value value = run_pickle(stream("\x80\x02}q\x00(h\x00h\x00lh\x00\x8c\x01kK\x01s\x87."), arena);
  const auto& items = std::get<const pickle::Tuple*>(value)->items;
  ASSERT_EQ(items.size(), 3u);
  const pickle::Dict* dict = std::get<pickle::Dict*>(items[0]);
  const auto& list = std::get<pickle::List*>(items[1])->items;
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(std::get<pickle::Dict*>(list[1]), dict);
  EXPECT_EQ(std::get<pickle::Dict*>(items[2]), dict);
  ASSERT_EQ(dict->items().size(), 1u);
  EXPECT_EQ(std::get<int64_t>(dict->items()[0].second), 1);
}

TEST(PickleMachine, RefusesStackUnderflowAndStrayOpcodes) {
  pickle::ObjectArena arena;
  EXPECT_THROW(run_pickle(stream("\x80\x02a."), arena), Error);                  // APPEND on nothing
  EXPECT_THROW(run_pickle(stream("\x80\x02(t(."), arena), Error);                // STOP inside MARK
  EXPECT_THROW(run_pickle(stream("\x80\x02X\xff\xff\xff\x7f"), arena), Error);  // length past the end
  EXPECT_THROW(run_pickle(stream("\x80\x02}"), arena), Error);                   // no STOP
  try {
    run_pickle(stream("\x80\x02N\x81."), arena);  // NEWOBJ
    ADD_FAILURE() << "NEWOBJ accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("test.pkl: pickle opcode 0x81 is not allowed"), std::string::npos)
        << error.what();
    EXPECT_NE(std::string(error.what()).find("at pickle offset 3"), std::string::npos) << error.what();
  }
}

TEST(ZipArchive, RefusesGarbageWithoutReadingOutOfBounds) {
  const std::string garbage = "PK\x03\x04 this is not really a zip archive";
  EXPECT_THROW(ZipArchive::parse(reinterpret_cast<const uint8_t*>(garbage.data()), garbage.size(), "x.zip"), Error);
  // An end-of-central-directory record whose directory lies past the end of the file.
  std::string forged(22, '\0');
  std::memcpy(&forged[0], "PK\x05\x06", 4);
  forged[10] = 1;                                 // one entry
  forged[12] = 46;                                // directory of 46 bytes
  forged[16] = static_cast<char>(0xf0);           // at offset 0xf0
  try {
    ZipArchive::parse(reinterpret_cast<const uint8_t*>(forged.data()), forged.size(), "x.zip");
    ADD_FAILURE() << "forged directory accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("central directory"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace inf
