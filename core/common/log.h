// Leveled logging. By default messages go to stderr; a host (CLI, C ABI) can route them.
#pragma once

#include <functional>
#include <string>

#include "common/error.h"

namespace inf {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };

using LogSink = std::function<void(LogLevel, const std::string&)>;

void set_log_sink(LogSink sink);  // empty function restores stderr
void set_log_level(LogLevel minimum);
void log_message(LogLevel level, const std::string& message);

template <typename... Parts>
void log_debug(Parts&&... parts) {
  log_message(LogLevel::debug, detail::concat(std::forward<Parts>(parts)...));
}
template <typename... Parts>
void log_info(Parts&&... parts) {
  log_message(LogLevel::info, detail::concat(std::forward<Parts>(parts)...));
}
template <typename... Parts>
void log_warn(Parts&&... parts) {
  log_message(LogLevel::warn, detail::concat(std::forward<Parts>(parts)...));
}

}  // namespace inf
