// What the built-in nodes of one engine share: the engine's model manifest (model directory
// and/or inline JSON, core/model/model_manifest.h), its compute device, and the networks
// loaded from them, each loaded once on first use and then used by every node and job of the
// engine ("engines share weights between nodes").
//
// Model compute is serialised per engine (lock compute_mutex() around it): the backend is one
// stream of work, and on a CPU one job already uses every core. Loading happens under a
// separate lock, and a failed load is retried on the next use (the file may appear).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "backend/backend.h"
#include "model/infinity/config.h"
#include "model/infinity/transformer.h"
#include "model/model_manifest.h"
#include "model/t5/t5_encoder.h"
#include "model/vae/bsq_vae.h"
#include "text/prompt_cache.h"
#include "text/t5_tokenizer.h"
#include "weights/weight_store.h"

namespace inf::nodes {

// Flan-T5's SentencePiece tokenizer, or the built-in byte tokenizer of random pipelines
// (UTF-8 byte b -> id b + 3, then EOS 1; same checks on the text as the real one).
class LoadedTokenizer {
 public:
  explicit LoadedTokenizer(T5Tokenizer spiece) : spiece_(std::move(spiece)) {}
  LoadedTokenizer() = default;  // the byte tokenizer
  // Thread-safe (SentencePiece promises no concurrent use, so calls are serialised).
  TokenizedPrompt encode(std::string_view utf8_text, int max_length);

 private:
  std::optional<T5Tokenizer> spiece_;
  std::mutex mutex_;
};

struct LoadedT5 {
  LoadedT5(Backend& backend, WeightStore store) : weights(std::move(store)), encoder(backend, weights) {}
  WeightStore weights;
  T5Encoder encoder;
  PromptFeatureCache cache;  // features by token ids: re-evaluated graphs skip the encoder
};

struct LoadedTransformer {
  LoadedTransformer(Backend& backend, WeightStore store) : weights(std::move(store)), model(backend, weights) {}
  WeightStore weights;
  InfinityTransformer model;
};

struct LoadedVae {
  LoadedVae(Backend& backend, WeightStore store) : weights(std::move(store)), vae(backend, weights) {}
  WeightStore weights;
  BsqVae vae;
};

class SharedModels {
 public:
  SharedModels(std::string model_dir, std::string device, std::string inline_manifest);

  // Each throws inf::Error (naming the manifest, file or device) when it cannot be had.
  const ModelManifest& manifest();
  Backend& backend();
  // explicit_spiece_path overrides the manifest's tokenizer when not empty.
  std::shared_ptr<LoadedTokenizer> tokenizer(const std::string& explicit_spiece_path = "");
  std::shared_ptr<LoadedT5> t5();
  std::shared_ptr<LoadedTransformer> transformer();
  std::shared_ptr<LoadedVae> vae();
  // The transformer's configuration from its tensor list alone (no weights loaded): what
  // image.encode needs to lay out bit tokens for it (bits per token, spatial patch).
  InfinityConfig transformer_config();
  // VAE latents per token side: sqrt(transformer bits / VAE bits) (1 for 2B, 2 for 8B).
  int spatial_patch();

  std::mutex& compute_mutex() { return compute_mutex_; }

 private:
  WeightStore open_weights(const ModelSource& source, const char* part);

  const std::string model_dir_, device_, inline_manifest_;
  std::mutex load_mutex_;  // guards everything below
  std::optional<ModelManifest> manifest_;
  std::unique_ptr<Backend> backend_;
  std::map<std::string, std::shared_ptr<LoadedTokenizer>> tokenizers_;
  std::shared_ptr<LoadedT5> t5_;
  std::shared_ptr<LoadedTransformer> transformer_;
  std::shared_ptr<LoadedVae> vae_;
  std::optional<InfinityConfig> transformer_config_;
  std::mutex compute_mutex_;
};

}  // namespace inf::nodes
