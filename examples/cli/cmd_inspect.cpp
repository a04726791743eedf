#include <cstdio>

#include "commands.h"
#include "weights/weight_store.h"

namespace inf::cli {

int run_inspect(const Args& args) {
  if (args.size() != 1) throw UsageError("usage: infinode inspect FILE (.safetensors, .safetensors.index.json, .pth)");
  const WeightStore store = WeightStore::open(args[0]);
  std::printf("file: %s\n", store.source().c_str());
  std::printf("tensors: %zu, %llu bytes (%.1f MB)\n", store.size(),
              static_cast<unsigned long long>(store.total_bytes()), static_cast<double>(store.total_bytes()) / 1e6);
  if (!store.metadata().empty()) {
    std::printf("metadata:\n");
    for (const auto& [key, value] : store.metadata()) {
      // Long values (configs, generator scripts) are cut so the listing stays readable.
      const bool long_value = value.size() > 160;
      std::printf("  %s: %s%s\n", key.c_str(), value.substr(0, 160).c_str(), long_value ? " ..." : "");
    }
  }
  for (const auto& name : store.names()) {
    const TensorRecord& entry = store.record(name);
    const bool contiguous = entry.strides == contiguous_strides(entry.shape);
    std::printf("  %-60s %-5s %s%s\n", name.c_str(), std::string(dtype_name(entry.dtype)).c_str(),
                shape_string(entry.shape).c_str(), contiguous ? "" : " (strided)");
  }
  return 0;
}

}  // namespace inf::cli
