#include "shared_models.h"

namespace inf::nodes {

std::shared_ptr<LoadedTokenizer> SharedModels::tokenizer(const std::string& spiece_model_path) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = tokenizers_[spiece_model_path];
  if (slot == nullptr) {
    try {
      slot = std::make_shared<LoadedTokenizer>(T5Tokenizer::load(spiece_model_path));
    } catch (...) {
      tokenizers_.erase(spiece_model_path);  // a failed load is retried next time (the file may appear)
      throw;
    }
  }
  return slot;
}

}  // namespace inf::nodes
