#include "sampler_run.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "provider_support.h"
#include "tokens/bit_tokens.h"
#include "value_conversions.h"

namespace inf::nodes {
namespace {

// Sends image 0's picture so far: the codes of its first bits.size() scales summed on the last
// of those grids (the VAE's grid), decoded, as RGB f32 sRGB in a buffer of ours.
void send_preview(const inf_api& api, inf_run_context* context, const BsqVae& vae, const std::vector<Tensor>& bits,
                  const ScaleSchedule& schedule, int patch, const inf_progress& progress) {
  ScaleSchedule so_far = schedule;
  so_far.grids.resize(bits.size());
  std::vector<Tensor> latent_bits;
  for (size_t k = 0; k < bits.size(); ++k)
    latent_bits.push_back(unpatchify_bits(bits[k], so_far.grids[k].h, so_far.grids[k].w, patch));  // [1, n, dv]
  const Tensor latent = summed_codes_from_bits(latent_bits, vae_schedule(so_far, patch));  // [1, dv, p h_k, p w_k]
  const RgbPixels preview(vae.decode(latent).pixels, 0);  // decoded [1, 3, H, W] -> [H, W, 3]
  check_call(api, api.run_preview(context, &progress, &preview.desc), "sending a preview");
}

}  // namespace

PromptFeatures read_prompts(const inf_api& api, inf_value* value, const char* port, int text_channels) {
  PromptFeatures prompts = prompt_features_from_value(api, value);
  if (prompts.features.dim(1) != text_channels)
    node_fail(INF_STATUS_INVALID_ARGUMENT, port, ": the embedding has ", prompts.features.dim(1),
              " channels but the transformer takes ", text_channels,
              "-channel T5 features (was it encoded by another model's text encoder?)");
  return prompts;
}

PromptFeatures repeat_prompts(const PromptFeatures& prompts, int copies) {
  if (copies == 1) return prompts;
  const Tensor& features = prompts.features;
  INF_CHECK(features.is_contiguous() && features.device().is_cpu(), ErrorKind::internal,
            "repeat_prompts needs packed host features, got ", features.describe());
  const int64_t channels = features.dim(1);
  PromptFeatures repeated;
  repeated.features = Tensor::host(DType::f32, {features.dim(0) * copies, channels});  // [copies * tokens, C]
  const auto* from = features.data_as<float>();
  auto* to = repeated.features.data_as<float>();
  for (const int32_t length : prompts.lengths) {
    const auto count = static_cast<size_t>(length * channels);
    for (int copy = 0; copy < copies; ++copy) {
      std::memcpy(to, from, count * sizeof(float));
      to += count;
      repeated.lengths.push_back(length);
    }
    from += count;
  }
  return repeated;
}

std::optional<PromptFeatures> read_negative(const inf_api& api, inf_value* value, int text_channels, int groups,
                                            int rows, const char* per_what) {
  if (value == nullptr) return std::nullopt;  // the model's learned unconditional rows
  PromptFeatures negative = read_prompts(api, value, "negative", text_channels);
  const auto count = static_cast<int>(negative.lengths.size());
  if (count == 1) return negative;
  if (count != groups)
    node_fail(INF_STATUS_INVALID_ARGUMENT, "negative: give one prompt for all, or one per ", per_what, " (", groups,
              "); the embedding holds ", count);
  return repeat_prompts(negative, rows / groups);
}

GenerateResult run_sampling_job(SharedModels& models, const inf_run_args* args, InfinityTransformer& transformer,
                                const BsqVae& vae, GenerateRequest request) {
  const inf_api& api = *args->api;
  int32_t wants_preview = 0;
  check_call(api, api.run_wants_preview(args->context, &wants_preview), "asking whether the host wants previews");
  const int scales = request.schedule.num_scales();
  const ScaleSchedule schedule = request.schedule;
  const int patch = request.spatial_patch;
  std::vector<Tensor> preview_bits;  // image 0's bits of the scales done, each [1, n_k, d]
  int scales_done = 0;
  request.on_scale = [&](const ScaleProgress& scale) {
    scales_done = scale.scale + 1;
    inf_progress progress = INF_PROGRESS_INIT;
    progress.step = static_cast<uint32_t>(scales_done);
    progress.total_steps = static_cast<uint32_t>(scales);
    progress.step_seconds = scale.seconds;
    progress.stage = "sample";
    const inf_status status = api.run_progress(args->context, &progress);
    if (status == INF_STATUS_CANCELLED) return false;
    check_call(api, status, "reporting progress");
    if (wants_preview != 0) {
      preview_bits.push_back(scale.bits->narrow(0, 0, 1));
      send_preview(api, args->context, vae, preview_bits, schedule, patch, progress);
    }
    return true;
  };

  std::lock_guard<std::mutex> lock(models.compute_mutex());
  // The job may have been cancelled while it waited for another job's compute.
  int32_t cancelled = 0;
  check_call(api, api.run_is_cancelled(args->context, &cancelled), "asking whether the job is cancelled");
  if (cancelled != 0) node_fail(INF_STATUS_CANCELLED, "cancelled before sampling started");
  GenerateResult result = transformer.generate(request);
  if (result.cancelled) node_fail(INF_STATUS_CANCELLED, "cancelled after scale ", scales_done, " of ", scales);
  return result;
}

}  // namespace inf::nodes
