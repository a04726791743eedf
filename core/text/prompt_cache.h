// An LRU cache of text-encoder features keyed by token ids, so CFG batches and node graphs
// that re-evaluate the same prompt skip the encoder (Flan-T5-XL: ~1 s per prompt on a CPU).
//
// One cache serves one encoder: the key is the ids alone. Entries are shared host tensors;
// callers must treat them as read-only. Thread-safe; the encoder runs outside the lock, so two
// threads missing the same prompt at once may both encode it (the later result is kept).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "tensor/tensor.h"

namespace inf {

class PromptFeatureCache {
 public:
  using Ids = std::vector<int32_t>;
  using Encoder = std::function<Tensor(const Ids&)>;

  struct Stats {
    uint64_t hits = 0, misses = 0, evictions = 0;
    size_t entries = 0, bytes = 0;
  };

  // Both limits hold at once; a value larger than max_bytes by itself is never stored.
  explicit PromptFeatureCache(size_t max_entries = 64, size_t max_bytes = size_t{256} << 20);

  // The features of `ids`, from the cache or from `encode` (then stored).
  Tensor get_or_encode(const Ids& ids, const Encoder& encode);
  // Lookup alone (counts a hit or a miss); marks the entry most recently used.
  std::optional<Tensor> find(const Ids& ids);
  // Stores (or replaces) the features of `ids`, evicting least recently used entries.
  void insert(const Ids& ids, const Tensor& features);

  void clear();
  Stats stats() const;

 private:
  struct Entry {
    Ids ids;
    Tensor features;
    size_t bytes = 0;
  };
  struct IdsHash {
    size_t operator()(const Ids& ids) const;
  };
  using Order = std::list<Entry>;  // front: most recently used

  void evict_locked();

  const size_t max_entries_, max_bytes_;
  mutable std::mutex mutex_;
  Order order_;
  std::unordered_map<Ids, Order::iterator, IdsHash> index_;
  Stats stats_;
};

}  // namespace inf
