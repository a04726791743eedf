#include "weights/weight_store.h"

#include <nlohmann/json.hpp>

#include "backend/cpu/cpu_ops.h"
#include "common/error.h"
#include "weights/pth_reader.h"
#include "weights/safetensors.h"

namespace inf {
namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// A sharded checkpoint: {"metadata": {...}, "weight_map": {"tensor name": "shard file", ...}}.
WeightFileContents read_sharded_index(const std::string& path) {
  const auto file = MappedFile::open(path);
  const auto* text = reinterpret_cast<const char*>(file->data());
  const auto index = nlohmann::json::parse(text, text + file->size(), nullptr, false);
  INF_CHECK(!index.is_discarded() && index.is_object(), ErrorKind::invalid_data, path,
            ": not a valid JSON object (expected a safetensors index)");
  const auto weight_map = index.find("weight_map");
  INF_CHECK(weight_map != index.end() && weight_map->is_object(), ErrorKind::invalid_data, path,
            ": no \"weight_map\" object");

  WeightFileContents contents;
  if (const auto meta = index.find("metadata"); meta != index.end() && meta->is_object())
    for (const auto& [key, value] : meta->items()) contents.metadata[key] = value.is_string() ? value.get<std::string>() : value.dump();

  // Each shard is parsed once; the map says which of its tensors belong to the model.
  std::map<std::string, std::unordered_map<std::string, TensorRecord>> shards;
  for (const auto& [name, shard_value] : weight_map->items()) {
    INF_CHECK(shard_value.is_string(), ErrorKind::invalid_data, path, ": weight_map entry '", name,
              "' is not a file name");
    const auto& shard = shard_value.get_ref<const std::string&>();
    INF_CHECK(!shard.empty() && shard.find('/') == std::string::npos && shard != "." && shard != "..",
              ErrorKind::invalid_data, path, ": shard name '", shard, "' must be a plain file name in the same folder");
    auto found = shards.find(shard);
    if (found == shards.end()) {
      std::unordered_map<std::string, TensorRecord> by_name;
      try {
        for (auto& record : read_safetensors(directory_of(path) + "/" + shard).tensors)
          by_name.emplace(record.name, std::move(record));
      } catch (const Error& error) {
        // Name the index too: the user opened it, not the shard.
        throw Error(error.kind(), path + ": shard " + shard + ": " + error.what());
      }
      found = shards.emplace(shard, std::move(by_name)).first;
    }
    const auto record = found->second.find(name);
    INF_CHECK(record != found->second.end(), ErrorKind::invalid_data, path, ": weight_map puts '", name,
              "' in ", shard, ", but that shard has no such tensor");
    contents.tensors.push_back(record->second);
  }
  return contents;
}

bool starts_with_zip_magic(const std::string& path) {
  const auto file = MappedFile::open(path);
  return file->size() >= 4 && file->data()[0] == 'P' && file->data()[1] == 'K' && file->data()[2] == 3 &&
         file->data()[3] == 4;
}

bool looks_like_legacy_torch(const std::string& path) {
  // Legacy torch.save output starts with a pickle PROTO opcode (0x80) and a small protocol.
  const auto file = MappedFile::open(path);
  return file->size() >= 2 && file->data()[0] == 0x80 && file->data()[1] <= 5;
}

}  // namespace

WeightStore WeightStore::open(const std::string& path) {
  if (ends_with(path, ".json")) return from_contents(path, read_sharded_index(path));
  if (starts_with_zip_magic(path) || looks_like_legacy_torch(path)) return from_contents(path, read_pth(path));
  return from_contents(path, read_safetensors(path));
}

WeightStore WeightStore::from_contents(std::string source, WeightFileContents contents) {
  WeightStore store;
  store.source_ = std::move(source);
  store.metadata_ = std::move(contents.metadata);
  for (auto& record : contents.tensors) {
    INF_CHECK(record.file != nullptr, ErrorKind::internal, store.source_, ": tensor '", record.name, "' has no file");
    INF_CHECK(!store.records_.count(record.name), ErrorKind::invalid_data, store.source_, ": tensor '", record.name,
              "' appears twice");
    auto& buffer = store.file_buffers_[record.file.get()];
    if (!buffer) buffer = wrap_host_memory(record.file->data(), record.file->size(), record.file, /*read_only=*/true);
    store.names_.push_back(record.name);
    store.records_.emplace(record.name, std::move(record));
  }
  return store;
}

