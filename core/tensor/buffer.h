// Memory that tensors view: host heap blocks, read-only file mappings and device allocations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace inf {

enum class DeviceKind : uint8_t { cpu, cuda };

struct Device {
  DeviceKind kind = DeviceKind::cpu;
  int index = 0;

  bool is_cpu() const { return kind == DeviceKind::cpu; }
  bool operator==(const Device& other) const { return kind == other.kind && index == other.index; }
  bool operator!=(const Device& other) const { return !(*this == other); }
  std::string describe() const;  // "cpu", "cuda:0"
};

// A contiguous block of bytes on one device. The buffer frees its memory (or drops the
// mapping / returns the block to a pool) when the last tensor referring to it is gone.
class Buffer {
 public:
  virtual ~Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* data() const { return data_; }
  size_t size() const { return size_; }
  Device device() const { return device_; }
  // Read-only buffers view file mappings; writing through them would fault.
  bool read_only() const { return read_only_; }

 protected:
  Buffer(void* data, size_t size, Device device, bool read_only)
      : data_(data), size_(size), device_(device), read_only_(read_only) {}

 private:
  void* data_;
  size_t size_;
  Device device_;
  bool read_only_;
};

// 64-byte aligned host memory, zero-filled unless `zeroed` is false (backend scratch that is
// always written before it is read skips the memset).
std::shared_ptr<Buffer> make_host_buffer(size_t bytes, bool zeroed = true);

// Scratch host memory for backend activations (contents unspecified). Large blocks come from
// a process-wide cache of freed blocks, so the per-op allocations of a forward pass reuse
// pages that are already mapped instead of faulting fresh ones in every time.
std::shared_ptr<Buffer> make_scratch_host_buffer(size_t bytes);
// Returns the cached blocks to the system (e.g. after a large generation).
void release_cached_host_memory();

// Views memory someone else owns; `owner` is kept alive as long as the buffer is.
std::shared_ptr<Buffer> wrap_host_memory(const void* data, size_t bytes, std::shared_ptr<const void> owner,
                                         bool read_only);

}  // namespace inf
