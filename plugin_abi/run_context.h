// What a provider sees of its running job: the inf_run_context handle behind api->run_*.
// It is minted for one run() call and released when run() returns, so a provider that keeps
// it gets INF_STATUS_INVALID_HANDLE afterwards rather than a dangling pointer.
#pragma once

#include <memory>

#include "handles.h"

namespace inf::abi {

class JobObject;

class RunContext : public HandleObject {
 public:
  explicit RunContext(std::shared_ptr<JobObject> job) : job_(std::move(job)) {}
  JobObject& job() const { return *job_; }

 private:
  const std::shared_ptr<JobObject> job_;
};

}  // namespace inf::abi
