// What the built-in nodes of one engine share: models loaded from files, by path, so that
// several nodes (and several jobs) use one copy. Later nodes add their models here (the T5
// encoder, the transformer, the VAE), which is what "engines share weights between nodes" means.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "text/t5_tokenizer.h"

namespace inf::nodes {

struct LoadedTokenizer {
  explicit LoadedTokenizer(T5Tokenizer loaded) : tokenizer(std::move(loaded)) {}
  T5Tokenizer tokenizer;
  std::mutex mutex;  // one encode at a time: SentencePiece promises no concurrent use
};

class SharedModels {
 public:
  // Loads on first use; throws inf::Error naming the file when it cannot.
  std::shared_ptr<LoadedTokenizer> tokenizer(const std::string& spiece_model_path);

 private:
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<LoadedTokenizer>> tokenizers_;
};

}  // namespace inf::nodes
