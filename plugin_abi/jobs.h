// Jobs: one asynchronous run of a node on a library worker thread, with progress, previews,
// cancellation and a result that the host waits for or polls.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "nodes.h"
#include "values.h"

namespace inf::abi {

class JobObject : public HandleObject {
 public:
  JobObject(std::shared_ptr<NodeObject> node, std::vector<std::shared_ptr<const ValueObject>> inputs,
            const inf_job_callbacks& callbacks)
      : node_(std::move(node)), inputs_(std::move(inputs)), callbacks_(callbacks) {}

  ParamSnapshot& params() { return params_; }
  // The host-facing handle. The job holds one reference on it until on_done has returned, so
  // on_done always receives a live handle.
  void set_handle(uintptr_t handle) { handle_ = handle; }
  uintptr_t handle() const { return handle_; }
  // The node, while the job runs (finish() lets go of it).
  const NodeObject& node() const { return *node_; }

  // Thread-safe, idempotent.
  void request_cancel() { cancel_requested_.store(true); }
  bool cancel_requested() const { return cancel_requested_.load(); }

  // For the run context: callbacks into the host, serialised per job.
  void report_progress(const inf_progress& progress);
  bool wants_preview() const { return callbacks_.on_preview != nullptr; }
  void report_preview(const inf_progress& progress, const inf_image_desc& image);
  void set_error_message(std::string message);

  // Runs on a worker thread; `self` is this job (the worker's reference).
  static void execute(const std::shared_ptr<JobObject>& self);

  // True once DONE; timeout_ms < 0 waits forever.
  bool wait_done(int64_t timeout_ms);
  inf_job_state state();
  // The result and message, or NOT_READY while running.
  inf_status result(std::string* message);
  std::shared_ptr<const ValueObject> output(uint32_t index);  // throws ApiError

 private:
  inf_status run_provider(const std::shared_ptr<JobObject>& self, std::string& message,
                          std::vector<std::shared_ptr<const ValueObject>>& outputs);
  void finish(inf_status result, std::string message, std::vector<std::shared_ptr<const ValueObject>> outputs);

  std::shared_ptr<NodeObject> node_;
  std::vector<std::shared_ptr<const ValueObject>> inputs_;  // NULL for unconnected optional ports
  const inf_job_callbacks callbacks_;
  ParamSnapshot params_;
  uintptr_t handle_ = 0;
  std::atomic<bool> cancel_requested_{false};

  std::mutex callback_mutex_;  // one host callback at a time
  uint32_t last_step_ = 0, total_steps_ = 0;
  std::string provider_message_;

  std::mutex mutex_;  // guards the fields below
  std::condition_variable done_;
  inf_job_state state_ = INF_JOB_QUEUED;
  bool result_final_ = false;
  inf_status result_ = INF_STATUS_NOT_READY;
  std::string message_;
  std::vector<std::shared_ptr<const ValueObject>> outputs_;
};

std::shared_ptr<JobObject> resolve_job(const inf_job* job);

// Queues a job on the library's worker threads. Throws ApiError while the library unloads.
void submit_job(std::shared_ptr<JobObject> job);
// Whether the calling thread is one of the library's workers (inside a job or its callbacks).
bool on_worker_thread();

}  // namespace inf::abi
