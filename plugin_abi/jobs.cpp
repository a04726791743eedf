#include "jobs.h"

#include <chrono>
#include <deque>
#include <set>
#include <thread>

#include "api_functions.h"
#include "guard.h"
#include "run_context.h"

namespace inf::abi {
namespace {

thread_local bool is_worker_thread = false;

// The library's worker threads, shared by every engine. The pool grows on demand up to
// kMaxWorkers, so a long job does not hold up others; past that, jobs queue. Static, so that
// unloading the library (or leaving main) cancels what is left and joins every thread before
// the code they run is unmapped.
class WorkerPool {
 public:
  static WorkerPool& instance() {
    static WorkerPool pool;
    return pool;
  }

  void submit(std::shared_ptr<JobObject> job) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) api_fail(INF_STATUS_UNSUPPORTED, "the library is unloading; no new jobs");
    queue_.push_back(std::move(job));
    if (queue_.size() > idle_ && threads_.size() < kMaxWorkers) threads_.emplace_back([this] { work(); });
    wake_.notify_one();
  }

  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      for (const auto& job : queue_) job->request_cancel();
      for (JobObject* job : running_) job->request_cancel();
    }
    wake_.notify_all();
    for (std::thread& thread : threads_) {
      // A host may call exit() from a callback, i.e. on one of our threads: it cannot join itself.
      if (thread.get_id() == std::this_thread::get_id()) {
        thread.detach();
      } else if (thread.joinable()) {
        thread.join();
      }
    }
  }

 private:
  static constexpr size_t kMaxWorkers = 16;

  void work() {
    is_worker_thread = true;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      ++idle_;
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      --idle_;
      if (queue_.empty()) return;  // stopping, and every queued job has been finished
      std::shared_ptr<JobObject> job = std::move(queue_.front());
      queue_.pop_front();
      if (stopping_) job->request_cancel();
      running_.insert(job.get());
      lock.unlock();
      JobObject::execute(job);
      lock.lock();
      running_.erase(job.get());
      lock.unlock();
      job.reset();  // may destroy the node, the engine and provider data: not under our lock
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<JobObject>> queue_;
  std::set<JobObject*> running_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  bool stopping_ = false;
};

// Provider statuses outside the enum are a provider bug; never pass them on to the host.
bool is_known_status(inf_status status) { return status >= INF_STATUS_OK && status <= INF_STATUS_INTERNAL; }

// Releases the handles a job minted for its provider, whatever happens in between.
class PrivateHandles {
 public:
  ~PrivateHandles() {
    for (const auto& [handle, kind] : handles_) {
      try {
        release_handle(handle, kind, "private handle");
      } catch (...) {
        // Already gone (a provider released a handle it did not own): nothing left to free.
      }
    }
  }
  uintptr_t add(uintptr_t handle, HandleKind kind) {
    handles_.emplace_back(handle, kind);
    return handle;
  }

 private:
  std::vector<std::pair<uintptr_t, HandleKind>> handles_;
};

// A finished job's failure is explained through job_last_error, as if the call had failed.
void report_job_result(inf_job* job, inf_status result, const std::string& message) {
  if (result != INF_STATUS_OK) record_failure(handle_id(job), message);
}

}  // namespace

bool on_worker_thread() { return is_worker_thread; }

void submit_job(std::shared_ptr<JobObject> job) { WorkerPool::instance().submit(std::move(job)); }

std::shared_ptr<JobObject> resolve_job(const inf_job* job) { return resolve<JobObject>(job, HandleKind::job, "job"); }

void JobObject::report_progress(const inf_progress& progress) {
  std::lock_guard<std::mutex> lock(callback_mutex_);
  last_step_ = progress.step;
  total_steps_ = progress.total_steps;
  if (callbacks_.on_progress != nullptr && callbacks_.on_progress(callbacks_.user_data, &progress) != 0)
    request_cancel();
}

void JobObject::report_preview(const inf_progress& progress, const inf_image_desc& image) {
  std::lock_guard<std::mutex> lock(callback_mutex_);
  if (callbacks_.on_preview != nullptr) callbacks_.on_preview(callbacks_.user_data, &progress, &image);
}

void JobObject::set_error_message(std::string message) {
  std::lock_guard<std::mutex> lock(callback_mutex_);
  provider_message_ = std::move(message);
}

