#include "common/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace inf {
namespace {

std::mutex sink_mutex;
LogSink current_sink;
std::atomic<int> minimum_level{static_cast<int>(LogLevel::info)};

const char* level_tag(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warning";
    case LogLevel::error: return "error";
  }
  return "?";
}

}  // namespace

void set_log_sink(LogSink sink) {
  std::lock_guard<std::mutex> lock(sink_mutex);
  current_sink = std::move(sink);
}

void set_log_level(LogLevel minimum) { minimum_level = static_cast<int>(minimum); }

void log_message(LogLevel level, const std::string& message) {
  if (static_cast<int>(level) < minimum_level.load()) return;
  std::lock_guard<std::mutex> lock(sink_mutex);
  if (current_sink) {
    current_sink(level, message);
  } else {
    std::fprintf(stderr, "infinode %s: %s\n", level_tag(level), message.c_str());
  }
}

}  // namespace inf