WeightStore WeightStore::from_host_tensors(std::string source, std::vector<std::pair<std::string, Tensor>> tensors) {
  WeightStore store;
  store.source_ = std::move(source);
  for (auto& [name, tensor] : tensors) {
    INF_CHECK(tensor.defined() && tensor.device().is_cpu(), ErrorKind::invalid_argument, store.source_, ": tensor '",
              name, "' is not a host tensor");
    INF_CHECK(!store.records_.count(name), ErrorKind::invalid_argument, store.source_, ": tensor '", name,
              "' appears twice");
    TensorRecord record;
    record.name = name;
    record.dtype = tensor.dtype();
    record.shape = tensor.shape();
    record.strides = tensor.strides();
    store.names_.push_back(name);
    store.records_.emplace(name, std::move(record));
    store.memory_tensors_.emplace(name, std::move(tensor));
  }
  return store;
}

const TensorRecord& WeightStore::record(const std::string& name) const {
  const auto found = records_.find(name);
  if (found == records_.end())
    fail(ErrorKind::invalid_data, source_, ": missing tensor '", name, "' (the file has ", names_.size(), " tensors)");
  return found->second;
}

Tensor WeightStore::get(const std::string& name) const {
  const TensorRecord& entry = record(name);
  if (entry.file == nullptr) return memory_tensors_.at(name);
  const auto& buffer = file_buffers_.at(entry.file.get());
  Tensor view(buffer, entry.dtype, entry.shape, entry.strides, static_cast<size_t>(entry.byte_offset));
  if (entry.byte_offset % dtype_size(entry.dtype) == 0) return view;
  // Typed loads from a misaligned address are undefined behaviour; copy once instead.
  Tensor aligned = Tensor::host(entry.dtype, entry.shape);
  cpu::convert(aligned, view);
  return aligned;
}

Tensor WeightStore::get(const std::string& name, const Shape& expected_shape) const {
  const TensorRecord& entry = record(name);
  INF_CHECK(entry.shape == expected_shape, ErrorKind::invalid_data, source_, ": tensor '", name, "' has shape ",
            shape_string(entry.shape), ", expected ", shape_string(expected_shape));
  return get(name);
}

Tensor WeightStore::get_as(const std::string& name, DType dtype) const {
  Tensor view = get(name);
  if (view.dtype() == dtype && view.is_contiguous()) return view;
  INF_CHECK(view.dtype() == dtype || (dtype_is_float(dtype) && dtype_is_float(view.dtype())), ErrorKind::invalid_data,
            source_, ": tensor '", name, "' is ", dtype_name(view.dtype()), " and cannot be converted to ",
            dtype_name(dtype));
  Tensor converted = Tensor::host(dtype, view.shape());
  cpu::convert(converted, view);
  return converted;
}

Tensor WeightStore::get_part(const std::string& name, int axis, int part, int parts) const {
  Tensor whole = get(name);
  INF_CHECK(parts > 0 && part >= 0 && part < parts, ErrorKind::invalid_argument, "part ", part, " of ", parts,
            " is not a valid slice");
  const int64_t extent = whole.dim(axis);
  INF_CHECK(extent % parts == 0, ErrorKind::invalid_data, source_, ": tensor '", name, "' ", whole.describe(),
            " cannot be split into ", parts, " equal parts along axis ", axis);
  const int64_t length = extent / parts;
  return whole.narrow(axis, part * length, length);
}

WeightStore WeightStore::select(const std::string& prefix) const {
  const std::string dotted = prefix + ".";
  WeightFileContents contents;
  std::vector<std::pair<std::string, Tensor>> in_memory;
  for (const auto& name : names_)
    if (name.compare(0, dotted.size(), dotted) == 0) {
      TensorRecord entry = records_.at(name);
      entry.name = name.substr(dotted.size());
      if (entry.file == nullptr)
        in_memory.emplace_back(entry.name, memory_tensors_.at(name));
      else
        contents.tensors.push_back(std::move(entry));
    }
  INF_CHECK(!contents.tensors.empty() || !in_memory.empty(), ErrorKind::invalid_argument, source_,
            ": no tensors under '", prefix, "'");
  if (!in_memory.empty()) {
    INF_CHECK(contents.tensors.empty(), ErrorKind::internal, source_, ": mixed file and memory tensors");
    WeightStore selected = from_host_tensors(source_ + ":" + prefix, std::move(in_memory));
    for (const auto& [key, value] : metadata_)
      if (key.compare(0, dotted.size(), dotted) == 0) selected.metadata_[key.substr(dotted.size())] = value;
    return selected;
  }
  for (const auto& [key, value] : metadata_)
    if (key.compare(0, dotted.size(), dotted) == 0) contents.metadata[key.substr(dotted.size())] = value;
  return from_contents(source_ + ":" + prefix, std::move(contents));
}

uint64_t WeightStore::total_bytes() const {
  uint64_t total = 0;
  for (const auto& [name, entry] : records_) total += static_cast<uint64_t>(shape_numel(entry.shape)) * dtype_size(entry.dtype);
  return total;
}

}  // namespace inf
