// Entry points of the CUDA backend that the registry calls. This header includes no CUDA
// header, so the registry and the CPU-only build never see cuda_runtime.h. When the build
// has no CUDA, backend/no_cuda.cpp defines these instead.
#pragma once

#include <memory>
#include <vector>

#include "backend/backend.h"

namespace inf {

bool cuda_backend_compiled();
// One row per visible device, or a single "cuda" row explaining why none is usable.
std::vector<BackendInfo> cuda_list_devices();
std::unique_ptr<Backend> create_cuda_backend(int device_index);

}  // namespace inf
