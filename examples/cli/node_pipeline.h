// The CLI as a host of libinfinode: `generate` and `edit` run the built-in nodes through the C
// ABI (plugin_abi/infinode.h), exactly as a node-graph application would, instead of calling
// the engine core beside them. This file holds the host side: the function table, owned
// handles, an engine made from the model flags, and a node job run synchronously with a
// progress bar on stderr. Every failure becomes an exception (inf::Error, or UsageError for
// a parameter the node refuses as out of range) whose one-line message names the node.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "infinode.h"
#include "model/model_manifest.h"

namespace inf::cli {

// The library's function table (the CLI links libinfinode, so it calls inf_get_api directly).
const inf_api& abi();

// Owned references: each releases its handle through the table.
struct ReleaseEngine { void operator()(inf_engine* engine) const; };
struct ReleaseNode { void operator()(inf_node* node) const; };
struct ReleaseValue { void operator()(inf_value* value) const; };
struct ReleaseJob { void operator()(inf_job* job) const; };
using EngineRef = std::unique_ptr<inf_engine, ReleaseEngine>;
using NodeRef = std::unique_ptr<inf_node, ReleaseNode>;
using ValueRef = std::unique_ptr<inf_value, ReleaseValue>;
using JobRef = std::unique_ptr<inf_job, ReleaseJob>;

// Where the models come from (docs/model-manifest.md).
struct ModelFlags {
  std::string model_dir;                     // --model DIR
  std::string transformer, vae, t5, spiece;  // explicit files: override the directory's parts
  std::string random_weights;                // --random-weights NAME: every other part random
  std::string device = "cpu";                // --device cpu|cuda|cuda:N
};

// An engine with the built-in nodes. Without any model flag it uses the compiled-in default
// model directory (INF_DEFAULT_MODEL_DIR) and fails with "no model: ..." when that is missing.
class NodeEngine {
 public:
  explicit NodeEngine(const ModelFlags& flags);
  inf_engine* get() const { return engine_.get(); }
  // The manifest as the nodes will see it: name, origin and defaults, for the files' metadata.
  const ModelManifest& manifest() const { return manifest_; }

 private:
  ModelManifest manifest_;
  EngineRef engine_;
};

// What the host shows while a job runs.
struct JobDisplay {
  bool quiet = false;  // no progress bar
  // Called for every preview image the node sends (on the job's worker thread); NULL asks the
  // node for none. An exception thrown here cancels the job and is rethrown by run().
  std::function<void(const inf_progress& progress, const inf_image_desc& image)> on_preview;
};

// One node of the engine, its parameters set by id, run synchronously.
class NodeRunner {
 public:
  NodeRunner(inf_engine* engine, std::string node_id);
  const std::string& id() const { return id_; }

  // Parameter setters. `flag` names the CLI option the value came from: when given, a value the
  // node refuses (out of range, not a choice) is a UsageError "--flag: <the node's message>";
  // otherwise, and for every other refusal, an inf::Error naming the node and the parameter.
  void set_int(const char* param, int64_t value, const char* flag = nullptr);
  void set_float(const char* param, double value, const char* flag = nullptr);
  void set_bool(const char* param, bool value);
  void set_string(const char* param, const std::string& value, const char* flag = nullptr);

  // Runs one job with the given inputs (by port id; ports left out stay unconnected) and
  // returns the output `output_id`. Blocks until the job is done.
  ValueRef run(const std::vector<std::pair<const char*, inf_value*>>& inputs, const char* output_id,
               const JobDisplay& display);

 private:
  void check_set(inf_status status, const char* param, const char* flag);

  std::string id_;
  NodeRef node_;
  const inf_node_desc* desc_ = nullptr;
};

// A TEXT value; `what` names the text in the error (e.g. "prompt 2"), which quotes the
// library's reason (invalid UTF-8, too long, ...).
ValueRef make_text(const std::string& utf8, const std::string& what);

// What a BIT_TOKENS value holds, for messages and metadata.
struct TokensInfo {
  uint32_t images = 0;
  uint32_t stored_scales = 0;
  std::string schedule;  // "1:1 0.06M, 7 scales 1..16, 521 tokens, 256x256"
};
TokensInfo tokens_info(inf_value* tokens);

// One TEXT_EMBEDDING holding every prompt of `embeddings` in order (the sampler makes one image,
// or one batch, per prompt). A single embedding is passed through.
ValueRef concatenate_embeddings(std::vector<ValueRef> embeddings);

}  // namespace inf::cli
