// Fuzz inputs reach the parsers as files, the way users' files do: the bytes are written to
// a per-process temporary file that the parser then maps.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace inf::fuzz {

inline std::string write_input_file(const char* suffix, const uint8_t* data, size_t size) {
  const std::string path = "/tmp/infinode_fuzz_" + std::to_string(::getpid()) + suffix;
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return {};
  if (size > 0) std::fwrite(data, 1, size, file);
  std::fclose(file);
  return path;
}

}  // namespace inf::fuzz
