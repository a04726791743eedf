// A read-only memory mapping of a whole file. Tensors loaded from weight files are views
// into it, so nothing is read from disk until a tensor's bytes are touched (lazy loading).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace inf {

class MappedFile {
 public:
  // Throws inf::Error(io) naming the path when the file cannot be opened or mapped.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size);
  std::string path_;
  const uint8_t* data_;
  size_t size_;
};

}  // namespace inf
