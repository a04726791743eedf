#include "weights/safetensors.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "backend/cpu/cpu_ops.h"
#include "common/error.h"
#include "common/json_depth.h"

namespace inf {
namespace {

using nlohmann::json;

constexpr int kMaxJsonDepth = 16;  // the format needs 3 levels; refuse deep nesting before parsing

uint64_t read_le64(const uint8_t* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

TensorRecord parse_entry(const std::string& path, const std::string& name, const json& entry, uint64_t data_begin,
                         uint64_t data_size) {
  auto bad = [&](auto&&... parts) {
    fail(ErrorKind::invalid_data, path, ": tensor '", name, "': ", parts...);
  };
  if (!entry.is_object()) bad("header entry is not an object");
  const auto dtype_field = entry.find("dtype");
  const auto shape_field = entry.find("shape");
  const auto offsets_field = entry.find("data_offsets");
  if (dtype_field == entry.end() || !dtype_field->is_string()) bad("missing or non-string \"dtype\"");
  if (shape_field == entry.end() || !shape_field->is_array()) bad("missing or non-array \"shape\"");
  if (offsets_field == entry.end() || !offsets_field->is_array() || offsets_field->size() != 2)
    bad("\"data_offsets\" must be [begin, end]");

  TensorRecord record;
  record.name = name;
  const auto& dtype_text = dtype_field->get_ref<const std::string&>();
  const auto dtype = dtype_from_safetensors_name(dtype_text);
  if (!dtype) bad("unsupported dtype \"", dtype_text, "\" (infinode reads F32, BF16, F16, U8, I32, I64)");
  record.dtype = *dtype;
  if (shape_field->size() > 8) bad("shape has ", shape_field->size(), " dims (at most 8 supported)");
  for (const auto& extent : *shape_field) {
    if (!extent.is_number_unsigned()) bad("shape ", shape_field->dump(), " has a non-integer or negative dim");
    const auto value = extent.get<uint64_t>();
    if (value > (1ull << 40)) bad("shape ", shape_field->dump(), " has an absurd dim");
    record.shape.push_back(static_cast<int64_t>(value));
  }
  for (const auto& offset : *offsets_field)
    if (!offset.is_number_unsigned()) bad("data_offsets ", offsets_field->dump(), " are not non-negative integers");
  const auto begin = (*offsets_field)[0].get<uint64_t>();
  const auto end = (*offsets_field)[1].get<uint64_t>();
  if (begin > end || end > data_size)
    bad("data_offsets [", begin, ", ", end, "] out of range: the data area holds ", data_size, " bytes");
  int64_t numel = 0;
  try {
    numel = shape_numel(record.shape);
  } catch (const Error&) {
    bad("shape ", shape_field->dump(), " overflows");
  }
  // numel fits in int64, so numel * (at most 8) fits in uint64.
  const uint64_t expected_bytes = static_cast<uint64_t>(numel) * dtype_size(record.dtype);
  if (expected_bytes != end - begin)
    bad(dtype_text, shape_string(record.shape), " needs ", expected_bytes, " bytes but data_offsets span ",
        end - begin);
  record.strides = contiguous_strides(record.shape);
  record.byte_offset = data_begin + begin;
  record.range_begin = data_begin + begin;
  record.range_end = data_begin + end;
  return record;
}

}  // namespace

WeightFileContents read_safetensors(const std::string& path) { return read_safetensors(MappedFile::open(path)); }

WeightFileContents read_safetensors(std::shared_ptr<const MappedFile> file) {
  const std::string& path = file->path();
  const uint64_t file_size = file->size();
  INF_CHECK(file_size >= 8, ErrorKind::invalid_data, path, ": truncated: ", file_size,
            " bytes, shorter than the 8-byte safetensors header length");
  const uint64_t header_bytes = read_le64(file->data());
  INF_CHECK(header_bytes <= kMaxSafetensorsHeaderBytes, ErrorKind::invalid_data, path, ": header length ",
            header_bytes, " is absurd (limit ", kMaxSafetensorsHeaderBytes, "); not a safetensors file?");
  INF_CHECK(header_bytes <= file_size - 8, ErrorKind::invalid_data, path, ": truncated: header length ",
            header_bytes, " runs past the end of the ", file_size, "-byte file");
  const auto* text = reinterpret_cast<const char*>(file->data() + 8);
  INF_CHECK(json_depth_within(std::string_view(text, header_bytes), kMaxJsonDepth), ErrorKind::invalid_data, path,
            ": header JSON is nested deeper than ", kMaxJsonDepth, " levels");
  const json header = json::parse(text, text + header_bytes, nullptr, /*allow_exceptions=*/false);
  INF_CHECK(!header.is_discarded(), ErrorKind::invalid_data, path, ": header is not valid JSON");
  INF_CHECK(header.is_object(), ErrorKind::invalid_data, path, ": header JSON is not an object");

  const uint64_t data_begin = 8 + header_bytes;
  const uint64_t data_size = file_size - data_begin;
  WeightFileContents contents;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      INF_CHECK(value.is_object(), ErrorKind::invalid_data, path, ": __metadata__ is not an object");
      for (const auto& [meta_key, meta_value] : value.items()) {
        INF_CHECK(meta_value.is_string(), ErrorKind::invalid_data, path, ": __metadata__ entry '", meta_key,
                  "' is not a string");
        contents.metadata[meta_key] = meta_value.get<std::string>();
      }
      continue;
    }
    TensorRecord record = parse_entry(path, key, value, data_begin, data_size);
    record.file = file;
    contents.tensors.push_back(std::move(record));
  }

