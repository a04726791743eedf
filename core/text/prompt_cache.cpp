#include "text/prompt_cache.h"

namespace inf {

PromptFeatureCache::PromptFeatureCache(size_t max_entries, size_t max_bytes)
    : max_entries_(max_entries), max_bytes_(max_bytes) {}

// FNV-1a over the ids' values: stable and cheap for prompts of at most a few hundred tokens.
size_t PromptFeatureCache::IdsHash::operator()(const Ids& ids) const {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (const int32_t id : ids) {
    hash ^= static_cast<uint32_t>(id);
    hash *= 0x100000001b3ull;
  }
  return static_cast<size_t>(hash);
}

std::optional<Tensor> PromptFeatureCache::find(const Ids& ids) {
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto found = index_.find(ids);
  if (found == index_.end()) {
    ++stats_.misses;
    return std::nullopt;
  }
  ++stats_.hits;
  order_.splice(order_.begin(), order_, found->second);
  return found->second->features;
}

void PromptFeatureCache::insert(const Ids& ids, const Tensor& features) {
  const size_t bytes = features.nbytes();
  const std::lock_guard<std::mutex> lock(mutex_);
  if (const auto found = index_.find(ids); found != index_.end()) {
    stats_.bytes -= found->second->bytes;
    order_.erase(found->second);
    index_.erase(found);
  }
  if (bytes > max_bytes_ || max_entries_ == 0) return;
  order_.push_front(Entry{ids, features, bytes});
  index_.emplace(ids, order_.begin());
  stats_.bytes += bytes;
  evict_locked();
}

Tensor PromptFeatureCache::get_or_encode(const Ids& ids, const Encoder& encode) {
  if (std::optional<Tensor> cached = find(ids)) return *cached;
  Tensor features = encode(ids);
  insert(ids, features);
  return features;
}

void PromptFeatureCache::evict_locked() {
  while (!order_.empty() && (order_.size() > max_entries_ || stats_.bytes > max_bytes_)) {
    const Entry& oldest = order_.back();
    stats_.bytes -= oldest.bytes;
    index_.erase(oldest.ids);
    order_.pop_back();
    ++stats_.evictions;
  }
}

void PromptFeatureCache::clear() {
  const std::lock_guard<std::mutex> lock(mutex_);
  order_.clear();
  index_.clear();
  stats_.bytes = 0;
}

PromptFeatureCache::Stats PromptFeatureCache::stats() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  Stats stats = stats_;
  stats.entries = order_.size();
  return stats;
}

}  // namespace inf
