#include "process_memory.h"

#include <sys/resource.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace inf::cli {
namespace {

// A "Name:   123 kB" line of /proc/self/status, in bytes.
std::optional<uint64_t> status_bytes(const char* name) {
  std::ifstream status("/proc/self/status");
  const std::string prefix = std::string(name) + ":";
  std::string line;
  while (std::getline(status, line))
    if (line.compare(0, prefix.size(), prefix) == 0) return std::strtoull(line.c_str() + prefix.size(), nullptr, 10) * 1024;
  return std::nullopt;
}

}  // namespace

uint64_t current_rss_bytes() { return status_bytes("VmRSS").value_or(0); }

std::optional<uint64_t> vm_hwm_bytes() { return status_bytes("VmHWM"); }

uint64_t peak_rss_bytes() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_maxrss) * 1024;  // KiB on Linux
}

bool reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

}  // namespace inf::cli
