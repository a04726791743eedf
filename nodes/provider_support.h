// Small C++ conveniences for writing node providers against infinode.h: turning API statuses
// into exceptions inside a provider, and exceptions back into a status plus a job message at
// the provider's boundary. Nothing here is needed by a provider written in plain C.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <utility>

#include "common/error.h"
#include "infinode.h"

namespace inf::nodes {

// A provider's failure with the status the job should end with.
class NodeFailure : public std::runtime_error {
 public:
  NodeFailure(inf_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  inf_status status() const { return status_; }

 private:
  inf_status status_;
};

template <typename... Parts>
[[noreturn]] void node_fail(inf_status status, Parts&&... parts) {
  throw NodeFailure(status, detail::concat(std::forward<Parts>(parts)...));
}

// Throws NodeFailure with the library's message when a call into the table failed.
void check_call(const inf_api& api, inf_status status, const char* doing);

// Runs a provider's body: on an exception, the job's message is set with api->run_set_error
// and the matching status is returned. inf::Error kinds map as the library maps them.
inf_status run_guarded(const inf_run_args* args, const std::function<void()>& body) noexcept;

// Parameter `index` of the descriptor, checked against the type the provider declared.
const inf_param_value& param_at(const inf_run_args* args, uint32_t index, inf_param_type type);

// For providers without per-node state.
inf_status create_stateless_instance(void* provider_data, const inf_instance_args* args, void** out_instance);
void destroy_stateless_instance(void* instance);

}  // namespace inf::nodes
