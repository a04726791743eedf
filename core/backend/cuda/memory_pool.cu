#include "backend/cuda/memory_pool.cuh"

#include <cstdint>
#include <cstdio>
#include <utility>

namespace inf::cuda {

void report_cuda_error_in_destructor(cudaError_t status, const char* what) {
  if (status == cudaSuccess || status == cudaErrorCudartUnloading) return;
  // No logger dependency here: this runs in destructors, possibly during teardown.
  std::fprintf(stderr, "infinode: cuda: %s failed in a destructor: %s (%s)\n", what, cudaGetErrorName(status),
               cudaGetErrorString(status));
}

namespace {

// Runs `fn` with `device` current (not restored, see make_current); never throws (destructors).
template <typename Fn>
void on_device_noexcept(int device, const char* what, Fn&& fn) noexcept {
  int current = -1;
  if (cudaGetDevice(&current) != cudaSuccess || current != device) {
    const cudaError_t status = cudaSetDevice(device);
    if (status != cudaSuccess) {
      report_cuda_error_in_destructor(status, what);
      return;
    }
  }
  report_cuda_error_in_destructor(fn(), what);
}

// A block of device memory from DeviceMemoryPool. The destructor returns it in stream order:
// work already queued that reads or writes it finishes before the memory is reused.
class DeviceBuffer final : public Buffer {
 public:
  DeviceBuffer(void* data, size_t size, int device, std::shared_ptr<CudaStream> stream, bool stream_ordered)
      : Buffer(data, size, Device{DeviceKind::cuda, device}, /*read_only=*/false),
        stream_(std::move(stream)),
        stream_ordered_(stream_ordered) {}

  ~DeviceBuffer() override {
    void* memory = data();
    if (memory == nullptr) return;  // zero-byte allocations own nothing
    const cudaStream_t stream = stream_->get();
    if (stream_ordered_) {
      on_device_noexcept(stream_->device(), "cudaFreeAsync", [&] { return cudaFreeAsync(memory, stream); });
    } else {
      on_device_noexcept(stream_->device(), "cudaFree", [&] { return cudaFree(memory); });
    }
  }

 private:
  std::shared_ptr<CudaStream> stream_;  // keeps the stream alive until this memory is freed
  bool stream_ordered_;
};

}  // namespace

// ---- CudaStream ----

CudaStream::CudaStream(int device) : device_(device) {
  make_current(device);
  // Non-blocking: the backend's work must not serialise with the legacy default stream that a
  // host application may be using.
  cuda_check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
}

CudaStream::~CudaStream() {
  if (stream_ == nullptr) return;
  on_device_noexcept(device_, "cudaStreamSynchronize (stream teardown)",
                     [&] { return cudaStreamSynchronize(stream_); });
  on_device_noexcept(device_, "cudaStreamDestroy", [&] { return cudaStreamDestroy(stream_); });
}

// ---- DeviceMemoryPool ----

DeviceMemoryPool::DeviceMemoryPool(int device, std::shared_ptr<CudaStream> stream)
    : device_(device), stream_(std::move(stream)) {
  INF_CHECK(stream_ != nullptr, ErrorKind::internal, "cuda: memory pool needs a stream");
  make_current(device_);
  int pools_supported = 0;
  cuda_check(cudaDeviceGetAttribute(&pools_supported, cudaDevAttrMemoryPoolsSupported, device_),
             "cudaDeviceGetAttribute(MemoryPoolsSupported)");
  stream_ordered_ = pools_supported != 0;
  if (!stream_ordered_) return;

  // The pool cudaMallocAsync draws from: the default one unless the host application set another.
  cudaMemPool_t pool = nullptr;
  cuda_check(cudaDeviceGetMemPool(&pool, device_), "cudaDeviceGetMemPool");
  // By default the pool returns freed memory to the driver at every synchronisation; keeping it
  // avoids re-mapping the same activations every step.
  uint64_t keep_everything = UINT64_MAX;
  cuda_check(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep_everything),
             "cudaMemPoolSetAttribute(ReleaseThreshold)");
}

std::shared_ptr<Buffer> DeviceMemoryPool::allocate(size_t bytes) {
  void* memory = nullptr;
  if (bytes > 0) {
    make_current(device_);
    const cudaError_t status =
        stream_ordered_ ? cudaMallocAsync(&memory, bytes, stream_->get()) : cudaMalloc(&memory, bytes);
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // clear the non-sticky error so later checks do not see it
      size_t free_bytes = 0;
      size_t total_bytes = 0;
      (void)cudaMemGetInfo(&free_bytes, &total_bytes);
      (void)cudaGetLastError();
      fail(ErrorKind::out_of_memory, "cuda:", device_, ": out of device memory allocating ", bytes, " bytes (",
           free_bytes >> 20, " MiB free of ", total_bytes >> 20, " MiB)");
    }
    cuda_check(status, stream_ordered_ ? "cudaMallocAsync" : "cudaMalloc");
  }
  try {
    return std::make_shared<DeviceBuffer>(memory, bytes, device_, stream_, stream_ordered_);
  } catch (...) {
    // make_shared itself failed (host OOM): give the block back before propagating.
    if (memory != nullptr) {
      report_cuda_error_in_destructor(stream_ordered_ ? cudaFreeAsync(memory, stream_->get()) : cudaFree(memory),
                                      "free after failed allocation");
    }
    throw;
  }
}

Tensor DeviceMemoryPool::alloc_tensor(DType dtype, const Shape& shape) {
  const int64_t count = shape_numel(shape);  // validates dims and overflow
  const size_t element_size = dtype_size(dtype);
  INF_CHECK(static_cast<uint64_t>(count) <= SIZE_MAX / element_size, ErrorKind::invalid_argument,
            "cuda alloc: ", shape_string(shape), " of ", dtype_name(dtype), " is too large");
  const size_t bytes = static_cast<size_t>(count) * element_size;
  return Tensor(allocate(bytes), dtype, shape);
}

}  // namespace inf::cuda
