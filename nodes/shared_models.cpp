#include "shared_models.h"

#include <cmath>

#include "common/error.h"
#include "common/log.h"
#include "model/infinity/random_weights.h"
#include "model/t5/random_t5_weights.h"
#include "model/vae/random_vae_weights.h"

namespace inf::nodes {
namespace {

// Loads into `slot` on first use; a failure leaves it empty so the next call tries again.
template <typename T, typename Make>
std::shared_ptr<T> load_once(std::shared_ptr<T>& slot, Make&& make) {
  if (slot == nullptr) slot = make();
  return slot;
}

// An engine with neither a model directory nor a manifest is the usual first failure of a host
// run without any model (the default model is not installed, or INFINODE_MODEL_DIR is set but
// empty): say how to give it one rather than which manifest key is missing.
[[noreturn]] void missing_part(const ModelManifest& manifest, const char* part, const char* key,
                               const std::string& model_dir, const std::string& inline_manifest) {
  if (model_dir.empty() && inline_manifest.empty())
    fail(ErrorKind::invalid_argument, "no model, so no ", part,
         ": the engine has no model directory and no manifest. Give it a model directory (a host's --model DIR), "
         "set INFINODE_MODEL_DIR to one, or install the library's default model (models/default in a source "
         "build); a manifest with \"", key, "\" or {\"random\": \"tiny\"} works too");
  fail(ErrorKind::invalid_argument, "no ", part, " in the model manifest ", manifest.origin, ": set \"", key,
       "\" (or create the engine with a model directory that holds one, or {\"random\": \"tiny\"})");
}

}  // namespace

TokenizedPrompt LoadedTokenizer::encode(std::string_view utf8_text, int max_length) {
  if (!spiece_) return byte_tokenize(utf8_text, max_length);
  std::lock_guard<std::mutex> lock(mutex_);
  return spiece_->encode(utf8_text, max_length);
}

SharedModels::SharedModels(std::string model_dir, std::string device, std::string inline_manifest)
    : model_dir_(std::move(model_dir)), device_(std::move(device)), inline_manifest_(std::move(inline_manifest)) {}

const ModelManifest& SharedModels::manifest() {
  std::lock_guard<std::mutex> lock(load_mutex_);
  if (!manifest_) manifest_ = ModelManifest::resolve(model_dir_, inline_manifest_);
  return *manifest_;
}

Backend& SharedModels::backend() {
  std::lock_guard<std::mutex> lock(load_mutex_);
  if (backend_ == nullptr) backend_ = create_backend(device_);
  return *backend_;
}

WeightStore SharedModels::open_weights(const ModelSource& source, const char* part) {
  const std::string kind = part;
  if (!source.path.empty()) {
    log_info("loading the ", part, " from ", source.describe());
    WeightStore store = WeightStore::open(source.path);
    if (!source.select.empty()) return store.select(source.select);
    // Official tokenizer checkpoints keep the VAE under "vae." (the CLI's encode does the same).
    if (kind == "VAE")
      for (const auto& name : store.names())
        if (name.compare(0, 4, "vae.") == 0) return store.select("vae");
    return store;
  }
  if (kind == "transformer") return make_random_infinity_weights(source.random_config, source.seed);
  if (kind == "VAE") return make_random_vae_weights(source.random_config, source.seed);
  return make_random_t5_weights(source.random_config, source.seed);
}

std::shared_ptr<LoadedTokenizer> SharedModels::tokenizer(const std::string& explicit_spiece_path) {
  ModelSource source;
  if (!explicit_spiece_path.empty()) {
    source.path = explicit_spiece_path;
  } else {
    source = manifest().spiece;
    if (source.empty()) missing_part(manifest(), "tokenizer", "spiece", model_dir_, inline_manifest_);
  }
  std::lock_guard<std::mutex> lock(load_mutex_);
  auto& slot = tokenizers_[source.describe()];
  try {
    return load_once(slot, [&] {
      return source.builtin.empty() ? std::make_shared<LoadedTokenizer>(T5Tokenizer::load(source.path))
                                    : std::make_shared<LoadedTokenizer>();
    });
  } catch (...) {
    tokenizers_.erase(source.describe());
    throw;
  }
}

std::shared_ptr<LoadedT5> SharedModels::t5() {
  const ModelSource source = manifest().t5;
  if (source.empty()) missing_part(manifest(), "T5 text encoder", "t5", model_dir_, inline_manifest_);
  Backend& device = backend();
  std::lock_guard<std::mutex> lock(load_mutex_);
  return load_once(t5_, [&] { return std::make_shared<LoadedT5>(device, open_weights(source, "T5 encoder")); });
}

std::shared_ptr<LoadedTransformer> SharedModels::transformer() {
  const ModelSource source = manifest().transformer;
  if (source.empty()) missing_part(manifest(), "transformer", "transformer", model_dir_, inline_manifest_);
  Backend& device = backend();
  std::lock_guard<std::mutex> lock(load_mutex_);
  return load_once(transformer_,
                   [&] { return std::make_shared<LoadedTransformer>(device, open_weights(source, "transformer")); });
}

std::shared_ptr<LoadedVae> SharedModels::vae() {
  const ModelSource source = manifest().vae;
  if (source.empty()) missing_part(manifest(), "VAE", "vae", model_dir_, inline_manifest_);
  Backend& device = backend();
  std::lock_guard<std::mutex> lock(load_mutex_);
  return load_once(vae_, [&] { return std::make_shared<LoadedVae>(device, open_weights(source, "VAE")); });
}

InfinityConfig SharedModels::transformer_config() {
  const ModelSource source = manifest().transformer;
  if (source.empty()) missing_part(manifest(), "transformer", "transformer", model_dir_, inline_manifest_);
  std::lock_guard<std::mutex> lock(load_mutex_);
  if (transformer_) return transformer_->model.config();
  if (!transformer_config_) {
    transformer_config_ = InfinityConfig::from_weights(
        source.path.empty() ? make_infinity_weight_shapes(source.random_config) : WeightStore::open(source.path));
  }
  return *transformer_config_;
}

int SharedModels::spatial_patch() {
  const int transformer_bits = transformer_config().bits_per_token;
  const int vae_bits = vae()->vae.config().bits;
  const int patch = static_cast<int>(std::lround(std::sqrt(static_cast<double>(transformer_bits) / vae_bits)));
  INF_CHECK(patch >= 1 && patch * patch * vae_bits == transformer_bits, ErrorKind::invalid_data, "the transformer's ",
            transformer_bits, " bits per token are not the VAE's ", vae_bits, " bits times a square patch (",
            manifest().origin, ")");
  return patch;
}

}  // namespace inf::nodes
