// A restricted reader for PyTorch checkpoints (torch.save's zip format, pickle protocol 2-5).
//
// It loads plain state dicts, including nested ones ({"vae": {...}}, {"trainer": {"gpt_fsdp":
// {...}}}), whose tensor names are the dict keys joined with '.'. It interprets only the pickle
// opcodes and the handful of globals a state dict needs (tensor rebuild functions, storage
// types, OrderedDict); anything else (os.system, an unknown REDUCE callable, a custom class)
// is refused with inf::Error naming the file and the offending global or opcode. It never
// executes code. Tensors are zero-copy views into the mapped archive (entries must be stored,
// not compressed, which is what torch.save writes).
#pragma once

#include <string>

#include "weights/tensor_record.h"

namespace inf {

// Non-tensor leaves (ints, floats, strings, bools, None) become metadata entries under their
// dotted key, rendered as text.
WeightFileContents read_pth(const std::string& path);

// Same, on an archive already mapped (the fuzzer feeds bytes this way).
WeightFileContents read_pth(std::shared_ptr<const MappedFile> file);

}  // namespace inf
