// The ABI's contract from a host's side: version negotiation, node listing, struct_size rules,
// and bad input of every kind answered with a status and a message, never a crash.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "abi_fixture.h"

namespace abi_test {
namespace {

TEST(AbiVersion, CurrentVersionGivesTheTable) {
  ASSERT_NE(entry_point(), nullptr) << dlerror();
  const inf_api* table = entry_point()(INF_ABI_VERSION);
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(table->struct_size, sizeof(inf_api));
  EXPECT_EQ(table->abi_version, INF_ABI_VERSION);
  EXPECT_NE(std::string(table->version_string()).find("ABI 1.0"), std::string::npos) << table->version_string();
  EXPECT_EQ(entry_point()(INF_MAKE_VERSION(1, 0)), table) << "one static table";
}

TEST(AbiVersion, UnsupportedVersionsGetNull) {
  ASSERT_NE(entry_point(), nullptr);
  EXPECT_EQ(entry_point()(INF_MAKE_VERSION(2, 0)), nullptr) << "a future major";
  EXPECT_EQ(entry_point()(INF_MAKE_VERSION(0, 9)), nullptr) << "a past major";
  EXPECT_EQ(entry_point()(INF_MAKE_VERSION(1, INF_ABI_MINOR + 1)), nullptr) << "a minor newer than the library";
  EXPECT_EQ(entry_point()(0), nullptr);
  EXPECT_EQ(entry_point()(UINT32_MAX), nullptr);
}

TEST(AbiVersion, TableHasNoEmptySlot) {
  const inf_api* table = api();
  ASSERT_NE(table, nullptr);
  const auto* bytes = reinterpret_cast<const unsigned char*>(table);
  for (size_t offset = offsetof(inf_api, version_string); offset < sizeof(inf_api); offset += sizeof(void*)) {
    void* slot = nullptr;
    std::memcpy(&slot, bytes + offset, sizeof slot);
    EXPECT_NE(slot, nullptr) << "function slot at byte " << offset;
  }
}

TEST(AbiVersion, StatusNames) {
  const inf_api* A = api();
  EXPECT_STREQ(A->status_name(INF_STATUS_OK), "INF_STATUS_OK");
  EXPECT_STREQ(A->status_name(INF_STATUS_CANCELLED), "INF_STATUS_CANCELLED");
  EXPECT_STREQ(A->status_name(static_cast<inf_status>(12345)), "INF_STATUS_UNKNOWN");
}

using AbiNodes = AbiTest;

TEST_F(AbiNodes, ListsBuiltinNodesWithFullDescriptors) {
  uint32_t count = 0;
  ASSERT_EQ(A->engine_node_count(engine, &count), INF_STATUS_OK);
  ASSERT_GE(count, 2u);
  const inf_node_desc* truncate = nullptr;
  const inf_node_desc* tokenize = nullptr;
  for (uint32_t k = 0; k < count; ++k) {
    const inf_node_desc* desc = nullptr;
    ASSERT_EQ(A->engine_node_desc(engine, k, &desc), INF_STATUS_OK);
    ASSERT_NE(desc, nullptr);
    EXPECT_GE(desc->struct_size, sizeof(inf_node_desc));
    EXPECT_NE(std::string(desc->id).find('.'), std::string::npos) << desc->id;
    EXPECT_STRNE(desc->display_name, "");
    if (std::string(desc->id) == "org.infinode.tokens.truncate") truncate = desc;
    if (std::string(desc->id) == "org.infinode.text.tokenize") tokenize = desc;
  }
  const inf_node_desc* past_end = nullptr;
  EXPECT_EQ(A->engine_node_desc(engine, count, &past_end), INF_STATUS_NOT_FOUND);

  ASSERT_NE(truncate, nullptr);
  EXPECT_EQ(truncate->version_major, 1u);
  ASSERT_EQ(truncate->input_count, 1u);
  EXPECT_EQ(truncate->inputs[0]->type, INF_TYPE_BIT_TOKENS);
  EXPECT_STREQ(truncate->inputs[0]->id, "tokens");
  ASSERT_EQ(truncate->output_count, 1u);
  EXPECT_EQ(truncate->outputs[0]->type, INF_TYPE_BIT_TOKENS);
  ASSERT_EQ(truncate->param_count, 1u);
  const inf_param_desc& keep = *truncate->params[0];
  EXPECT_STREQ(keep.id, "keep_scales");
  EXPECT_EQ(keep.type, INF_PARAM_INT);
  EXPECT_EQ(keep.int_min, 1);
  EXPECT_GE(keep.int_max, 13);
  EXPECT_TRUE(keep.int_min <= keep.int_default && keep.int_default <= keep.int_max);

  ASSERT_NE(tokenize, nullptr);
  EXPECT_EQ(tokenize->inputs[0]->type, INF_TYPE_TEXT);
  EXPECT_EQ(tokenize->outputs[0]->type, INF_TYPE_TOKEN_IDS);
  ASSERT_EQ(tokenize->param_count, 2u);
  EXPECT_STREQ(tokenize->params[0]->id, "spiece_model");
  EXPECT_EQ(tokenize->params[0]->type, INF_PARAM_STRING);
  EXPECT_NE(tokenize->params[0]->flags & INF_PARAM_FLAG_PATH, 0u);
  EXPECT_STREQ(tokenize->params[0]->string_default, "");
  EXPECT_STREQ(tokenize->params[1]->id, "max_length");
  EXPECT_EQ(tokenize->params[1]->int_default, 512);

  const inf_node_desc* found = nullptr;
  ASSERT_EQ(A->engine_find_node(engine, "org.infinode.tokens.truncate", &found), INF_STATUS_OK);
  EXPECT_EQ(found, truncate);
  inf_node* node = make_node("org.infinode.tokens.truncate");
  const inf_node_desc* from_node = nullptr;
  ASSERT_EQ(A->node_desc(node, &from_node), INF_STATUS_OK);
  EXPECT_EQ(from_node, truncate);
  EXPECT_EQ(A->node_release(node), INF_STATUS_OK);
}

TEST_F(AbiNodes, UnknownNodeIdsAreNotFound) {
  const inf_node_desc* desc = reinterpret_cast<const inf_node_desc*>(0x1);
  EXPECT_EQ(A->engine_find_node(engine, "org.infinode.nope", &desc), INF_STATUS_NOT_FOUND);
  EXPECT_EQ(desc, nullptr);
  EXPECT_NE(std::string(A->engine_last_error(engine)).find("org.infinode.nope"), std::string::npos);
  inf_node* node = reinterpret_cast<inf_node*>(0x1);
  EXPECT_EQ(A->node_create(engine, "org.infinode.nope", &node), INF_STATUS_NOT_FOUND);
  EXPECT_EQ(node, nullptr) << "outputs are cleared on failure";
}

TEST_F(AbiNodes, ParametersCheckIdsTypesAndRanges) {
  inf_node* node = make_node("org.infinode.tokens.truncate");
  inf_param_value value = INF_PARAM_VALUE_INIT;
  ASSERT_EQ(A->node_set_int(node, "keep_scales", 3), INF_STATUS_OK);
  ASSERT_EQ(A->node_get_param(node, "keep_scales", &value), INF_STATUS_OK);
  EXPECT_EQ(value.type, INF_PARAM_INT);
  EXPECT_EQ(value.int_value, 3);

  EXPECT_EQ(A->node_set_int(node, "keep_scale", 3), INF_STATUS_NOT_FOUND);
  EXPECT_NE(std::string(A->node_last_error(node)).find("keep_scale"), std::string::npos);
  EXPECT_EQ(A->node_get_param(node, "nope", &value), INF_STATUS_NOT_FOUND);
  EXPECT_EQ(A->node_set_float(node, "keep_scales", 2.0), INF_STATUS_TYPE_MISMATCH);
  EXPECT_EQ(A->node_set_string(node, "keep_scales", "2"), INF_STATUS_TYPE_MISMATCH);
  EXPECT_EQ(A->node_set_bool(node, "keep_scales", 1), INF_STATUS_TYPE_MISMATCH);
  EXPECT_EQ(A->node_set_int(node, "keep_scales", 0), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(A->node_set_int(node, "keep_scales", INT64_MAX), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(A->node_last_error(node)).find("outside"), std::string::npos);
  ASSERT_EQ(A->node_get_param(node, "keep_scales", &value), INF_STATUS_OK);
  EXPECT_EQ(value.int_value, 3) << "a refused value leaves the parameter as it was";
  EXPECT_EQ(A->node_release(node), INF_STATUS_OK);

  inf_node* tokenize = make_node("org.infinode.text.tokenize");
  EXPECT_EQ(A->node_set_string(tokenize, "spiece_model", "/models/spiece.model"), INF_STATUS_OK);
  ASSERT_EQ(A->node_get_param(tokenize, "spiece_model", &value), INF_STATUS_OK);
  EXPECT_STREQ(value.string_value, "/models/spiece.model");
  EXPECT_EQ(A->node_set_string(tokenize, "spiece_model", "bad \xC3\x28 utf8"), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(A->node_set_string(tokenize, "spiece_model", nullptr), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(A->node_set_int(tokenize, "max_length", 513), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(A->node_release(tokenize), INF_STATUS_OK);
}

using AbiStructSize = AbiTest;

TEST_F(AbiStructSize, SmallerThanVersion1IsRefused) {
  inf_engine_config config = INF_ENGINE_CONFIG_INIT;
  inf_engine* other = nullptr;
  for (const uint32_t size : {0u, 4u, static_cast<uint32_t>(sizeof(inf_engine_config)) - 8u}) {
    config.struct_size = size;
    EXPECT_EQ(A->engine_create(&config, &other), INF_STATUS_INVALID_ARGUMENT) << size;
    EXPECT_NE(std::string(A->last_error()).find("struct_size"), std::string::npos) << A->last_error();
  }
  inf_node* node = make_node("org.infinode.tokens.truncate");
  inf_value* tokens = make_tokens(3);
  inf_job_callbacks callbacks = INF_JOB_CALLBACKS_INIT;
  callbacks.struct_size = 8;
  inf_job* job = nullptr;
  EXPECT_EQ(A->node_run_async(node, &tokens, 1, &callbacks, &job), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(job, nullptr);
  inf_param_value value = INF_PARAM_VALUE_INIT;
  value.struct_size = 16;
  EXPECT_EQ(A->node_get_param(node, "keep_scales", &value), INF_STATUS_INVALID_ARGUMENT);
  inf_bit_tokens_desc desc = INF_BIT_TOKENS_DESC_INIT;
  desc.struct_size = sizeof(inf_bit_tokens_desc) - 8;
  EXPECT_EQ(A->value_get_bit_tokens(tokens, &desc), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(A->value_release(tokens), INF_STATUS_OK);
  EXPECT_EQ(A->node_release(node), INF_STATUS_OK);
}

TEST_F(AbiStructSize, LargerStructsFromNewerHostsWork) {
  // A host built against a future 1.x passes bigger structs: the library reads its own part.
  struct NewerConfig {
    inf_engine_config base;
    uint64_t appended_field[4];
  } newer;
  newer.base = INF_ENGINE_CONFIG_INIT;
  newer.base.struct_size = sizeof(NewerConfig);
  for (auto& field : newer.appended_field) field = 0xDEADBEEFDEADBEEFull;
  inf_engine* other = nullptr;
  ASSERT_EQ(A->engine_create(&newer.base, &other), INF_STATUS_OK) << A->last_error();
  EXPECT_EQ(A->engine_release(other), INF_STATUS_OK);

  // Output structs: written only up to the library's size, the rest of the caller's is untouched.
  struct NewerTokensDesc {
    inf_bit_tokens_desc base;
    uint8_t appended[16];
  } out;
  std::memset(&out, 0xAB, sizeof out);
  out.base.struct_size = sizeof(NewerTokensDesc);
  inf_value* tokens = make_tokens(4, 2, 3);
  ASSERT_EQ(A->value_get_bit_tokens(tokens, &out.base), INF_STATUS_OK);
  EXPECT_EQ(out.base.struct_size, sizeof(NewerTokensDesc)) << "the caller's struct_size stays";
  EXPECT_EQ(out.base.schedule_scales, 4u);
  EXPECT_EQ(out.base.images, 2u);
  for (const uint8_t byte : out.appended) EXPECT_EQ(byte, 0xAB);
  EXPECT_EQ(A->value_release(tokens), INF_STATUS_OK);
}

using AbiErrors = AbiTest;

TEST_F(AbiErrors, NullHandlesAndPointersAreInvalidArguments) {
  const auto expect_invalid = [this](inf_status status, const char* call) {
    EXPECT_EQ(status, INF_STATUS_INVALID_ARGUMENT) << call;
    EXPECT_STRNE(A->last_error(), "") << call;
  };
  uint32_t count = 0;
  const char* text = nullptr;
  inf_value* value = nullptr;
  inf_node* node = nullptr;
  inf_job* job = nullptr;
  inf_value_type type = INF_TYPE_NONE;
  expect_invalid(A->engine_create(nullptr, nullptr), "engine_create(out NULL)");
  expect_invalid(A->engine_retain(nullptr), "engine_retain");
  expect_invalid(A->engine_release(nullptr), "engine_release");
  expect_invalid(A->engine_node_count(nullptr, &count), "engine_node_count");
  expect_invalid(A->engine_node_count(engine, nullptr), "engine_node_count(out NULL)");
  expect_invalid(A->engine_model_dir(nullptr, &text), "engine_model_dir");
  expect_invalid(A->engine_register_provider(engine, nullptr), "engine_register_provider");
  expect_invalid(A->engine_find_node(engine, nullptr, nullptr), "engine_find_node");
  expect_invalid(A->node_create(nullptr, "org.infinode.tokens.truncate", &node), "node_create");
  expect_invalid(A->node_create(engine, nullptr, &node), "node_create(id NULL)");
  expect_invalid(A->node_create(engine, "org.infinode.tokens.truncate", nullptr), "node_create(out NULL)");
  expect_invalid(A->node_set_int(nullptr, "keep_scales", 1), "node_set_int");
  expect_invalid(A->node_get_param(nullptr, "keep_scales", nullptr), "node_get_param");
  expect_invalid(A->node_run_async(nullptr, nullptr, 0, nullptr, &job), "node_run_async");
  expect_invalid(A->node_release(nullptr), "node_release");
  expect_invalid(A->value_create_text(nullptr, 0, &value), "value_create_text");
  expect_invalid(A->value_create_text("x", 1, nullptr), "value_create_text(out NULL)");
  expect_invalid(A->value_get_text(nullptr, &text, nullptr), "value_get_text");
  expect_invalid(A->value_type(nullptr, &type), "value_type");
  expect_invalid(A->value_create_token_ids(nullptr, 3, &value), "value_create_token_ids");
  expect_invalid(A->value_create_bit_tokens(nullptr, &value), "value_create_bit_tokens");
  expect_invalid(A->value_create_text_embedding(nullptr, &value), "value_create_text_embedding");
  expect_invalid(A->value_create_image(nullptr, &value), "value_create_image");
  expect_invalid(A->value_read_image(nullptr, nullptr), "value_read_image");
  expect_invalid(A->value_load_bit_tokens(nullptr, &value), "value_load_bit_tokens");
  expect_invalid(A->value_release(nullptr), "value_release");
  expect_invalid(A->job_cancel(nullptr), "job_cancel");
  expect_invalid(A->job_wait(nullptr, 0, nullptr), "job_wait");
  expect_invalid(A->job_status(nullptr, nullptr, nullptr), "job_status");
  expect_invalid(A->job_get_output(nullptr, 0, &value), "job_get_output");
  expect_invalid(A->job_release(nullptr), "job_release");
  expect_invalid(A->run_progress(nullptr, nullptr), "run_progress");
  expect_invalid(A->run_set_error(nullptr, "x"), "run_set_error");
  EXPECT_STREQ(A->engine_last_error(nullptr), A->last_error()) << "NULL handles fall back to the thread's message";
}

TEST_F(AbiErrors, ForgedStaleAndWrongKindHandlesAreInvalidHandles) {
  inf_value* text = make_text("hello");
  const char* out = nullptr;
  EXPECT_EQ(A->node_set_int(reinterpret_cast<inf_node*>(text), "keep_scales", 1), INF_STATUS_INVALID_HANDLE);
  EXPECT_NE(std::string(A->last_error()).find("value handle, not a node"), std::string::npos) << A->last_error();
  EXPECT_EQ(A->engine_model_dir(reinterpret_cast<inf_engine*>(text), &out), INF_STATUS_INVALID_HANDLE);
  EXPECT_EQ(A->value_get_text(reinterpret_cast<inf_value*>(0x5000), &out, nullptr), INF_STATUS_INVALID_HANDLE);
  EXPECT_EQ(A->job_cancel(reinterpret_cast<inf_job*>(engine)), INF_STATUS_INVALID_HANDLE);
  EXPECT_EQ(A->value_release(text), INF_STATUS_OK);
  EXPECT_EQ(A->value_get_text(text, &out, nullptr), INF_STATUS_INVALID_HANDLE) << "used after release";
}

TEST_F(AbiErrors, ReleasingTwiceIsDetected) {
  inf_value* value = make_text("once");
  ASSERT_EQ(A->value_retain(value), INF_STATUS_OK);
  EXPECT_EQ(A->value_release(value), INF_STATUS_OK);
  EXPECT_EQ(A->value_release(value), INF_STATUS_OK);
  EXPECT_EQ(A->value_release(value), INF_STATUS_INVALID_HANDLE);
  EXPECT_NE(std::string(A->last_error()).find("released already"), std::string::npos) << A->last_error();
  EXPECT_EQ(A->value_retain(value), INF_STATUS_INVALID_HANDLE);

  inf_node* node = make_node("org.infinode.tokens.truncate");
  EXPECT_EQ(A->node_release(node), INF_STATUS_OK);
  EXPECT_EQ(A->node_release(node), INF_STATUS_INVALID_HANDLE);

  inf_node* truncate = make_node("org.infinode.tokens.truncate");
  inf_value* tokens = make_tokens(2);
  inf_job* job = nullptr;
  ASSERT_EQ(A->node_run_async(truncate, &tokens, 1, nullptr, &job), INF_STATUS_OK);
  ASSERT_EQ(A->job_wait(job, INF_WAIT_FOREVER, nullptr), INF_STATUS_OK);
  EXPECT_EQ(A->job_release(job), INF_STATUS_OK);
  EXPECT_EQ(A->job_release(job), INF_STATUS_INVALID_HANDLE);
  EXPECT_EQ(A->value_release(tokens), INF_STATUS_OK);
  EXPECT_EQ(A->node_release(truncate), INF_STATUS_OK);

  inf_engine* other = nullptr;
  ASSERT_EQ(A->engine_create(nullptr, &other), INF_STATUS_OK);
  EXPECT_EQ(A->engine_release(other), INF_STATUS_OK);
  EXPECT_EQ(A->engine_release(other), INF_STATUS_INVALID_HANDLE);
}

TEST_F(AbiErrors, MessagesArePerHandleAndPerThread) {
  inf_node* node = make_node("org.infinode.tokens.truncate");
  EXPECT_EQ(A->node_set_int(node, "first_thread_param", 1), INF_STATUS_NOT_FOUND);
  const char* mine = A->node_last_error(node);
  std::string theirs;
  std::thread other([&] {
    EXPECT_STREQ(A->node_last_error(node), "") << "no failure on this handle from this thread yet";
    EXPECT_EQ(A->node_set_int(node, "second_thread_param", 1), INF_STATUS_NOT_FOUND);
    theirs = A->node_last_error(node);
  });
  other.join();
  EXPECT_NE(theirs.find("second_thread_param"), std::string::npos);
  EXPECT_NE(std::string(mine).find("first_thread_param"), std::string::npos) << "another thread's failure leaves ours";
  EXPECT_STREQ(A->engine_last_error(engine), "") << "the node's failure is not the engine's";
  EXPECT_EQ(A->node_release(node), INF_STATUS_OK);
}

TEST_F(AbiErrors, EngineConfigIsChecked) {
  inf_engine_config config = INF_ENGINE_CONFIG_INIT;
  inf_engine* other = nullptr;
  config.flags = 0x80;
  EXPECT_EQ(A->engine_create(&config, &other), INF_STATUS_UNSUPPORTED);
  config.flags = 0;
  config.log_level = static_cast<inf_log_level>(17);
  EXPECT_EQ(A->engine_create(&config, &other), INF_STATUS_INVALID_ARGUMENT);
  config.log_level = INF_LOG_INFO;
  config.flags = INF_ENGINE_FLAG_NO_BUILTIN_NODES;
  config.model_dir = "/some/models";
  ASSERT_EQ(A->engine_create(&config, &other), INF_STATUS_OK);
  uint32_t count = 99;
  ASSERT_EQ(A->engine_node_count(other, &count), INF_STATUS_OK);
  EXPECT_EQ(count, 0u);
  const char* dir = nullptr;
  ASSERT_EQ(A->engine_model_dir(other, &dir), INF_STATUS_OK);
  EXPECT_STREQ(dir, "/some/models");
  const char* device = nullptr;
  ASSERT_EQ(A->engine_device(other, &device), INF_STATUS_OK);
  EXPECT_STREQ(device, "cpu") << "NULL device means the CPU";
  const char* manifest = nullptr;
  ASSERT_EQ(A->engine_model_manifest(other, &manifest), INF_STATUS_OK);
  EXPECT_STREQ(manifest, "");
  EXPECT_EQ(A->engine_release(other), INF_STATUS_OK);

  // Devices are checked for form at creation (whether one exists is found out when a node opens it).
  config.device = "cuda";
  config.model_manifest = "{\"random\": \"tiny\"}";
  ASSERT_EQ(A->engine_create(&config, &other), INF_STATUS_OK);
  ASSERT_EQ(A->engine_device(other, &device), INF_STATUS_OK);
  EXPECT_STREQ(device, "cuda:0");
  ASSERT_EQ(A->engine_model_manifest(other, &manifest), INF_STATUS_OK);
  EXPECT_STREQ(manifest, "{\"random\": \"tiny\"}");
  EXPECT_EQ(A->engine_release(other), INF_STATUS_OK);
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:99999", "cpu:0"}) {
    config.device = bad;
    EXPECT_EQ(A->engine_create(&config, &other), INF_STATUS_INVALID_ARGUMENT) << bad;
    EXPECT_NE(std::string(A->last_error()).find(bad), std::string::npos) << A->last_error();
  }
  config.device = "cuda:3";
  config.model_manifest = "{\"name\": \"bad \xC3\x28\"}";
  EXPECT_EQ(A->engine_create(&config, &other), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(A->last_error()).find("UTF-8"), std::string::npos) << A->last_error();
  EXPECT_EQ(A->engine_device(nullptr, &device), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(A->engine_model_manifest(engine, nullptr), INF_STATUS_INVALID_ARGUMENT);
}

// Sets (or, with nullopt, unsets) an environment variable for one scope and restores what was
// there before, so no test leaks INFINODE_MODEL_DIR into the next.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) previous_ = old;
    if (value) {
      setenv(name, value->c_str(), 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (previous_) {
      setenv(name_, previous_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> previous_;
};

// Engines created with model_dir and model_manifest both NULL take the default model.
class AbiDefaultModel : public AbiTest {
 protected:
  // A model directory whose model.json is the random tiny pipeline: no weight files needed.
  static std::string tiny_model_dir() {
    const std::string dir = ::testing::TempDir() + "abi_default_model";
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/model.json") << R"({"format": "infinode.model", "version": 1, "random": "tiny"})";
    return dir;
  }

  // The model directory of an engine made from `config` (log lines collected).
  std::string model_dir_of(inf_engine_config config) {
    config.log_callback = &AbiTest::collect_log;
    config.log_user_data = this;
    config.log_level = INF_LOG_DEBUG;
    inf_engine* other = nullptr;
    EXPECT_EQ(A->engine_create(&config, &other), INF_STATUS_OK) << A->last_error();
    if (other == nullptr) return "(no engine)";
    const char* dir = nullptr;
    EXPECT_EQ(A->engine_model_dir(other, &dir), INF_STATUS_OK);
    const std::string result = dir != nullptr ? dir : "(NULL)";
    EXPECT_EQ(A->engine_release(other), INF_STATUS_OK);
    return result;
  }

  // Tokenizes a prompt on a fresh engine made from `config`; returns the job's result.
  inf_status tokenize_on(const inf_engine_config& config, std::string* message) {
    inf_engine* other = nullptr;
    EXPECT_EQ(A->engine_create(&config, &other), INF_STATUS_OK) << A->last_error();
    if (other == nullptr) return INF_STATUS_INTERNAL;
    inf_node* node = nullptr;
    EXPECT_EQ(A->node_create(other, "org.infinode.text.tokenize", &node), INF_STATUS_OK);
    inf_value* prompt = make_text("a red cube");
    inf_value* ids = nullptr;
    const inf_status result = run_to_end(node, {prompt}, &ids, nullptr, message);
    if (ids != nullptr) {
      EXPECT_EQ(A->value_release(ids), INF_STATUS_OK);
    }
    EXPECT_EQ(A->value_release(prompt), INF_STATUS_OK);
    EXPECT_EQ(A->node_release(node), INF_STATUS_OK);
    EXPECT_EQ(A->engine_release(other), INF_STATUS_OK);
    return result;
  }
};

TEST_F(AbiDefaultModel, EnvironmentVariableNamesTheDefaultModel) {
  const std::string dir = tiny_model_dir();
  const ScopedEnv env("INFINODE_MODEL_DIR", dir);
  const inf_engine_config config = INF_ENGINE_CONFIG_INIT;
  EXPECT_EQ(model_dir_of(config), dir);
  EXPECT_TRUE(logged("INFINODE_MODEL_DIR")) << "the engine logs which default it took";
  std::string message;
  EXPECT_EQ(tokenize_on(config, &message), INF_STATUS_OK) << "the nodes load the default model: " << message;

  inf_engine* other = nullptr;
  ASSERT_EQ(A->engine_create(nullptr, &other), INF_STATUS_OK) << "a NULL config is the default too";
  const char* reported = nullptr;
  ASSERT_EQ(A->engine_model_dir(other, &reported), INF_STATUS_OK);
  EXPECT_EQ(std::string(reported), dir);
  EXPECT_EQ(A->engine_release(other), INF_STATUS_OK);
}

TEST_F(AbiDefaultModel, EmptyEnvironmentVariableMeansNoDefaultModel) {
  const ScopedEnv env("INFINODE_MODEL_DIR", std::string());
  const inf_engine_config config = INF_ENGINE_CONFIG_INIT;
  EXPECT_EQ(model_dir_of(config), "") << "not even the built-in default";
  EXPECT_TRUE(logged("no default model")) << "the engine logs that it has none";
  std::string message;
  EXPECT_EQ(tokenize_on(config, &message), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(message.find("no model"), std::string::npos) << message;
  EXPECT_NE(message.find("INFINODE_MODEL_DIR"), std::string::npos) << "the message says how to get one: " << message;
}

TEST_F(AbiDefaultModel, ExplicitChoicesWinOverTheEnvironment) {
  const ScopedEnv env("INFINODE_MODEL_DIR", tiny_model_dir());
  inf_engine_config config = INF_ENGINE_CONFIG_INIT;
  config.model_dir = "/some/models";
  EXPECT_EQ(model_dir_of(config), "/some/models");
  config.model_dir = "";
  EXPECT_EQ(model_dir_of(config), "") << "\"\" asks for no model directory at all";
  config.model_dir = nullptr;
  config.model_manifest = "{\"random\": \"tiny\"}";
  EXPECT_EQ(model_dir_of(config), "") << "a manifest is a complete choice: no default directory under it";
  EXPECT_FALSE(logged("default model")) << "no default was looked for";
}

TEST_F(AbiDefaultModel, BuiltInDefaultOnlyWhenItHoldsAModel) {
  const ScopedEnv env("INFINODE_MODEL_DIR", std::nullopt);
  // The library's compiled-in directory (INFINODE_DEFAULT_MODEL_DIR) counts only once its
  // model.json exists: a tree without the trained model behaves as before.
  const std::string builtin = INF_DEFAULT_MODEL_DIR;
  std::error_code error;
  const bool installed = !builtin.empty() && std::filesystem::is_regular_file(builtin + "/model.json", error);
  const inf_engine_config config = INF_ENGINE_CONFIG_INIT;
  EXPECT_EQ(model_dir_of(config), installed ? builtin : std::string());
  EXPECT_TRUE(logged(installed ? "(built in)" : "no default model"));
}

using AbiLog = AbiTest;

TEST_F(AbiLog, CallbackReceivesEngineMessagesFilteredByLevel) {
  inf_node* node = make_node("org.infinode.tokens.truncate");
  ASSERT_EQ(A->node_set_int(node, "keep_scales", 9), INF_STATUS_OK);
  inf_value* tokens = make_tokens(3);
  inf_value* out = nullptr;
  ASSERT_EQ(run_to_end(node, {tokens}, &out), INF_STATUS_OK);
  EXPECT_TRUE(logged("all are kept")) << "the node's info message reaches the engine's callback";
  EXPECT_EQ(A->value_release(out), INF_STATUS_OK);

  ASSERT_EQ(A->engine_set_log_callback(engine, &AbiTest::collect_log, this, INF_LOG_WARNING), INF_STATUS_OK);
  {
    std::lock_guard<std::mutex> lock(log_mutex);
    log_lines.clear();
  }
  ASSERT_EQ(run_to_end(node, {tokens}, &out), INF_STATUS_OK);
  EXPECT_FALSE(logged("all are kept")) << "info is below the new minimum level";
  EXPECT_EQ(A->engine_set_log_callback(engine, nullptr, nullptr, static_cast<inf_log_level>(42)),
            INF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(A->value_release(out), INF_STATUS_OK);
  EXPECT_EQ(A->value_release(tokens), INF_STATUS_OK);
  EXPECT_EQ(A->node_release(node), INF_STATUS_OK);
}

}  // namespace
}  // namespace abi_test
