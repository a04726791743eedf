// libFuzzer target: any bytes given to the safetensors reader either parse into tensors whose
// views lie inside the file, or raise inf::Error. Anything else (a crash, a sanitizer report,
// another exception) is a finding.
#include <cstdint>

#include "common/error.h"
#include "fuzz_input_file.h"
#include "weights/safetensors.h"
#include "weights/weight_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = inf::fuzz::write_input_file(".safetensors", data, size);
  if (path.empty()) return 0;
  try {
    const auto contents = inf::read_safetensors(path);
    const auto store = inf::WeightStore::from_contents(path, contents);
    for (const auto& name : store.names()) {
      // Touch the first and last byte of every tensor: out-of-range views would fault here.
      const inf::Tensor tensor = store.get(name);
      if (tensor.numel() == 0) continue;
      volatile uint8_t first = static_cast<const uint8_t*>(tensor.data())[0];
      volatile uint8_t last = static_cast<const uint8_t*>(tensor.data())[tensor.nbytes() - 1];
      (void)first;
      (void)last;
    }
  } catch (const inf::Error&) {
  }
  return 0;
}
