// Stream-ordered device memory. Every allocation comes from the device's memory pool (the
// default one unless the host set another) through cudaMallocAsync on the backend's stream and
// goes back with cudaFreeAsync on the same stream, so freeing a tensor whose last use is still
// queued is safe and memory is reused without a device-wide synchronisation.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <memory>

#include "backend/cuda/common.cuh"
#include "tensor/buffer.h"
#include "tensor/tensor.h"

namespace inf::cuda {

// Owns the backend's non-blocking stream. Shared by the backend and every buffer it handed out,
// so a tensor that outlives its backend can still free its memory in stream order.
class CudaStream {
 public:
  explicit CudaStream(int device);
  ~CudaStream();  // synchronises, then destroys the stream
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;

  cudaStream_t get() const { return stream_; }
  int device() const { return device_; }

 private:
  int device_;
  cudaStream_t stream_ = nullptr;
};

class DeviceMemoryPool {
 public:
  // Configures the device's pool to keep freed memory (no release threshold), so a
  // steady-state denoising loop allocates nothing from the driver after the first step.
  DeviceMemoryPool(int device, std::shared_ptr<CudaStream> stream);

  // `bytes` of uninitialised device memory, usable by work queued on the stream from now on.
  std::shared_ptr<Buffer> allocate(size_t bytes);
  // A contiguous device tensor; contents unspecified.
  Tensor alloc_tensor(DType dtype, const Shape& shape);

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_->get(); }

 private:
  int device_;
  std::shared_ptr<CudaStream> stream_;
  // Devices without memory pool support fall back to cudaMalloc/cudaFree (cudaFree
  // synchronises the device, which is slow but keeps frees correctly ordered).
  bool stream_ordered_ = true;
};

}  // namespace inf::cuda