void JobObject::execute(const std::shared_ptr<JobObject>& self) {
  std::string message;
  std::vector<std::shared_ptr<const ValueObject>> outputs;
  inf_status result = INF_STATUS_CANCELLED;
  if (self->cancel_requested()) {
    message = "job cancelled before it started";
  } else {
    {
      std::lock_guard<std::mutex> lock(self->mutex_);
      self->state_ = INF_JOB_RUNNING;
    }
    std::lock_guard<std::mutex> run_lock(self->node_->run_mutex);
    if (self->cancel_requested()) {
      message = "job cancelled before it started";
    } else {
      try {
        result = self->run_provider(self, message, outputs);
      } catch (...) {
        result = report_current_exception(0);
        message = thread_error_message();
        outputs.clear();
      }
    }
  }
  self->finish(result, std::move(message), std::move(outputs));
}

inf_status JobObject::run_provider(const std::shared_ptr<JobObject>& self, std::string& message,
                                   std::vector<std::shared_ptr<const ValueObject>>& outputs) {
  const Provider& provider = *node_->provider;
  const OwnedNodeDesc& desc = provider.desc();
  ScopedLogRoute route(node_->engine.get());
  std::vector<inf_value*> input_handles(inputs_.size(), nullptr);
  std::vector<inf_value*> output_handles(desc.desc().output_count, nullptr);
  inf_status status = INF_STATUS_INTERNAL;
  {
    // The provider gets handles of its own: whatever the host does with its handles meanwhile
    // (even releasing one twice) cannot pull an input away from a running job.
    PrivateHandles handles;
    for (size_t k = 0; k < inputs_.size(); ++k)
      if (inputs_[k] != nullptr) input_handles[k] = as_handle<inf_value>(handles.add(handle_id(mint_value(inputs_[k])), HandleKind::value));
    const auto context = std::make_shared<RunContext>(self);
    inf_run_args args{};
    args.struct_size = static_cast<uint32_t>(sizeof(inf_run_args));
    args.input_count = desc.desc().input_count;
    args.param_count = desc.desc().param_count;
    args.output_count = desc.desc().output_count;
    args.api = api_table();
    args.context = as_handle<inf_run_context>(handles.add(mint_handle(HandleKind::run_context, context), HandleKind::run_context));
    args.engine = as_handle<inf_engine>(handles.add(mint_handle(HandleKind::engine, node_->engine), HandleKind::engine));
    args.inputs = input_handles.data();
    args.params = params_.pointers.data();
    args.outputs = output_handles.data();
    try {
      status = provider.vtable().run(node_->instance, &args);
    } catch (...) {
      status = INF_STATUS_INTERNAL;
      set_error_message("the provider's run() threw an exception");
    }
  }
  // The outputs the provider stored are ours now: keep the objects, drop its handles.
  outputs.assign(output_handles.size(), nullptr);
  for (size_t k = 0; k < output_handles.size(); ++k) {
    if (output_handles[k] == nullptr) continue;
    try {
      outputs[k] = resolve_value(output_handles[k], INF_TYPE_NONE, "output");
      release_handle(handle_id(output_handles[k]), HandleKind::value, "output");
    } catch (const ApiError&) {
      status = INF_STATUS_INTERNAL;
      set_error_message("the provider stored an invalid handle as output '" + std::string(desc.output(k).id) + "'");
    }
  }
  if (!is_known_status(status)) {
    set_error_message("the provider returned the unknown status " + std::to_string(static_cast<int64_t>(status)));
    status = INF_STATUS_INTERNAL;
  }
  for (size_t k = 0; status == INF_STATUS_OK && k < outputs.size(); ++k) {
    const inf_port_desc& port = desc.output(k);
    if (outputs[k] == nullptr) {
      status = INF_STATUS_INTERNAL;
      set_error_message("the provider succeeded without setting output '" + std::string(port.id) + "'");
    } else if (outputs[k]->type() != port.type) {
      status = INF_STATUS_INTERNAL;
      set_error_message("the provider set output '" + std::string(port.id) + "' to " +
                        value_type_name(outputs[k]->type()) + ", not " + value_type_name(port.type));
    }
  }
  if (status == INF_STATUS_OK) return status;
  outputs.clear();
  std::lock_guard<std::mutex> lock(callback_mutex_);
  if (status == INF_STATUS_CANCELLED) {
    message = "job cancelled";
    if (total_steps_ > 0) message += " after step " + std::to_string(last_step_) + " of " + std::to_string(total_steps_);
  } else {
    message = "node " + desc.id() + " failed (" + status_name(status) + ")";
    if (!provider_message_.empty()) message += ": " + provider_message_;
  }
  return status;
}

