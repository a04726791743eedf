// The ABI tests see libinfinode as a host does: dlopen, dlsym("inf_get_api"), then only the
// function table. Nothing here links infinode code.
#pragma once

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "infinode.h"

namespace abi_test {

inline void* library() {
  static void* handle = dlopen(INF_LIBRARY_PATH, RTLD_NOW | RTLD_LOCAL);
  return handle;
}

inline inf_get_api_fn entry_point() {
  void* symbol = library() == nullptr ? nullptr : dlsym(library(), "inf_get_api");
  inf_get_api_fn function = nullptr;
  std::memcpy(&function, &symbol, sizeof function);  // object to function pointer, as POSIX allows
  return function;
}

inline const inf_api* api() {
  static const inf_api* table = entry_point() == nullptr ? nullptr : entry_point()(INF_ABI_VERSION);
  return table;
}

// A node registered through the provider interface as a third party would: it "works" for
// `steps` steps of `step_ms` each, reports progress (and previews when asked), and stops when
// the library says the job is cancelled. Counters let tests see what ran.
struct SleepyStats {
  std::atomic<int> steps_run{0};
  std::atomic<int> previews_sent{0};
  std::atomic<int> instances{0};
  std::atomic<int> provider_destroyed{0};
};

// The engine every test gets; built-in nodes registered, messages collected. It has no model
// (model_dir "", not NULL): the tests must not depend on whether the default model is
// installed or INFINODE_MODEL_DIR is set.
class AbiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(library(), nullptr) << dlerror();
    A = api();
    ASSERT_NE(A, nullptr);
    inf_engine_config config = INF_ENGINE_CONFIG_INIT;
    config.model_dir = "";
    config.log_callback = &AbiTest::collect_log;
    config.log_user_data = this;
    config.log_level = INF_LOG_DEBUG;
    ASSERT_EQ(A->engine_create(&config, &engine), INF_STATUS_OK) << A->last_error();
  }

  void TearDown() override {
    if (engine != nullptr) {
      EXPECT_EQ(A->engine_release(engine), INF_STATUS_OK);
    }
  }

  static void collect_log(void* user_data, inf_log_level level, const char* message) {
    auto* self = static_cast<AbiTest*>(user_data);
    std::lock_guard<std::mutex> lock(self->log_mutex);
    self->log_lines.push_back(std::to_string(static_cast<int>(level)) + " " + message);
  }

  bool logged(const std::string& fragment) {
    std::lock_guard<std::mutex> lock(log_mutex);
    for (const auto& line : log_lines)
      if (line.find(fragment) != std::string::npos) return true;
    return false;
  }

  inf_node* make_node(const char* id) {
    inf_node* node = nullptr;
    EXPECT_EQ(A->node_create(engine, id, &node), INF_STATUS_OK) << A->engine_last_error(engine);
    return node;
  }

  inf_value* make_text(const char* text) {
    inf_value* value = nullptr;
    EXPECT_EQ(A->value_create_text(text, INF_TEXT_NUL_TERMINATED, &value), INF_STATUS_OK) << A->last_error();
    return value;
  }

  // Bit tokens with grids 1x1, 2x2, ... (scales of them), all stored; bit j of token t of image
  // b at scale k is (b + k + t + j) % 2, so every prefix is recognisable.
  static std::vector<std::vector<uint8_t>> token_bits(uint32_t scales, uint32_t images, uint32_t bits) {
    std::vector<std::vector<uint8_t>> data;
    for (uint32_t k = 0; k < scales; ++k) {
      const uint32_t tokens = (k + 1) * (k + 1);
      std::vector<uint8_t> scale(size_t{images} * tokens * bits);
      for (size_t i = 0; i < scale.size(); ++i) {
        const size_t b = i / (size_t{tokens} * bits), t = (i / bits) % tokens, j = i % bits;
        scale[i] = static_cast<uint8_t>((b + k + t + j) % 2);
      }
      data.push_back(std::move(scale));
    }
    return data;
  }

  inf_value* make_tokens(uint32_t scales, uint32_t images = 1, uint32_t bits = 4) {
    const auto data = token_bits(scales, images, bits);
    std::vector<inf_grid> grids;
    std::vector<const uint8_t*> pointers;
    for (uint32_t k = 0; k < scales; ++k) {
      grids.push_back({k + 1, k + 1});
      pointers.push_back(data[k].data());
    }
    inf_bit_tokens_desc desc = INF_BIT_TOKENS_DESC_INIT;
    desc.images = images;
    desc.bits_per_token = bits;
    desc.schedule_scales = scales;
    desc.stored_scales = scales;
    desc.grids = grids.data();
    desc.rope_grid = grids.back();
    desc.bits = pointers.data();
    desc.tokenizer = "test-vae";
    inf_value* value = nullptr;
    EXPECT_EQ(A->value_create_bit_tokens(&desc, &value), INF_STATUS_OK) << A->last_error();
    return value;
  }

  // Runs a job to its end; returns the job's result. *out gets output 0 when it succeeded.
  inf_status run_to_end(inf_node* node, std::vector<inf_value*> inputs, inf_value** out = nullptr,
                        const inf_job_callbacks* callbacks = nullptr, std::string* message = nullptr) {
    inf_job* job = nullptr;
    const inf_status started =
        A->node_run_async(node, inputs.data(), static_cast<uint32_t>(inputs.size()), callbacks, &job);
    if (started != INF_STATUS_OK) return started;
    inf_status result = INF_STATUS_INTERNAL;
    EXPECT_EQ(A->job_wait(job, INF_WAIT_FOREVER, &result), INF_STATUS_OK);
    if (message != nullptr) *message = A->job_last_error(job);
    if (out != nullptr && result == INF_STATUS_OK) {
      EXPECT_EQ(A->job_get_output(job, 0, out), INF_STATUS_OK);
    }
    EXPECT_EQ(A->job_release(job), INF_STATUS_OK);
    return result;
  }

  const inf_api* A = nullptr;
  SleepyStats sleepy_stats;  // a member, so it outlives the engine that calls back into it
  inf_engine* engine = nullptr;
  std::mutex log_mutex;
  std::vector<std::string> log_lines;
};

// Registers "org.test.sleepy" (or `id`) on `engine`; `stats` must outlive the engine.
inf_status register_sleepy(const inf_api* A, inf_engine* engine, SleepyStats* stats,
                           const char* id = "org.test.sleepy");

// Providers that misbehave in one way each, to check the library turns that into statuses.
enum class BadBehaviour { fail_with_message, no_output, unknown_status, wrong_output_type };
inf_status register_bad(const inf_api* A, inf_engine* engine, const char* id, BadBehaviour behaviour);

}  // namespace abi_test
