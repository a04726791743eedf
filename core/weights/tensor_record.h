// What a weight-file parser reports about one tensor: where its bytes are inside a mapped
// file and how to view them. Parsers (safetensors, .pth) produce records; WeightStore turns
// them into Tensors on demand.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"
#include "weights/mapped_file.h"

namespace inf {

struct TensorRecord {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  std::vector<int64_t> strides;  // in elements; contiguous_strides(shape) for safetensors
  std::shared_ptr<const MappedFile> file;
  uint64_t byte_offset = 0;  // of element 0, from the start of the file
  // The byte range [range_begin, range_end) of the file that the parser validated as holding
  // this tensor's storage; every element reachable through shape/strides lies inside it.
  uint64_t range_begin = 0;
  uint64_t range_end = 0;
};

// A parsed weight file: tensors in file order, plus string metadata.
struct WeightFileContents {
  std::vector<TensorRecord> tensors;
  std::map<std::string, std::string> metadata;
};

}  // namespace inf
