// The one exception type the engine throws, and the checks that raise it.
// Everything that can fail on bad input (files, shapes, arguments) throws inf::Error
// with a message a user can act on; the CLI prints it on one line and the C ABI turns
// it into a status code, so it never reaches a host as an exception.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace inf {

enum class ErrorKind {
  invalid_argument,  // the caller passed something wrong (shape, dtype, option)
  invalid_data,      // a file or buffer is malformed or inconsistent
  io,                // the OS refused (open, mmap, read, write)
  unsupported,       // valid, but this build or backend cannot do it
  out_of_memory,
  internal,          // a bug in infinode
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

namespace detail {
template <typename... Parts>
std::string concat(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  return out.str();
}
}  // namespace detail

// fail(kind, "tensor ", name, " has ", n, " dims") builds the message from its parts.
template <typename... Parts>
[[noreturn]] void fail(ErrorKind kind, Parts&&... parts) {
  throw Error(kind, detail::concat(std::forward<Parts>(parts)...));
}

}  // namespace inf

// The only macro in core: a checked condition that throws inf::Error with a built message.
#define INF_CHECK(cond, kind, ...)                  \
  do {                                              \
    if (!(cond)) ::inf::fail((kind), __VA_ARGS__);  \
  } while (0)
