// safetensors: an 8-byte little-endian header length, a JSON header, then the tensor bytes.
// The reader validates everything before a tensor is handed out: header length within the
// file and below a sane bound, JSON well-formed and shallow, known dtypes, offsets inside the
// data area, byte size equal to numel * element size, no two tensors overlapping.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tensor/tensor.h"
#include "weights/tensor_record.h"

namespace inf {

// Largest JSON header accepted. The 8B index's biggest shard header is ~100 KB; 100 MB is
// far beyond any real file and keeps a forged length from making us parse gigabytes.
constexpr uint64_t kMaxSafetensorsHeaderBytes = 100ull << 20;

WeightFileContents read_safetensors(const std::string& path);
WeightFileContents read_safetensors(std::shared_ptr<const MappedFile> file);

struct TensorToWrite {
  std::string name;
  Tensor tensor;         // a host tensor; any strides (views into a weight file are fine)
  DType dtype;           // written as this dtype; float tensors convert, others must match
};

// Streams the tensors to `path` one at a time (only one converted tensor is in memory at
// once) through a temporary file in the same directory that is renamed into place, so a
// failure never leaves half a file behind.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata);

}  // namespace inf
