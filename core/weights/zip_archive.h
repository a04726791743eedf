// A minimal ZIP reader for PyTorch checkpoints: it lists the members of an archive held in
// memory (usually a MappedFile) and reports where each member's bytes are, so tensors can be
// views into the mapping. torch.save stores members uncompressed, so only stored (method 0)
// members are accepted; ZIP64 is supported because torch writes it for archives over 4 GiB.
// Every offset and size is checked against the archive size with overflow-safe arithmetic
// before it is used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace inf {

struct ZipEntry {
  std::string name;
  uint64_t data_offset = 0;  // of the member's first byte, from the start of the archive
  uint64_t size = 0;         // in bytes; data_offset + size <= archive size
};

class ZipArchive {
 public:
  // Throws inf::Error(invalid_data) whose message starts with `source_name` when the bytes are
  // not a well-formed archive of stored members.
  static ZipArchive parse(const uint8_t* data, size_t size, const std::string& source_name);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  // nullptr when no member has exactly this name.
  const ZipEntry* find(std::string_view name) const;

 private:
  std::vector<ZipEntry> entries_;  // central-directory order
  std::unordered_map<std::string, size_t> index_by_name_;
};

}  // namespace inf
