// A fixed pool of worker threads for the CPU backend's hot loops. parallel_for splits
// [0, count) into contiguous chunks, one per thread, and waits; the calling thread works
// too, so a pool of size 1 runs everything inline.
#pragma once

#include <cstdint>
#include <functional>

namespace inf {

// Threads used by the CPU backend: INFINODE_THREADS if set, otherwise the hardware count.
int cpu_thread_count();

// Runs body(begin, end) over chunks covering [0, count). Chunks are at least `grain` long so
// tiny loops stay on one thread. Exceptions from any chunk are rethrown (the first one).
void parallel_for(int64_t count, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

}  // namespace inf
