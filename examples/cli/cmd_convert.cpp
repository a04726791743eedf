#include <cstdio>

#include "commands.h"
#include "weights/safetensors.h"
#include "weights/weight_store.h"

namespace inf::cli {

int run_convert(const Args& args) {
  std::vector<std::string> paths;
  std::string select;
  DType float_dtype = DType::f32;
  bool keep_dtype = true;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if ((arg == "--dtype" || arg == "--select") && i + 1 < args.size()) {
      const std::string& value = args[++i];
      if (arg == "--select") {
        select = value;
        continue;
      }
      const auto parsed = dtype_from_name(value);
      if (!parsed || !dtype_is_float(*parsed)) throw UsageError("--dtype must be f32, bf16 or f16, not '" + value + "'");
      float_dtype = *parsed;
      keep_dtype = false;
    } else if (!arg.empty() && arg[0] == '-') {
      throw UsageError("unknown option '" + arg + "'");
    } else {
      paths.push_back(arg);
    }
  }
  if (paths.size() != 2)
    throw UsageError("usage: infinode convert IN OUT.safetensors [--dtype f32|bf16|f16] [--select PREFIX]");

  const WeightStore opened = WeightStore::open(paths[0]);
  const WeightStore store = select.empty() ? opened : opened.select(select);
  std::vector<TensorToWrite> tensors;
  for (const auto& name : store.names()) {
    Tensor tensor = store.get(name);
    // Only floats change dtype: integer buffers (e.g. the VAE's int64 mask) are data, not weights.
    const DType target = keep_dtype || !dtype_is_float(tensor.dtype()) ? tensor.dtype() : float_dtype;
    tensors.push_back({name, std::move(tensor), target});
  }
  auto metadata = store.metadata();
  metadata["infinode.converted_from"] = paths[0] + (select.empty() ? "" : " [" + select + "]");
  write_safetensors(paths[1], tensors, metadata);
  std::printf("wrote %zu tensors to %s\n", tensors.size(), paths[1].c_str());
  return 0;
}

}  // namespace inf::cli
