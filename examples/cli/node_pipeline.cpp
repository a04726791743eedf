#include "node_pipeline.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <vector>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common/error.h"
#include "model/infinity/scale_schedule.h"

#ifndef INF_DEFAULT_MODEL_DIR
#define INF_DEFAULT_MODEL_DIR ""
#endif

namespace inf::cli {
namespace {

namespace fs = std::filesystem;

// The library's message for the calling thread's last failure, never empty.
std::string library_message(const char* message, inf_status status) {
  if (message != nullptr && message[0] != '\0') return message;
  return abi().status_name(status);
}

// Files named on the command line are relative to the working directory, but the library takes
// an inline manifest's relative paths from the model directory: hand it absolute paths.
std::string absolute_path(const std::string& path) { return fs::absolute(fs::path(path)).lexically_normal().string(); }

// The inline manifest for the explicit parts ("" when there are none).
std::string inline_manifest(const ModelFlags& flags) {
  nlohmann::json manifest = nlohmann::json::object();
  if (!flags.random_weights.empty()) manifest["random"] = flags.random_weights;
  const std::pair<const char*, const std::string*> parts[] = {
      {"transformer", &flags.transformer}, {"vae", &flags.vae}, {"t5", &flags.t5}, {"spiece", &flags.spiece}};
  for (const auto& [key, path] : parts)
    if (!path->empty()) manifest[key] = absolute_path(*path);
  return manifest.empty() ? std::string() : manifest.dump();
}

// --model DIR; else the default model when it exists (explicit parts then override its entries);
// else none, which is fine only when the flags name the parts.
std::string model_directory(const ModelFlags& flags, bool parts_named) {
  if (!flags.model_dir.empty()) {
    std::error_code error;
    INF_CHECK(fs::is_directory(flags.model_dir, error), ErrorKind::io, "--model ", flags.model_dir,
              ": not a directory");
    return flags.model_dir;
  }
  if (!flags.random_weights.empty()) return {};  // every part not named is random
  // The library's rule for engines without a model (docs/model-manifest.md): INFINODE_MODEL_DIR
  // when set (a directory that is not there is an error, as for --model; empty: no default),
  // else the built-in default when it holds model.json.
  std::error_code error;
  if (const char* variable = std::getenv("INFINODE_MODEL_DIR"); variable != nullptr) {
    const std::string chosen = variable;
    if (!chosen.empty()) {
      INF_CHECK(fs::is_directory(chosen, error), ErrorKind::io, "INFINODE_MODEL_DIR ", chosen, ": not a directory");
      return chosen;
    }
  } else if (const std::string builtin = INF_DEFAULT_MODEL_DIR;
             !builtin.empty() && fs::is_regular_file(fs::path(builtin) / "model.json", error)) {
    return builtin;
  }
  INF_CHECK(parts_named, ErrorKind::invalid_argument,
            "no model: pass --model DIR, --transformer/--vae/--t5/--spiece, or --random-weights tiny");
  return {};
}

// Draws one job's progress on stderr: redrawn in place on a terminal, one line per step
// otherwise (logs, pipes, tests), with the time each step (scale) took.
class ProgressBar {
 public:
  ProgressBar(std::string default_stage, bool quiet)
      : default_stage_(std::move(default_stage)), quiet_(quiet), in_place_(isatty(fileno(stderr)) == 1) {}

  void update(const inf_progress& progress) {
    if (quiet_) return;
    const std::string stage = progress.stage != nullptr && progress.stage[0] != '\0' ? progress.stage : default_stage_;
    if (stage != stage_) {
      finish();
      stage_ = stage;
      stage_seconds_ = 0.0;
      step_seconds_.clear();
    }
    stage_seconds_ += progress.step_seconds;
    step_seconds_.push_back(progress.step_seconds);
    constexpr uint32_t kWidth = 24;
    const uint32_t total = progress.total_steps > 0 ? progress.total_steps : 1;
    const uint32_t filled = std::min(kWidth, static_cast<uint32_t>(uint64_t{progress.step} * kWidth / total));
    const std::string bar = std::string(filled, '#') + std::string(kWidth - filled, '-');
    std::fprintf(stderr, "%s%-8s %3u/%-3u [%s] %7.2f s  (total %.2f s)%s", in_place_ ? "\r\033[K" : "",
                 stage.c_str(), progress.step, progress.total_steps, bar.c_str(), progress.step_seconds,
                 stage_seconds_, in_place_ ? "" : "\n");
    line_open_ = in_place_;
    if (progress.step >= progress.total_steps) finish();
    std::fflush(stderr);
  }

