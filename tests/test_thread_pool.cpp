// parallel_for: coverage of the range, nested calls, exceptions.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "common/thread_pool.h"

namespace inf {
namespace {

TEST(ThreadPool, CoversEveryIndexOnce) {
  std::vector<std::atomic<int>> hits(10007);
  parallel_for(10007, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)]++;
  });
  for (const auto& h : hits) ASSERT_EQ(h.load(), 1);
}

TEST(ThreadPool, NestedCallsRunInline) {
  std::atomic<int64_t> total{0};
  parallel_for(8, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      parallel_for(100, 1, [&](int64_t b, int64_t e) { total += e - b; });
  });
  EXPECT_EQ(total.load(), 800);
}

TEST(ThreadPool, RethrowsAndStaysUsable) {
  EXPECT_THROW(parallel_for(64, 1,
                            [](int64_t, int64_t end) {
                              if (end == 64) throw std::runtime_error("chunk failed");  // the last chunk, whatever the thread count
                            }),
               std::runtime_error);
  std::atomic<int64_t> count{0};
  parallel_for(64, 1, [&](int64_t b, int64_t e) { count += e - b; });
  EXPECT_EQ(count.load(), 64);
}

}  // namespace
}  // namespace inf
