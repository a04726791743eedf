// The CPU reference backend. Its ops are the spec every other backend is tested against.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace inf {

std::unique_ptr<Backend> create_cpu_backend();

}  // namespace inf
