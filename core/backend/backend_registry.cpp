#include <cstdlib>
#include <string>

#include "backend/backend.h"
#include "backend/cpu/backend_cpu.h"
#include "backend/cuda/cuda_backend.h"
#include "common/error.h"
#include "common/thread_pool.h"

namespace inf {

std::vector<BackendInfo> list_backends() {
  std::vector<BackendInfo> rows;
  rows.push_back({"cpu", true, true, std::to_string(cpu_thread_count()) + " threads, reference fp32"});
  for (auto& row : cuda_list_devices()) rows.push_back(std::move(row));
  return rows;
}

std::unique_ptr<Backend> create_backend(const std::string& name) {
  if (name == "cpu") return create_cpu_backend();
  if (name == "cuda") return create_cuda_backend(0);
  const std::string cuda_prefix = "cuda:";
  if (name.compare(0, cuda_prefix.size(), cuda_prefix) == 0) {
    const std::string digits = name.substr(cuda_prefix.size());
    char* end = nullptr;
    const long index = std::strtol(digits.c_str(), &end, 10);
    INF_CHECK(!digits.empty() && *end == '\0' && index >= 0 && index < 1024, ErrorKind::invalid_argument,
              "backend '", name, "': expected cuda:N with a device number");
    return create_cuda_backend(static_cast<int>(index));
  }
  fail(ErrorKind::invalid_argument, "unknown backend '", name, "' (known: cpu, cuda, cuda:N)");
}

Tensor packed_host_copy(const Tensor& host) {
  if (host.is_contiguous()) return host;
  Tensor copy = Tensor::host(host.dtype(), host.shape());
  create_cpu_backend()->convert(copy, host);
  return copy;
}

}  // namespace inf
