// Jobs and providers: the built-in nodes run end to end, cancellation stops a job within one
// step (from the progress callback and from another thread), previews and results reach the
// host, misbehaving providers become statuses, and many threads share one engine.
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "abi_fixture.h"

namespace abi_test {
namespace {

const std::string kSpiece = std::string(INF_TEST_DATA_DIR) + "/text/test_spiece.model";

using AbiJobs = AbiTest;

TEST_F(AbiJobs, TruncateKeepsTheCoarseScalesAndTheSchedule) {
  inf_node* node = make_node("org.infinode.tokens.truncate");
  ASSERT_EQ(A->node_set_int(node, "keep_scales", 2), INF_STATUS_OK);
  inf_value* tokens = make_tokens(5, 2, 4);
  inf_value* out = nullptr;
  ASSERT_EQ(run_to_end(node, {tokens}, &out), INF_STATUS_OK);
  inf_bit_tokens_desc desc = INF_BIT_TOKENS_DESC_INIT;
  ASSERT_EQ(A->value_get_bit_tokens(out, &desc), INF_STATUS_OK);
  EXPECT_EQ(desc.schedule_scales, 5u) << "the schedule stays whole for the sampler";
  EXPECT_EQ(desc.stored_scales, 2u);
  EXPECT_EQ(desc.images, 2u);
  EXPECT_STREQ(desc.tokenizer, "test-vae");
  const auto expected = token_bits(5, 2, 4);
  for (uint32_t k = 0; k < 2; ++k) EXPECT_EQ(std::memcmp(desc.bits[k], expected[k].data(), expected[k].size()), 0);
  EXPECT_EQ(A->value_release(out), INF_STATUS_OK);
  EXPECT_EQ(A->value_release(tokens), INF_STATUS_OK);
  EXPECT_EQ(A->node_release(node), INF_STATUS_OK);
}

TEST_F(AbiJobs, TokenizeWithAModelPathOrTheEngineModelDirectory) {
  inf_node* node = make_node("org.infinode.text.tokenize");
  inf_value* prompt = make_text("A red fox in the snow at dawn");
  std::string message;
  ASSERT_EQ(run_to_end(node, {prompt}, nullptr, nullptr, &message), INF_STATUS_INVALID_ARGUMENT)
      << "no model path and no model directory";
  EXPECT_NE(message.find("\"spiece\""), std::string::npos) << message;

  ASSERT_EQ(A->node_set_string(node, "spiece_model", kSpiece.c_str()), INF_STATUS_OK);
  inf_value* ids = nullptr;
  ASSERT_EQ(run_to_end(node, {prompt}, &ids), INF_STATUS_OK);
  const int32_t* values = nullptr;
  size_t count = 0;
  ASSERT_EQ(A->value_get_token_ids(ids, &values, &count), INF_STATUS_OK);
  ASSERT_GE(count, 2u);
  EXPECT_EQ(values[count - 1], 1) << "EOS ends every prompt";
  const std::vector<int32_t> first(values, values + count);
  EXPECT_EQ(A->value_release(ids), INF_STATUS_OK);

  ASSERT_EQ(A->node_set_int(node, "max_length", 3), INF_STATUS_OK);
  ASSERT_EQ(run_to_end(node, {prompt}, &ids), INF_STATUS_OK);
  ASSERT_EQ(A->value_get_token_ids(ids, &values, &count), INF_STATUS_OK);
  EXPECT_EQ(count, 3u);
  EXPECT_TRUE(logged("more than the limit")) << "the tokenizer's truncation warning reaches the engine's log";
  EXPECT_EQ(A->value_release(ids), INF_STATUS_OK);

  // An engine whose model directory holds spiece.model needs no parameter.
  const std::string dir = ::testing::TempDir() + "abi_models";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(kSpiece, dir + "/spiece.model", std::filesystem::copy_options::overwrite_existing);
  inf_engine_config config = INF_ENGINE_CONFIG_INIT;
  config.model_dir = dir.c_str();
  inf_engine* with_models = nullptr;
  ASSERT_EQ(A->engine_create(&config, &with_models), INF_STATUS_OK);
  inf_node* plain = nullptr;
  ASSERT_EQ(A->node_create(with_models, "org.infinode.text.tokenize", &plain), INF_STATUS_OK);
  inf_job* job = nullptr;
  ASSERT_EQ(A->node_run_async(plain, &prompt, 1, nullptr, &job), INF_STATUS_OK);
  inf_status result = INF_STATUS_INTERNAL;
  ASSERT_EQ(A->job_wait(job, INF_WAIT_FOREVER, &result), INF_STATUS_OK);
  ASSERT_EQ(result, INF_STATUS_OK) << A->job_last_error(job);
  ASSERT_EQ(A->job_get_output(job, 0, &ids), INF_STATUS_OK);
  ASSERT_EQ(A->value_get_token_ids(ids, &values, &count), INF_STATUS_OK);
  EXPECT_EQ(std::vector<int32_t>(values, values + count), first);
  inf_value* missing = nullptr;
  EXPECT_EQ(A->job_get_output(job, 1, &missing), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(A->value_release(ids), INF_STATUS_OK);
  EXPECT_EQ(A->job_release(job), INF_STATUS_OK);
  EXPECT_EQ(A->node_release(plain), INF_STATUS_OK);
  EXPECT_EQ(A->engine_release(with_models), INF_STATUS_OK);

  ASSERT_EQ(A->node_set_string(node, "spiece_model", "/no/such/spiece.model"), INF_STATUS_OK);
  EXPECT_NE(run_to_end(node, {prompt}, nullptr, nullptr, &message), INF_STATUS_OK);
  EXPECT_NE(message.find("/no/such/spiece.model"), std::string::npos) << message;
  EXPECT_EQ(A->value_release(prompt), INF_STATUS_OK);
  EXPECT_EQ(A->node_release(node), INF_STATUS_OK);
}

TEST_F(AbiJobs, InputsAreCheckedAndMayBeReleasedOnceSubmitted) {
  inf_node* node = make_node("org.infinode.tokens.truncate");
  inf_value* tokens = make_tokens(3);
  inf_job* job = nullptr;
  EXPECT_EQ(A->node_run_async(node, &tokens, 2, nullptr, &job), INF_STATUS_INVALID_ARGUMENT) << "input count";
  EXPECT_EQ(A->node_run_async(node, nullptr, 1, nullptr, &job), INF_STATUS_INVALID_ARGUMENT);
  inf_value* none = nullptr;
  EXPECT_EQ(A->node_run_async(node, &none, 1, nullptr, &job), INF_STATUS_INVALID_ARGUMENT) << "required input";
  EXPECT_NE(std::string(A->node_last_error(node)).find("required"), std::string::npos);

  ASSERT_EQ(A->node_run_async(node, &tokens, 1, nullptr, &job), INF_STATUS_OK);
  EXPECT_EQ(A->value_release(tokens), INF_STATUS_OK) << "the job holds its own reference";
  EXPECT_EQ(A->node_release(node), INF_STATUS_OK) << "and its node";
  inf_status result = INF_STATUS_INTERNAL;
  ASSERT_EQ(A->job_wait(job, INF_WAIT_FOREVER, &result), INF_STATUS_OK);
  EXPECT_EQ(result, INF_STATUS_OK) << A->job_last_error(job);
  inf_job_state state = INF_JOB_QUEUED;
  ASSERT_EQ(A->job_status(job, &state, &result), INF_STATUS_OK);
  EXPECT_EQ(state, INF_JOB_DONE);
  EXPECT_EQ(A->job_release(job), INF_STATUS_OK);
}

struct CancelProbe {
  std::atomic<uint32_t> last_step{0};
  std::atomic<int> done_calls{0};
  std::atomic<inf_status> done_result{INF_STATUS_NOT_READY};
  std::atomic<int> previews{0};
  uint32_t cancel_at_step = 0;  // 0: never cancel from the callback
  inf_status wait_inside_done = INF_STATUS_OK;
  const inf_api* api = nullptr;
};

int32_t probe_progress(void* user, const inf_progress* progress) {
  auto* probe = static_cast<CancelProbe*>(user);
  probe->last_step = progress->step;
  return probe->cancel_at_step != 0 && progress->step >= probe->cancel_at_step ? 1 : 0;
}

void probe_preview(void* user, const inf_progress*, const inf_image_desc* image) {
  auto* probe = static_cast<CancelProbe*>(user);
  if (image->width == 2 && image->height == 2 && image->data != nullptr) probe->previews++;
}

void probe_done(void* user, inf_job* job, inf_status result, const char*) {
  auto* probe = static_cast<CancelProbe*>(user);
  probe->wait_inside_done = probe->api->job_wait(job, INF_WAIT_FOREVER, nullptr);
  probe->done_result = result;
  probe->done_calls++;
}

inf_job_callbacks probe_callbacks(CancelProbe& probe) {
  inf_job_callbacks callbacks = INF_JOB_CALLBACKS_INIT;
  callbacks.user_data = &probe;
  callbacks.on_progress = probe_progress;
  callbacks.on_done = probe_done;
  return callbacks;
}

TEST_F(AbiJobs, CancelFromTheProgressCallbackStopsAtThatStep) {
  SleepyStats& stats = sleepy_stats;
  ASSERT_EQ(register_sleepy(A, engine, &stats), INF_STATUS_OK) << A->engine_last_error(engine);
  inf_node* node = make_node("org.test.sleepy");
  ASSERT_EQ(A->node_set_int(node, "steps", 50), INF_STATUS_OK);
  CancelProbe probe;
  probe.api = A;
  probe.cancel_at_step = 3;
  const inf_job_callbacks callbacks = probe_callbacks(probe);
  std::string message;
  EXPECT_EQ(run_to_end(node, {}, nullptr, &callbacks, &message), INF_STATUS_CANCELLED);
  EXPECT_EQ(stats.steps_run.load(), 3) << "no step runs after the one whose callback cancelled";
  EXPECT_EQ(message, "job cancelled after step 3 of 50");
  EXPECT_EQ(probe.done_calls.load(), 1);
  EXPECT_EQ(probe.done_result.load(), INF_STATUS_CANCELLED);
  EXPECT_EQ(probe.wait_inside_done, INF_STATUS_WOULD_DEADLOCK) << "a blocking wait in on_done";
  EXPECT_TRUE(logged("sleepy node starts")) << "run_log reaches the engine's callback";
  EXPECT_EQ(A->node_release(node), INF_STATUS_OK);
}

TEST_F(AbiJobs, CancelFromAnotherThreadStopsWithinOneStep) {
  SleepyStats& stats = sleepy_stats;
  ASSERT_EQ(register_sleepy(A, engine, &stats), INF_STATUS_OK);
  inf_node* node = make_node("org.test.sleepy");
  ASSERT_EQ(A->node_set_int(node, "steps", 200), INF_STATUS_OK);
  ASSERT_EQ(A->node_set_int(node, "step_ms", 20), INF_STATUS_OK);
  CancelProbe probe;
  probe.api = A;
  const inf_job_callbacks callbacks = probe_callbacks(probe);
  inf_job* job = nullptr;
  ASSERT_EQ(A->node_run_async(node, nullptr, 0, &callbacks, &job), INF_STATUS_OK);
  while (probe.last_step.load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  inf_status result = INF_STATUS_INTERNAL;
  EXPECT_EQ(A->job_wait(job, 0, &result), INF_STATUS_TIMEOUT) << "still running";
  EXPECT_EQ(result, INF_STATUS_INTERNAL) << "out_result is untouched on timeout";
  inf_job_state state = INF_JOB_QUEUED;
  ASSERT_EQ(A->job_status(job, &state, &result), INF_STATUS_OK);
  EXPECT_EQ(state, INF_JOB_RUNNING);
  EXPECT_EQ(result, INF_STATUS_NOT_READY);
  inf_value* early = nullptr;
  EXPECT_EQ(A->job_get_output(job, 0, &early), INF_STATUS_NOT_READY);

  const int steps_at_cancel = stats.steps_run.load();
  std::thread canceller([&] { EXPECT_EQ(A->job_cancel(job), INF_STATUS_OK); });
  canceller.join();
  EXPECT_EQ(A->job_cancel(job), INF_STATUS_OK) << "cancelling twice is fine";
  ASSERT_EQ(A->job_wait(job, INF_WAIT_FOREVER, &result), INF_STATUS_OK);
  EXPECT_EQ(result, INF_STATUS_CANCELLED);
  EXPECT_LE(stats.steps_run.load(), steps_at_cancel + 1) << "at most the step in progress finishes";
  EXPECT_NE(std::string(A->job_last_error(job)).find("cancelled after step"), std::string::npos);
  EXPECT_EQ(A->job_get_output(job, 0, &early), INF_STATUS_CANCELLED) << "a cancelled job has no outputs";
  EXPECT_EQ(A->job_cancel(job), INF_STATUS_OK) << "and after the end";
  EXPECT_EQ(probe.done_calls.load(), 1);
  EXPECT_EQ(A->job_release(job), INF_STATUS_OK);
  EXPECT_EQ(A->node_release(node), INF_STATUS_OK);
}

TEST_F(AbiJobs, QueuedJobCancelledBeforeItStartsNeverRuns) {
  SleepyStats& stats = sleepy_stats;
  ASSERT_EQ(register_sleepy(A, engine, &stats), INF_STATUS_OK);
  inf_node* node = make_node("org.test.sleepy");
  ASSERT_EQ(A->node_set_int(node, "steps", 1000), INF_STATUS_OK);
  inf_job* running = nullptr;
  ASSERT_EQ(A->node_run_async(node, nullptr, 0, nullptr, &running), INF_STATUS_OK);
  while (stats.steps_run.load() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // Jobs of one node run one at a time, so this one waits for the first.
  CancelProbe probe;
  probe.api = A;
  const inf_job_callbacks callbacks = probe_callbacks(probe);
  inf_job* queued = nullptr;
  ASSERT_EQ(A->node_run_async(node, nullptr, 0, &callbacks, &queued), INF_STATUS_OK);
  EXPECT_EQ(A->job_cancel(queued), INF_STATUS_OK);
  EXPECT_EQ(A->job_cancel(running), INF_STATUS_OK);
  inf_status result = INF_STATUS_INTERNAL;
  ASSERT_EQ(A->job_wait(queued, INF_WAIT_FOREVER, &result), INF_STATUS_OK);
  EXPECT_EQ(result, INF_STATUS_CANCELLED);
  EXPECT_STREQ(A->job_last_error(queued), "job cancelled before it started");
  EXPECT_EQ(probe.last_step.load(), 0u) << "its provider never ran";
  EXPECT_EQ(probe.done_calls.load(), 1) << "on_done still comes, exactly once";
  ASSERT_EQ(A->job_wait(running, INF_WAIT_FOREVER, &result), INF_STATUS_OK);
  EXPECT_EQ(result, INF_STATUS_CANCELLED);
  EXPECT_EQ(A->job_release(queued), INF_STATUS_OK);
  EXPECT_EQ(A->job_release(running), INF_STATUS_OK);
  EXPECT_EQ(A->node_release(node), INF_STATUS_OK);
}

TEST_F(AbiJobs, PreviewsAreSentOnlyWhenTheHostAsks) {
  SleepyStats& stats = sleepy_stats;
  ASSERT_EQ(register_sleepy(A, engine, &stats), INF_STATUS_OK);
  inf_node* node = make_node("org.test.sleepy");
  ASSERT_EQ(A->node_set_int(node, "steps", 4), INF_STATUS_OK);
  ASSERT_EQ(A->node_set_int(node, "step_ms", 0), INF_STATUS_OK);
  CancelProbe probe;
  probe.api = A;
  inf_job_callbacks callbacks = probe_callbacks(probe);
  ASSERT_EQ(run_to_end(node, {}, nullptr, &callbacks), INF_STATUS_OK);
  EXPECT_EQ(stats.previews_sent.load(), 0) << "no on_preview: the provider skips rendering";
  callbacks.on_preview = probe_preview;
  inf_value* text = nullptr;
  ASSERT_EQ(run_to_end(node, {}, &text, &callbacks), INF_STATUS_OK);
  EXPECT_EQ(stats.previews_sent.load(), 4);
  EXPECT_EQ(probe.previews.load(), 4) << "one preview per step, each a valid 2x2 image";
  const char* slept = nullptr;
  ASSERT_EQ(A->value_get_text(text, &slept, nullptr), INF_STATUS_OK);
  EXPECT_STREQ(slept, "slept");
  EXPECT_EQ(A->value_release(text), INF_STATUS_OK);
  EXPECT_EQ(A->node_release(node), INF_STATUS_OK);
}

using AbiProviders = AbiTest;

TEST_F(AbiProviders, MisbehavingProvidersBecomeStatuses) {
  ASSERT_EQ(register_bad(A, engine, "org.test.fails", BadBehaviour::fail_with_message), INF_STATUS_OK);
  ASSERT_EQ(register_bad(A, engine, "org.test.no_output", BadBehaviour::no_output), INF_STATUS_OK);
  ASSERT_EQ(register_bad(A, engine, "org.test.bad_status", BadBehaviour::unknown_status), INF_STATUS_OK);
  ASSERT_EQ(register_bad(A, engine, "org.test.wrong_type", BadBehaviour::wrong_output_type), INF_STATUS_OK);
  const struct {
    const char* id;
    inf_status status;
    const char* fragment;
  } cases[] = {
      {"org.test.fails", INF_STATUS_INVALID_DATA, "the input file is corrupt"},
      {"org.test.no_output", INF_STATUS_INTERNAL, "without setting output 'text'"},
      {"org.test.bad_status", INF_STATUS_INTERNAL, "unknown status 999"},
      {"org.test.wrong_type", INF_STATUS_INTERNAL, "TOKEN_IDS, not TEXT"},
  };
  for (const auto& expected : cases) {
    inf_node* node = make_node(expected.id);
    std::string message;
    EXPECT_EQ(run_to_end(node, {}, nullptr, nullptr, &message), expected.status) << expected.id;
    EXPECT_NE(message.find(expected.fragment), std::string::npos) << expected.id << ": " << message;
    EXPECT_EQ(A->node_release(node), INF_STATUS_OK);
  }
}

TEST_F(AbiProviders, RegistrationIsValidatedAndOwnershipIsClear) {
  SleepyStats& stats = sleepy_stats;
  ASSERT_EQ(register_sleepy(A, engine, &stats), INF_STATUS_OK);
  EXPECT_EQ(register_sleepy(A, engine, &stats), INF_STATUS_ALREADY_EXISTS);
  EXPECT_EQ(register_sleepy(A, engine, &stats, "org.infinode.tokens.truncate"), INF_STATUS_ALREADY_EXISTS);
  EXPECT_EQ(register_sleepy(A, engine, &stats, "NotReverseDns"), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(register_sleepy(A, engine, &stats, "org..double.dot"), INF_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(stats.provider_destroyed.load(), 0) << "refused providers stay the caller's";

  inf_node_provider vtable{};
  vtable.struct_size = sizeof(inf_node_provider);
  vtable.abi_version = INF_MAKE_VERSION(2, 0);
  EXPECT_EQ(A->engine_register_provider(engine, &vtable), INF_STATUS_UNSUPPORTED);
  vtable.abi_version = INF_ABI_VERSION;
  EXPECT_EQ(A->engine_register_provider(engine, &vtable), INF_STATUS_INVALID_ARGUMENT) << "no functions";
  vtable.struct_size = 8;
  EXPECT_EQ(A->engine_register_provider(engine, &vtable), INF_STATUS_INVALID_ARGUMENT);

  // The provider outlives the engine's handle while a node still uses it.
  inf_node* node = make_node("org.test.sleepy");
  EXPECT_EQ(stats.instances.load(), 1);
  EXPECT_EQ(A->engine_release(engine), INF_STATUS_OK);
  engine = nullptr;
  EXPECT_EQ(stats.provider_destroyed.load(), 0);
  ASSERT_EQ(A->node_set_int(node, "steps", 2), INF_STATUS_OK);
  ASSERT_EQ(A->node_set_int(node, "step_ms", 0), INF_STATUS_OK);
  EXPECT_EQ(run_to_end(node, {}), INF_STATUS_OK) << "a node works after its engine's handle is gone";
  EXPECT_EQ(A->node_release(node), INF_STATUS_OK);
  EXPECT_EQ(stats.instances.load(), 0);
  EXPECT_EQ(stats.provider_destroyed.load(), 1) << "destroy runs once, when nothing uses the provider";
}

using AbiThreads = AbiTest;

TEST_F(AbiThreads, ManyThreadsCreateValuesAndRunJobsConcurrently) {
  constexpr int kThreads = 8, kRounds = 25;
  inf_node* shared = make_node("org.infinode.tokens.truncate");
  ASSERT_EQ(A->node_set_int(shared, "keep_scales", 2), INF_STATUS_OK);
  std::atomic<int> successes{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      inf_node* own = nullptr;
      ASSERT_EQ(A->node_create(engine, "org.infinode.tokens.truncate", &own), INF_STATUS_OK);
      for (int round = 0; round < kRounds; ++round) {
        const auto keep = static_cast<int64_t>(1 + (t + round) % 3);
        ASSERT_EQ(A->node_set_int(own, "keep_scales", keep), INF_STATUS_OK);
        inf_value* tokens = make_tokens(4, 1, 2);
        inf_job* jobs[2] = {nullptr, nullptr};
        ASSERT_EQ(A->node_run_async(own, &tokens, 1, nullptr, &jobs[0]), INF_STATUS_OK);
        ASSERT_EQ(A->node_run_async(shared, &tokens, 1, nullptr, &jobs[1]), INF_STATUS_OK);
        ASSERT_EQ(A->value_release(tokens), INF_STATUS_OK);
        const int64_t kept[2] = {keep, 2};
        for (int j = 0; j < 2; ++j) {
          inf_status result = INF_STATUS_INTERNAL;
          ASSERT_EQ(A->job_wait(jobs[j], INF_WAIT_FOREVER, &result), INF_STATUS_OK);
          ASSERT_EQ(result, INF_STATUS_OK) << A->job_last_error(jobs[j]);
          inf_value* out = nullptr;
          ASSERT_EQ(A->job_get_output(jobs[j], 0, &out), INF_STATUS_OK);
          inf_bit_tokens_desc desc = INF_BIT_TOKENS_DESC_INIT;
          ASSERT_EQ(A->value_get_bit_tokens(out, &desc), INF_STATUS_OK);
          EXPECT_EQ(desc.stored_scales, static_cast<uint32_t>(kept[j]));
          EXPECT_EQ(A->value_release(out), INF_STATUS_OK);
          EXPECT_EQ(A->job_release(jobs[j]), INF_STATUS_OK);
          EXPECT_EQ(A->job_release(jobs[j]), INF_STATUS_INVALID_HANDLE);
          successes++;
        }
      }
      EXPECT_EQ(A->node_release(own), INF_STATUS_OK);
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(successes.load(), kThreads * kRounds * 2);
  EXPECT_EQ(A->node_release(shared), INF_STATUS_OK);
}

}  // namespace
}  // namespace abi_test
