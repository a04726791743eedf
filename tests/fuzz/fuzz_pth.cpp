// libFuzzer target: any bytes given to the PyTorch checkpoint reader either parse into tensors
// whose strided views lie inside the file, or raise inf::Error. Anything else (a crash, a hang,
// a sanitizer report, another exception) is a finding.
#include <cstdint>

#include "common/error.h"
#include "fuzz_input_file.h"
#include "weights/pth_reader.h"
#include "weights/weight_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = inf::fuzz::write_input_file(".pth", data, size);
  if (path.empty()) return 0;
  try {
    const auto contents = inf::read_pth(path);
    const auto store = inf::WeightStore::from_contents(path, contents);
    for (const auto& name : store.names()) {
      // Building the view re-checks its bounds; touching the validated range's ends would fault
      // if the reader had accepted a range outside the mapping.
      const inf::Tensor tensor = store.get(name);
      const inf::TensorRecord& record = store.record(name);
      if (tensor.numel() == 0 || record.range_end == record.range_begin) continue;
      volatile uint8_t first = record.file->data()[record.range_begin];
      volatile uint8_t last = record.file->data()[record.range_end - 1];
      (void)first;
      (void)last;
    }
  } catch (const inf::Error&) {
  }
  return 0;
}
