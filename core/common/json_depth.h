// nlohmann's JSON parser recurses once per nesting level, so a forged document of a million '['
// would overflow the stack. Everything that parses untrusted JSON (safetensors headers, model
// manifests) measures the depth first with this scan, which ignores brackets inside strings.
#pragma once

#include <string_view>

namespace inf {

bool json_depth_within(std::string_view text, int limit);

}  // namespace inf
