// The CUDA entry points of a build without CUDA: the registry lists "cuda" as not compiled.
#include "backend/cuda/cuda_backend.h"
#include "common/error.h"

namespace inf {

bool cuda_backend_compiled() { return false; }

std::vector<BackendInfo> cuda_list_devices() {
  return {BackendInfo{"cuda", false, false, "not compiled (configure with -DINF_CUDA=ON)"}};
}

std::unique_ptr<Backend> create_cuda_backend(int) {
  fail(ErrorKind::unsupported, "cuda: this build has no CUDA backend (configure with -DINF_CUDA=ON)");
}

}  // namespace inf
