// Model manifests: model.json in a directory, inline JSON on top, random pipelines, defaults,
// and the errors a typo or a broken file must give (naming the manifest and the key).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/error.h"
#include "model/model_manifest.h"

namespace inf {
namespace {

namespace fs = std::filesystem;

class ModelDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("infinode_manifest_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string dir() const { return dir_.string(); }

 private:
  fs::path dir_;
};

void expect_invalid(const std::string& model_dir, const std::string& json, const std::vector<std::string>& parts) {
  try {
    ModelManifest::resolve(model_dir, json);
    ADD_FAILURE() << "accepted: " << json;
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::invalid_data) << error.what();
    for (const std::string& part : parts)
      EXPECT_NE(std::string(error.what()).find(part), std::string::npos) << "'" << part << "' not in: " << error.what();
  }
}

TEST_F(ModelDir, ManifestFilesAreRelativeToItsDirectory) {
  write("model.json", R"({"format": "infinode.model", "version": 1, "name": "m",
    "transformer": "t.safetensors", "vae": {"path": "sub/v.safetensors", "select": "vae"}, "t5": "/abs/t5.safetensors",
    "spiece": "spiece.model", "defaults": {"resolution": "0.25M", "cfg": 4, "tau": 0.5, "top_k": 1, "top_p": 0.9,
    "schedule": {"grids": [[1, 1], [2, 2], [4, 4]], "rope_grid": [4, 4]}}})");
  const ModelManifest manifest = ModelManifest::resolve(dir(), "");
  EXPECT_EQ(manifest.name, "m");
  EXPECT_EQ(manifest.transformer.path, path("t.safetensors"));
  EXPECT_EQ(manifest.vae.path, path("sub/v.safetensors"));
  EXPECT_EQ(manifest.vae.select, "vae");
  EXPECT_EQ(manifest.t5.path, "/abs/t5.safetensors");
  EXPECT_EQ(manifest.spiece.path, path("spiece.model"));
  EXPECT_EQ(manifest.defaults.resolution, "0.25M");
  EXPECT_DOUBLE_EQ(manifest.defaults.cfg.value(), 4.0);
  EXPECT_DOUBLE_EQ(manifest.defaults.tau.value(), 0.5);
  EXPECT_EQ(manifest.defaults.top_k.value(), 1);
  EXPECT_DOUBLE_EQ(manifest.defaults.top_p.value(), 0.9);
  ASSERT_TRUE(manifest.defaults.schedule.has_value());
  EXPECT_EQ(manifest.defaults.schedule->num_scales(), 3);
  EXPECT_EQ(manifest.defaults.schedule->final_grid(), (ScaleGrid{4, 4}));
  EXPECT_NE(manifest.origin.find("model.json"), std::string::npos);
}

TEST_F(ModelDir, WithoutAManifestFilesAreFoundByName) {
  write("transformer.safetensors.index.json", "{}");
  write("vae.safetensors", "");
  write("spiece.model", "");
  const ModelManifest manifest = ModelManifest::resolve(dir(), "");
  EXPECT_EQ(manifest.transformer.path, path("transformer.safetensors.index.json"));
  EXPECT_EQ(manifest.vae.path, path("vae.safetensors"));
  EXPECT_TRUE(manifest.t5.empty());
  EXPECT_EQ(manifest.spiece.path, path("spiece.model"));
}

TEST_F(ModelDir, InlineJsonOverridesPartByPart) {
  write("model.json", R"({"transformer": "t.safetensors", "vae": "v.safetensors"})");
  const ModelManifest manifest = ModelManifest::resolve(dir(), R"({"vae": "other.safetensors"})");
  EXPECT_EQ(manifest.transformer.path, path("t.safetensors"));
  EXPECT_EQ(manifest.vae.path, path("other.safetensors"));  // relative to the model directory
  EXPECT_NE(manifest.origin.find("inline"), std::string::npos);
}

