// This process's memory as Linux reports it, for the benchmarks: the resident set now, its
// high-water mark, and resetting that mark so a phase's peak can be told from the loading's.
#pragma once

#include <cstdint>
#include <optional>

namespace inf::cli {

uint64_t current_rss_bytes();  // VmRSS; 0 where /proc is missing
// getrusage's ru_maxrss: the kernel's high-water mark of this process's RSS, which
// reset_peak_rss lowers (threads that already exited may keep an older mark in it).
uint64_t peak_rss_bytes();
std::optional<uint64_t> vm_hwm_bytes();  // the same mark from /proc/self/status (VmHWM)
// Lowers the high-water mark to the current RSS (Linux >= 4.0). False where /proc does not
// allow it.
bool reset_peak_rss();

inline double mib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }
inline double gib(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0); }

}  // namespace inf::cli