  // Sorted by position, each tensor must start at or after the end of the previous one.
  std::vector<const TensorRecord*> by_offset;
  for (const auto& record : contents.tensors)
    if (record.range_end > record.range_begin) by_offset.push_back(&record);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorRecord* x, const TensorRecord* y) { return x->range_begin < y->range_begin; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    INF_CHECK(by_offset[i]->range_begin >= by_offset[i - 1]->range_end, ErrorKind::invalid_data, path,
              ": tensors '", by_offset[i - 1]->name, "' and '", by_offset[i]->name, "' overlap");
  // nlohmann orders object keys alphabetically; restore file order, which is what users expect.
  std::stable_sort(contents.tensors.begin(), contents.tensors.end(),
                   [](const TensorRecord& x, const TensorRecord& y) { return x.range_begin < y.range_begin; });
  return contents;
}

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& item : tensors) {
    INF_CHECK(item.tensor.defined() && item.tensor.device().is_cpu(), ErrorKind::invalid_argument, path,
              ": tensor '", item.name, "' is not a host tensor");
    INF_CHECK(item.name != "__metadata__" && !header.contains(item.name), ErrorKind::invalid_argument, path,
              ": duplicate or reserved tensor name '", item.name, "'");
    INF_CHECK(item.dtype == item.tensor.dtype() || (dtype_is_float(item.dtype) && dtype_is_float(item.tensor.dtype())),
              ErrorKind::invalid_argument, path, ": cannot write ", item.tensor.describe(), " '", item.name, "' as ",
              dtype_name(item.dtype));
    const uint64_t bytes = static_cast<uint64_t>(item.tensor.numel()) * dtype_size(item.dtype);
    header[item.name] = {{"dtype", dtype_safetensors_name(item.dtype)},
                         {"shape", item.tensor.shape()},
                         {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string header_text = header.dump();
  // Pad with spaces so the data area starts 8-byte aligned, as the reference writer does.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  std::FILE* out = std::fopen(temporary.c_str(), "wb");
  INF_CHECK(out != nullptr, ErrorKind::io, path, ": cannot create ", temporary, ": ", std::strerror(errno));
  try {
    auto write_bytes = [&](const void* data, size_t size) {
      if (size > 0 && std::fwrite(data, 1, size, out) != size)
        fail(ErrorKind::io, path, ": write failed: ", std::strerror(errno));
    };
    uint8_t length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(header_text.size()) >> (8 * i));
    write_bytes(length, 8);
    write_bytes(header_text.data(), header_text.size());
    for (const auto& item : tensors) {
      if (item.tensor.dtype() == item.dtype && item.tensor.is_contiguous()) {
        write_bytes(item.tensor.data(), item.tensor.nbytes());
        continue;
      }
      Tensor packed = Tensor::host(item.dtype, item.tensor.shape());
      cpu::convert(packed, item.tensor);
      write_bytes(packed.data(), packed.nbytes());
    }
    if (std::fflush(out) != 0 || ::fsync(fileno(out)) != 0)
      fail(ErrorKind::io, path, ": flush failed: ", std::strerror(errno));
  } catch (...) {
    std::fclose(out);
    std::remove(temporary.c_str());
    throw;
  }
  std::fclose(out);
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    std::remove(temporary.c_str());
    fail(ErrorKind::io, path, ": cannot rename ", temporary, " into place: ", std::strerror(saved));
  }
}

}  // namespace inf
