#include "provider_support.h"

#include <new>

namespace inf::nodes {
namespace {

inf_status status_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_argument: return INF_STATUS_INVALID_ARGUMENT;
    case ErrorKind::invalid_data: return INF_STATUS_INVALID_DATA;
    case ErrorKind::io: return INF_STATUS_IO;
    case ErrorKind::unsupported: return INF_STATUS_UNSUPPORTED;
    case ErrorKind::out_of_memory: return INF_STATUS_OUT_OF_MEMORY;
    case ErrorKind::internal: return INF_STATUS_INTERNAL;
  }
  return INF_STATUS_INTERNAL;
}

inf_status fail_job(const inf_run_args* args, inf_status status, const char* message) {
  args->api->run_set_error(args->context, message);
  return status;
}

}  // namespace

void check_call(const inf_api& api, inf_status status, const char* doing) {
  if (status != INF_STATUS_OK) node_fail(status, doing, ": ", api.last_error());
}

inf_status run_guarded(const inf_run_args* args, const std::function<void()>& body) noexcept {
  try {
    body();
    return INF_STATUS_OK;
  } catch (const NodeFailure& failure) {
    return fail_job(args, failure.status(), failure.what());
  } catch (const Error& error) {
    return fail_job(args, status_for(error.kind()), error.what());
  } catch (const std::bad_alloc&) {
    return fail_job(args, INF_STATUS_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& error) {
    return fail_job(args, INF_STATUS_INTERNAL, error.what());
  } catch (...) {
    return fail_job(args, INF_STATUS_INTERNAL, "unknown exception");
  }
}

const inf_param_value& param_at(const inf_run_args* args, uint32_t index, inf_param_type type) {
  if (index >= args->param_count || args->params[index] == nullptr || args->params[index]->type != type)
    node_fail(INF_STATUS_INTERNAL, "parameter ", index, " is not of the type the node declared");
  return *args->params[index];
}

inf_status create_stateless_instance(void*, const inf_instance_args*, void** out_instance) {
  *out_instance = nullptr;
  return INF_STATUS_OK;
}

void destroy_stateless_instance(void*) {}

}  // namespace inf::nodes