  // Ends a line left open by in-place drawing (the last step, a failure, a new stage), and
  // lists the time of every step, which redrawing has hidden.
  void finish() {
    if (!line_open_) return;
    std::fputc('\n', stderr);
    line_open_ = false;
    if (step_seconds_.size() < 2) return;
    std::fprintf(stderr, "%-8s seconds per step:", stage_.c_str());
    for (const double seconds : step_seconds_) std::fprintf(stderr, " %.2f", seconds);
    std::fputc('\n', stderr);
  }

 private:
  const std::string default_stage_;
  const bool quiet_, in_place_;
  std::string stage_;
  double stage_seconds_ = 0.0;
  std::vector<double> step_seconds_;  // of the current stage
  bool line_open_ = false;
};

// What the callbacks of one job share with the thread that waits for it. Callbacks of a job
// never run concurrently, and job_wait returns only after the last one.
struct JobWatch {
  ProgressBar bar;
  const JobDisplay& display;
  std::string preview_error;  // the first preview that could not be handled
};

int32_t on_progress(void* user_data, const inf_progress* progress) {
  auto& watch = *static_cast<JobWatch*>(user_data);
  try {
    watch.bar.update(*progress);
  } catch (...) {
    // A progress bar that cannot draw is no reason to stop the job.
  }
  return watch.preview_error.empty() ? 0 : 1;  // nonzero cancels
}

void on_preview(void* user_data, const inf_progress* progress, const inf_image_desc* image) {
  auto& watch = *static_cast<JobWatch*>(user_data);
  if (!watch.preview_error.empty()) return;
  try {
    watch.display.on_preview(*progress, *image);
  } catch (const std::exception& error) {
    watch.preview_error = error.what();
  } catch (...) {
    watch.preview_error = "unknown error while writing a preview";
  }
  if (watch.preview_error.empty()) return;
  watch.preview_error = "preview: " + watch.preview_error;
}

uint32_t port_index(const inf_port_desc* const* ports, uint32_t count, const char* port_id, const std::string& node,
                    const char* direction) {
  for (uint32_t i = 0; i < count; ++i)
    if (std::string(ports[i]->id) == port_id) return i;
  fail(ErrorKind::internal, node, ": no ", direction, " port '", port_id, "' (docs/nodes.md is out of date?)");
}

}  // namespace

const inf_api& abi() {
  static const inf_api* const table = inf_get_api(INF_ABI_VERSION);
  INF_CHECK(table != nullptr, ErrorKind::unsupported, "libinfinode does not serve ABI version ", INF_ABI_MAJOR, ".",
            INF_ABI_MINOR);
  return *table;
}

void ReleaseEngine::operator()(inf_engine* engine) const { abi().engine_release(engine); }
void ReleaseNode::operator()(inf_node* node) const { abi().node_release(node); }
void ReleaseValue::operator()(inf_value* value) const { abi().value_release(value); }
void ReleaseJob::operator()(inf_job* job) const { abi().job_release(job); }

NodeEngine::NodeEngine(const ModelFlags& flags) {
  const std::string manifest_json = inline_manifest(flags);
  const std::string model_dir = model_directory(flags, !manifest_json.empty());
  // Read here too (the nodes read it again when they first need a model): its name, origin and
  // sampling defaults go into the images' metadata, and a malformed manifest fails up front.
  manifest_ = ModelManifest::resolve(model_dir, manifest_json);

  inf_engine_config config = INF_ENGINE_CONFIG_INIT;
  config.model_dir = model_dir.empty() ? nullptr : model_dir.c_str();
  config.model_manifest = manifest_json.empty() ? nullptr : manifest_json.c_str();
  config.device = flags.device.c_str();
  inf_engine* engine = nullptr;
  const inf_status status = abi().engine_create(&config, &engine);
  if (status != INF_STATUS_OK) fail(ErrorKind::invalid_argument, "engine: ", library_message(abi().last_error(), status));
  engine_.reset(engine);
}

NodeRunner::NodeRunner(inf_engine* engine, std::string node_id) : id_(std::move(node_id)) {
  inf_node* node = nullptr;
  const inf_status status = abi().node_create(engine, id_.c_str(), &node);
  if (status != INF_STATUS_OK) fail(ErrorKind::unsupported, id_, ": ", library_message(abi().engine_last_error(engine), status));
  node_.reset(node);
  if (abi().node_desc(node, &desc_) != INF_STATUS_OK)
    fail(ErrorKind::internal, id_, ": ", library_message(abi().node_last_error(node), INF_STATUS_INTERNAL));
}

void NodeRunner::check_set(inf_status status, const char* param, const char* flag) {
  if (status == INF_STATUS_OK) return;
  const std::string message = library_message(abi().node_last_error(node_.get()), status);
  if (status == INF_STATUS_INVALID_ARGUMENT && flag != nullptr) throw UsageError(std::string(flag) + ": " + message);
  fail(ErrorKind::invalid_argument, id_, ": parameter ", param, ": ", message);
}

void NodeRunner::set_int(const char* param, int64_t value, const char* flag) {
  check_set(abi().node_set_int(node_.get(), param, value), param, flag);
}
void NodeRunner::set_float(const char* param, double value, const char* flag) {
  check_set(abi().node_set_float(node_.get(), param, value), param, flag);
}
void NodeRunner::set_bool(const char* param, bool value) {
  check_set(abi().node_set_bool(node_.get(), param, value ? 1 : 0), param, nullptr);
}
void NodeRunner::set_string(const char* param, const std::string& value, const char* flag) {
  check_set(abi().node_set_string(node_.get(), param, value.c_str()), param, flag);
}

ValueRef NodeRunner::run(const std::vector<std::pair<const char*, inf_value*>>& inputs, const char* output_id,
                         const JobDisplay& display) {
  std::vector<inf_value*> ordered(desc_->input_count, nullptr);  // descriptor order; NULL = unconnected
  for (const auto& [port, value] : inputs)
    ordered[port_index(desc_->inputs, desc_->input_count, port, id_, "input")] = value;
  const uint32_t output = port_index(desc_->outputs, desc_->output_count, output_id, id_, "output");

  const std::string short_id = id_.substr(id_.rfind('.', id_.rfind('.') - 1) + 1);  // "sampler.generate"
  JobWatch watch{ProgressBar(short_id, display.quiet), display, {}};
  inf_job_callbacks callbacks = INF_JOB_CALLBACKS_INIT;
  callbacks.user_data = &watch;
  callbacks.on_progress = on_progress;
  if (display.on_preview) callbacks.on_preview = on_preview;

  inf_job* job_handle = nullptr;
  const inf_status submitted =
      abi().node_run_async(node_.get(), ordered.data(), desc_->input_count, &callbacks, &job_handle);
  if (submitted != INF_STATUS_OK)
    fail(ErrorKind::invalid_argument, id_, ": ", library_message(abi().node_last_error(node_.get()), submitted));
  const JobRef job(job_handle);
  inf_status result = INF_STATUS_INTERNAL;
  const inf_status waited = abi().job_wait(job.get(), INF_WAIT_FOREVER, &result);
  watch.bar.finish();
  if (waited != INF_STATUS_OK)
    fail(ErrorKind::internal, id_, ": ", library_message(abi().job_last_error(job.get()), waited));
  if (!watch.preview_error.empty()) fail(ErrorKind::io, id_, ": ", watch.preview_error);
  if (result != INF_STATUS_OK) {
    // The library's job messages usually name the node already ("node <id> failed (...): ...").
    const std::string message = library_message(abi().job_last_error(job.get()), result);
    if (message.find(id_) != std::string::npos) fail(ErrorKind::invalid_argument, message);
    fail(ErrorKind::invalid_argument, id_, ": ", message);
  }

  inf_value* value = nullptr;
  const inf_status got = abi().job_get_output(job.get(), output, &value);
  if (got != INF_STATUS_OK) fail(ErrorKind::internal, id_, ": ", library_message(abi().job_last_error(job.get()), got));
  return ValueRef(value);
}

TokensInfo tokens_info(inf_value* tokens) {
  inf_bit_tokens_desc desc = INF_BIT_TOKENS_DESC_INIT;
  const inf_status status = abi().value_get_bit_tokens(tokens, &desc);
  if (status != INF_STATUS_OK) fail(ErrorKind::internal, "bit tokens: ", library_message(abi().value_last_error(tokens), status));
  std::vector<ScaleGrid> grids;
  for (uint32_t k = 0; k < desc.schedule_scales; ++k)
    grids.push_back({static_cast<int>(desc.grids[k].height), static_cast<int>(desc.grids[k].width)});
  const ScaleGrid rope{static_cast<int>(desc.rope_grid.height), static_cast<int>(desc.rope_grid.width)};
  return {desc.images, desc.stored_scales, schedule_from_grids(std::move(grids), rope).describe(0)};  // image size: from the decoded image
}

ValueRef make_text(const std::string& utf8, const std::string& what) {
  inf_value* value = nullptr;
  const inf_status status = abi().value_create_text(utf8.data(), utf8.size(), &value);
  if (status != INF_STATUS_OK) fail(ErrorKind::invalid_argument, what, ": ", library_message(abi().last_error(), status));
  return ValueRef(value);
}

ValueRef concatenate_embeddings(std::vector<ValueRef> embeddings) {
  INF_CHECK(!embeddings.empty(), ErrorKind::internal, "concatenate_embeddings: no embeddings");
  if (embeddings.size() == 1) return std::move(embeddings.front());
  std::vector<float> data;             // [all tokens, channels]
  std::vector<uint32_t> prompt_tokens;  // tokens of each prompt, in order
  uint32_t channels = 0;
  for (const ValueRef& embedding : embeddings) {
    inf_text_embedding_desc desc = INF_TEXT_EMBEDDING_DESC_INIT;
    const inf_status status = abi().value_get_text_embedding(embedding.get(), &desc);
    if (status != INF_STATUS_OK)
      fail(ErrorKind::internal, "text embedding: ", library_message(abi().value_last_error(embedding.get()), status));
    INF_CHECK(channels == 0 || desc.channels == channels, ErrorKind::internal, "text embeddings of ", channels,
              " and ", desc.channels, " channels cannot be batched");
    channels = desc.channels;
    data.insert(data.end(), desc.data, desc.data + size_t{desc.tokens} * desc.channels);
    if (desc.prompts <= 1) prompt_tokens.push_back(desc.tokens);
    else prompt_tokens.insert(prompt_tokens.end(), desc.prompt_tokens, desc.prompt_tokens + desc.prompts);
  }
  inf_text_embedding_desc batch = INF_TEXT_EMBEDDING_DESC_INIT;
  batch.tokens = static_cast<uint32_t>(data.size() / channels);
  batch.channels = channels;
  batch.data = data.data();
  batch.prompts = static_cast<uint32_t>(prompt_tokens.size());
  batch.prompt_tokens = prompt_tokens.data();
  inf_value* value = nullptr;
  const inf_status status = abi().value_create_text_embedding(&batch, &value);
  if (status != INF_STATUS_OK) fail(ErrorKind::invalid_argument, "text embeddings: ", library_message(abi().last_error(), status));
  return ValueRef(value);
}

}  // namespace inf::cli
