#include "tensor/buffer.h"

#include <cstdlib>
#include <cstring>
#include <new>

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

}  // namespace

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