TEST(ModelManifest, RandomPipelineFillsEveryPartNotNamed) {
  const ModelManifest manifest = ModelManifest::resolve("", R"({"random": "tiny", "seed": 7, "vae": "my.safetensors"})");
  EXPECT_EQ(manifest.transformer.random_config, "tiny");
  EXPECT_EQ(manifest.transformer.seed, 7u);
  EXPECT_EQ(manifest.t5.random_config, "tiny-c512");
  EXPECT_EQ(manifest.spiece.builtin, "bytes");
  EXPECT_EQ(manifest.defaults.resolution, "0.06M");
  EXPECT_EQ(manifest.vae.path, (fs::current_path() / "my.safetensors").string());
  EXPECT_EQ(manifest.transformer.describe(), "random tiny (seed 7)");
  const ModelManifest big = ModelManifest::resolve("", R"({"random": "8B"})");
  EXPECT_EQ(big.vae.random_config, "8B");
  EXPECT_EQ(big.t5.random_config, "flan-t5-xl");
  EXPECT_EQ(random_pipeline_names().front(), "tiny");
}

TEST(ModelManifest, NothingGivenIsAnEmptyManifest) {
  const ModelManifest manifest = ModelManifest::resolve("", "");
  EXPECT_TRUE(manifest.transformer.empty() && manifest.vae.empty() && manifest.t5.empty() && manifest.spiece.empty());
}

TEST(ModelManifest, MistakesNameTheKey) {
  expect_invalid("", "{\"transfomer\": \"t\"}", {"(inline JSON)", "\"transfomer\"", "not a manifest key"});
  expect_invalid("", "[1, 2]", {"JSON object"});
  expect_invalid("", "{\"vae\": ", {"not valid JSON"});
  expect_invalid("", "{\"format\": \"other\"}", {"\"format\"", "infinode.model"});
  expect_invalid("", "{\"version\": 2}", {"\"version\""});
  expect_invalid("", "{\"random\": \"huge\"}", {"\"random\"", "tiny", "20B"});
  expect_invalid("", "{\"seed\": 3}", {"\"seed\"", "random"});
  expect_invalid("", "{\"vae\": 5}", {"\"vae\"", "file name or an object"});
  expect_invalid("", "{\"vae\": \"\"}", {"\"vae\"", "non-empty"});
  expect_invalid("", "{\"vae\": {\"path\": \"a\", \"random\": \"tiny\"}}", {"\"vae\"", "exactly one"});
  expect_invalid("", "{\"vae\": {\"builtin\": \"bytes\"}}", {"\"vae\"", "unknown field \"builtin\""});
  expect_invalid("", "{\"spiece\": {\"builtin\": \"words\"}}", {"spiece.builtin", "bytes"});
  expect_invalid("", "{\"vae\": {\"random\": \"tiny\", \"select\": \"vae\"}}", {"\"vae\"", "\"select\" without"});
  expect_invalid("", "{\"spiece\": {\"path\": \"s\", \"select\": \"x\"}}", {"unknown field \"select\""});
  expect_invalid("", "{\"t5\": {\"random\": \"tiny\", \"seed\": -1}}", {"t5.seed", "non-negative"});
  expect_invalid("", "{\"defaults\": {\"cfg\": \"3\"}}", {"defaults.cfg", "number"});
  expect_invalid("", "{\"defaults\": {\"tau\": 0}}", {"defaults.tau"});
  expect_invalid("", "{\"defaults\": {\"top_k\": 3}}", {"defaults.top_k"});
  expect_invalid("", "{\"defaults\": {\"steps\": 3}}", {"defaults.steps", "not a default"});
  expect_invalid("", "{\"defaults\": {\"schedule\": {\"grids\": [[2, 2]], \"rope_grid\": [2, 2]}}}",
                 {"defaults.schedule", "not a valid schedule"});
  expect_invalid("", "{\"defaults\": {\"schedule\": {\"grids\": [[1, 1]]}}}", {"defaults.schedule", "rope_grid"});
  expect_invalid("", std::string(100, '[') + std::string(100, ']'), {"nests deeper"});
}

TEST_F(ModelDir, BrokenModelJsonNamesTheFile) {
  write("model.json", "{\"vae\": [");
  expect_invalid(dir(), "", {path("model.json"), "not valid JSON"});
}

TEST(ModelManifest, MissingDirectoryIsAnIoError) {
  try {
    ModelManifest::resolve("/no/such/model/dir", "");
    ADD_FAILURE() << "accepted a missing directory";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::io);
    EXPECT_NE(std::string(error.what()).find("/no/such/model/dir"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace inf
