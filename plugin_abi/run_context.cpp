#include "run_context.h"

#include <cstring>

#include "api_functions.h"
#include "guard.h"
#include "images.h"
#include "jobs.h"

namespace inf::abi {
namespace {

std::shared_ptr<RunContext> resolve_context(const inf_run_context* context) {
  return resolve<RunContext>(context, HandleKind::run_context, "context");
}

inf_progress checked_progress(const inf_progress* progress) {
  const inf_progress checked = read_struct(progress, "progress");
  if (checked.total_steps == 0 || checked.step > checked.total_steps)
    api_fail(INF_STATUS_INVALID_ARGUMENT, "progress step ", checked.step, " of ", checked.total_steps,
             " is not within 0..total_steps (total_steps >= 1)");
  return checked;
}

std::string bounded_message(const char* message) {
  if (message == nullptr) api_fail(INF_STATUS_INVALID_ARGUMENT, "message is NULL");
  return std::string(message, strnlen(message, INF_TEXT_MAX_BYTES));
}

}  // namespace

inf_status run_progress(inf_run_context* context, const inf_progress* progress) noexcept {
  return guarded(context, [&] {
    const auto run = resolve_context(context);
    run->job().report_progress(checked_progress(progress));
    if (!run->job().cancel_requested()) return INF_STATUS_OK;
    record_failure(handle_id(context), "the job was cancelled; stop and return INF_STATUS_CANCELLED");
    return INF_STATUS_CANCELLED;
  });
}

inf_status run_preview(inf_run_context* context, const inf_progress* progress, const inf_image_desc* image) noexcept {
  return guarded(context, [&] {
    const auto run = resolve_context(context);
    const inf_progress checked = checked_progress(progress);
    check_image(image, "image");
    // The host gets the provider's own descriptor and buffer: no copy, valid during the call.
    if (run->job().wants_preview()) run->job().report_preview(checked, *image);
    return INF_STATUS_OK;
  });
}

inf_status run_wants_preview(inf_run_context* context, int32_t* out_wanted) noexcept {
  return guarded(context, [&] {
    const auto run = resolve_context(context);
    require_out(out_wanted, "out_wanted");
    *out_wanted = run->job().wants_preview() ? 1 : 0;
    return INF_STATUS_OK;
  });
}

inf_status run_is_cancelled(inf_run_context* context, int32_t* out_cancelled) noexcept {
  return guarded(context, [&] {
    const auto run = resolve_context(context);
    require_out(out_cancelled, "out_cancelled");
    *out_cancelled = run->job().cancel_requested() ? 1 : 0;
    return INF_STATUS_OK;
  });
}

inf_status run_log(inf_run_context* context, inf_log_level level, const char* message) noexcept {
  return guarded(context, [&] {
    const auto run = resolve_context(context);
    if (level < INF_LOG_DEBUG || level > INF_LOG_ERROR)
      api_fail(INF_STATUS_INVALID_ARGUMENT, "level ", static_cast<int64_t>(level), " is not an inf_log_level");
    const std::string text = bounded_message(message);
    run->job().node().engine->log().emit(level, text.c_str());
    return INF_STATUS_OK;
  });
}

inf_status run_set_error(inf_run_context* context, const char* message) noexcept {
  return guarded(context, [&] {
    const auto run = resolve_context(context);
    run->job().set_error_message(bounded_message(message));
    return INF_STATUS_OK;
  });
}

}  // namespace inf::abi
