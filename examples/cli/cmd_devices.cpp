#include <cstdio>

#include "backend/backend.h"
#include "commands.h"

namespace inf::cli {

int run_devices(const Args& args) {
  if (!args.empty()) throw UsageError("takes no arguments");
  for (const auto& row : list_backends()) {
    const char* state = !row.compiled ? "not compiled" : row.usable ? "usable" : "no device";
    std::printf("%-8s %-13s %s\n", row.name.c_str(), state, row.detail.c_str());
  }
  return 0;
}

}  // namespace inf::cli
