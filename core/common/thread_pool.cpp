#include "common/thread_pool.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace inf {
namespace {

class ThreadPool {
 public:
  explicit ThreadPool(int threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
  }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs tasks 0..count-1; the caller runs some of them too. One job at a time: callers
  // from several threads serialise on job_mutex_ (nested parallel_for runs inline).
  void run(int count, const std::function<void(int)>& task) {
    std::lock_guard<std::mutex> job_lock(job_mutex_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &task;
      next_ = 0;
      total_ = count;
      pending_ = count;
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    drain();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    task_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

  static thread_local bool inside_worker;

 private:
  void drain() {
    for (;;) {
      int index;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (task_ == nullptr || next_ >= total_) return;
        index = next_++;
      }
      try {
        (*task_)(index);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_all();
    }
  }

  void work() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || (generation_ != seen && task_ != nullptr); });
        if (stopping_) return;
        seen = generation_;
      }
      drain();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex job_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* task_ = nullptr;
  int next_ = 0, total_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
};

thread_local bool ThreadPool::inside_worker = false;

ThreadPool& pool() {
  static ThreadPool instance(cpu_thread_count());
  return instance;
}

}  // namespace

int cpu_thread_count() {
  static const int count = [] {
    if (const char* env = std::getenv("INFINODE_THREADS")) {
      const int requested = std::atoi(env);
      if (requested > 0) return std::min(requested, 256);
    }
    return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  }();
  return count;
}

void parallel_for(int64_t count, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  if (count <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t max_chunks = std::min<int64_t>(cpu_thread_count(), (count + grain - 1) / grain);
  if (max_chunks <= 1 || ThreadPool::inside_worker) {
    body(0, count);
    return;
  }
  const int chunks = static_cast<int>(max_chunks);
  const std::function<void(int)> task = [&](int chunk) {
    // Nested parallel_for calls inside a chunk run inline instead of waiting on the pool.
    const bool was_inside = ThreadPool::inside_worker;
    ThreadPool::inside_worker = true;
    struct Restore {
      bool value;
      ~Restore() { ThreadPool::inside_worker = value; }
    } restore{was_inside};
    const int64_t begin = count * chunk / chunks;
    const int64_t end = count * (chunk + 1) / chunks;
    if (begin < end) body(begin, end);
  };
  pool().run(chunks, task);
}

}  // namespace inf
