#include "tensor/buffer.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "common/error.h"

namespace inf {
namespace {

constexpr size_t kHostAlignment = 64;  // a cache line, and enough for AVX-512 loads

class HostBuffer final : public Buffer {
 public:
  HostBuffer(void* data, size_t size) : Buffer(data, size, Device{}, false) {}
  ~HostBuffer() override { std::free(data()); }
};

class BorrowedHostBuffer final : public Buffer {
 public:
  BorrowedHostBuffer(const void* data, size_t size, std::shared_ptr<const void> owner, bool read_only)
      : Buffer(const_cast<void*>(data), size, Device{}, read_only), owner_(std::move(owner)) {}

 private:
  std::shared_ptr<const void> owner_;
};

// Freed scratch blocks by size class. Blocks of at least kPooledMinimum bytes are rounded up to
// a multiple of kPooledGranule so similar sizes share a class; the cache holds at most
// kPoolLimit bytes and frees whatever would exceed it.
constexpr size_t kPooledMinimum = size_t{64} << 10;
constexpr size_t kPooledGranule = size_t{64} << 10;
constexpr size_t kPoolLimit = size_t{64} << 20;

class ScratchPool {
 public:
  void* take(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto found = free_.find(bytes);
      if (found != free_.end() && !found->second.empty()) {
        void* block = found->second.back();
        found->second.pop_back();
        cached_bytes_ -= bytes;
        return block;
      }
    }
    void* block = std::aligned_alloc(kHostAlignment, bytes);
    if (block == nullptr) fail(ErrorKind::out_of_memory, "cannot allocate ", bytes, " bytes of host memory");
    return block;
  }

  void give_back(void* block, size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_bytes_ + bytes <= kPoolLimit) {
        free_[bytes].push_back(block);
        cached_bytes_ += bytes;
        return;
      }
    }
    std::free(block);
  }

  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, blocks] : free_)
      for (void* block : blocks) std::free(block);
    free_.clear();
    cached_bytes_ = 0;
  }

 private:
  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
  size_t cached_bytes_ = 0;
};

ScratchPool& scratch_pool() {
  static ScratchPool* pool = new ScratchPool();  // never destroyed: buffers may outlive static teardown
  return *pool;
}

class PooledHostBuffer final : public Buffer {
 public:
  PooledHostBuffer(void* data, size_t size, size_t block_bytes)
      : Buffer(data, size, Device{}, false), block_bytes_(block_bytes) {}
  ~PooledHostBuffer() override { scratch_pool().give_back(data(), block_bytes_); }

 private:
  size_t block_bytes_;
};

}  // namespace

std::shared_ptr<Buffer> make_scratch_host_buffer(size_t bytes) {
  if (bytes < kPooledMinimum) return make_host_buffer(bytes, /*zeroed=*/false);
  const size_t block_bytes = (bytes + kPooledGranule - 1) / kPooledGranule * kPooledGranule;
  return std::make_shared<PooledHostBuffer>(scratch_pool().take(block_bytes), bytes, block_bytes);
}

void release_cached_host_memory() { scratch_pool().release(); }

std::string Device::describe() const {
  return kind == DeviceKind::cpu ? std::string("cpu") : "cuda:" + std::to_string(index);
}

std::shared_ptr<Buffer> make_host_buffer(size_t bytes, bool zeroed) {
  const size_t rounded = (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
  void* data = std::aligned_alloc(kHostAlignment, rounded == 0 ? kHostAlignment : rounded);
  if (data == nullptr) fail(ErrorKind::out_of_memory, "cannot allocate ", bytes, " bytes of host memory");
  if (zeroed) std::memset(data, 0, rounded == 0 ? kHostAlignment : rounded);
  return std::make_shared<HostBuffer>(data, bytes);
}

std::shared_ptr<Buffer> wrap_host_memory(const void* data, size_t bytes, std::shared_ptr<const void> owner,
                                         bool read_only) {
  return std::make_shared<BorrowedHostBuffer>(data, bytes, std::move(owner), read_only);
}

}  // namespace inf