void JobObject::finish(inf_status result, std::string message, std::vector<std::shared_ptr<const ValueObject>> outputs) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    result_ = result;
    message_ = std::move(message);
    outputs_ = std::move(outputs);
    result_final_ = true;
    state_ = INF_JOB_RUNNING;
  }
  if (callbacks_.on_done != nullptr) {
    std::lock_guard<std::mutex> lock(callback_mutex_);
    try {
      callbacks_.on_done(callbacks_.user_data, as_handle<inf_job>(handle_), result, message_.c_str());
    } catch (...) {
      // A C++ host threw through a C callback; the job is finished regardless.
    }
  }
  try {
    release_handle(handle_, HandleKind::job, "job");  // the job's own reference
  } catch (...) {
    // The host released the job more often than it retained it; the handle is gone either way.
  }
  // Let go of the node (and through it the provider instance, provider and engine) and of the
  // inputs before reporting DONE: once job_wait returns, no provider code runs for this job,
  // so a host that has released everything may unload its plugin.
  node_.reset();
  inputs_.clear();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    state_ = INF_JOB_DONE;
  }
  done_.notify_all();
}

bool JobObject::wait_done(int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mutex_);
  const auto done = [this] { return state_ == INF_JOB_DONE; };
  if (timeout_ms < 0) {
    done_.wait(lock, done);
    return true;
  }
  return done_.wait_for(lock, std::chrono::milliseconds(timeout_ms), done);
}

inf_job_state JobObject::state() {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_;
}

inf_status JobObject::result(std::string* message) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!result_final_) return INF_STATUS_NOT_READY;
  if (message != nullptr) *message = message_;
  return result_;
}

std::shared_ptr<const ValueObject> JobObject::output(uint32_t index) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!result_final_) api_fail(INF_STATUS_NOT_READY, "the job has not finished; wait for it first");
  if (result_ != INF_STATUS_OK) api_fail(result_, "the job has no outputs: ", message_);
  if (index >= outputs_.size())
    api_fail(INF_STATUS_INVALID_ARGUMENT, "output index ", index, " is past the node's ", outputs_.size(), " outputs");
  return outputs_[index];
}

inf_status job_retain(inf_job* job) noexcept {
  return guarded(job, [&] {
    retain_handle(handle_id(job), HandleKind::job, "job");
    return INF_STATUS_OK;
  });
}

inf_status job_release(inf_job* job) noexcept {
  return guarded(job, [&] {
    release_handle(handle_id(job), HandleKind::job, "job");
    return INF_STATUS_OK;
  });
}

const char* job_last_error(inf_job* job) noexcept {
  try {
    return handle_error_message(handle_id(job));
  } catch (...) {
    return "";
  }
}

inf_status job_cancel(inf_job* job) noexcept {
  return guarded(job, [&] {
    resolve_job(job)->request_cancel();
    return INF_STATUS_OK;
  });
}

inf_status job_wait(inf_job* job, int64_t timeout_ms, inf_status* out_result) noexcept {
  return guarded(job, [&] {
    const auto object = resolve_job(job);
    if (timeout_ms < INF_WAIT_FOREVER) api_fail(INF_STATUS_INVALID_ARGUMENT, "timeout_ms ", timeout_ms, " is negative");
    if (object->state() != INF_JOB_DONE && timeout_ms != 0 && on_worker_thread())
      api_fail(INF_STATUS_WOULD_DEADLOCK,
               "job_wait may only poll (timeout 0) on a library worker thread, i.e. inside a callback or provider");
    if (!object->wait_done(timeout_ms)) {
      record_failure(handle_id(job), "the job is still running after " + std::to_string(timeout_ms) + " ms");
      return INF_STATUS_TIMEOUT;
    }
    std::string message;
    const inf_status result = object->result(&message);
    report_job_result(job, result, message);
    if (out_result != nullptr) *out_result = result;
    return INF_STATUS_OK;
  });
}

inf_status job_status(inf_job* job, inf_job_state* out_state, inf_status* out_result) noexcept {
  return guarded(job, [&] {
    const auto object = resolve_job(job);
    if (out_state == nullptr && out_result == nullptr)
      api_fail(INF_STATUS_INVALID_ARGUMENT, "out_state and out_result are both NULL");
    // Read the state first: a DONE state then always comes with its final result.
    const inf_job_state state = object->state();
    std::string message;
    const inf_status result = object->result(&message);
    if (result != INF_STATUS_NOT_READY) report_job_result(job, result, message);
    if (out_state != nullptr) *out_state = state;
    if (out_result != nullptr) *out_result = result;
    return INF_STATUS_OK;
  });
}

inf_status job_get_output(inf_job* job, uint32_t index, inf_value** out_value) noexcept {
  return guarded(job, [&] {
    const auto object = resolve_job(job);
    require_out(out_value, "out_value");
    *out_value = nullptr;
    *out_value = mint_value(object->output(index));
    return INF_STATUS_OK;
  });
}

}  // namespace inf::abi
