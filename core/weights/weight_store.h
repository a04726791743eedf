// WeightStore: every tensor of a model's weight files, looked up by name.
//
// open() reads a single .safetensors file, a sharded "*.safetensors.index.json", or a
// PyTorch checkpoint (.pth/.pt/.bin, through the restricted reader). Only headers are parsed
// up front; tensor bytes stay in the mapped files until a tensor is used (lazy loading), and
// get() hands out zero-copy, read-only views of them.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "tensor/tensor.h"
#include "weights/tensor_record.h"

namespace inf {

class WeightStore {
 public:
  // Detects the format from the name (".json" index) or the first bytes (zip = PyTorch).
  static WeightStore open(const std::string& path);
  static WeightStore from_contents(std::string source, WeightFileContents contents);
  // Host tensors held in memory under the given names (random weights for benchmarks, tests).
  static WeightStore from_host_tensors(std::string source, std::vector<std::pair<std::string, Tensor>> tensors);

  const std::string& source() const { return source_; }
  const std::vector<std::string>& names() const { return names_; }  // file order
  size_t size() const { return names_.size(); }
  bool contains(const std::string& name) const { return records_.count(name) != 0; }
  const TensorRecord& record(const std::string& name) const;  // throws naming the missing tensor
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Zero-copy host view (read-only). Unaligned data gets an aligned copy instead.
  Tensor get(const std::string& name) const;
  // Same, with a shape check: the error names the tensor, the file, and both shapes.
  Tensor get(const std::string& name, const Shape& expected_shape) const;
  // A host tensor of `dtype`: the view itself when it already matches and is contiguous,
  // otherwise a converted contiguous copy. Only float tensors convert.
  Tensor get_as(const std::string& name, DType dtype) const;
  // Part `part` of `parts` equal slices along `axis` (tensor-parallel sharding at load).
  Tensor get_part(const std::string& name, int axis, int part, int parts) const;

  // The tensors named "<prefix>.<rest>", renamed to "<rest>" (e.g. select("vae") on the
  // official VAE checkpoint). Metadata under the prefix comes along the same way.
  WeightStore select(const std::string& prefix) const;

  // Total bytes of all tensors as stored.
  uint64_t total_bytes() const;

 private:
  std::string source_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, TensorRecord> records_;
  std::map<std::string, std::string> metadata_;
  // One read-only Buffer per mapped file, so tensors of a file share it.
  std::unordered_map<const MappedFile*, std::shared_ptr<Buffer>> file_buffers_;
  // Tensors that live in memory rather than in a file (their records have no file).
  std::unordered_map<std::string, Tensor> memory_tensors_;
};

}  // namespace inf
