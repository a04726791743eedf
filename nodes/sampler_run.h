// What sampler.generate and sampler.edit do alike around InfinityTransformer::generate(): read
// and lay out their conditioning, and run the sampling loop as a node job (progress once per
// scale, cancellation within one scale, optional previews decoded by the VAE).
#pragma once

#include <optional>

#include "infinode.h"
#include "model/infinity/transformer.h"
#include "model/vae/bsq_vae.h"
#include "shared_models.h"

namespace inf::nodes {

// A TEXT_EMBEDDING input as prompts; `port` names it in errors. Throws NodeFailure
// (INVALID_ARGUMENT) when its channel count is not the transformer's text width.
PromptFeatures read_prompts(const inf_api& api, inf_value* value, const char* port, int text_channels);

// Each prompt repeated `copies` times in a row (prompt-major): [a, b] x 2 -> [a, a, b, b].
PromptFeatures repeat_prompts(const PromptFeatures& prompts, int copies);

// The optional `negative` input laid out for `rows` conditioned rows that come from `groups`
// prompts of rows / groups rows each: one negative prompt is kept (it serves every row), one per
// group is repeated like its group. Anything else throws NodeFailure naming `per_what`.
std::optional<PromptFeatures> read_negative(const inf_api& api, inf_value* value, int text_channels, int groups,
                                            int rows, const char* per_what);

// Runs request on the engine's transformer as the job of `args`, serialised with the engine's
// other model compute. After each scale: api->run_progress (stage "sample", step = scale + 1);
// when it says the job is cancelled, sampling stops there and NodeFailure(CANCELLED) is thrown
// ("cancelled after scale k of n"). When the host wants previews, the running sum of image 0's
// codes is decoded by `vae` at the scale's grid and sent with api->run_preview.
GenerateResult run_sampling_job(SharedModels& models, const inf_run_args* args, InfinityTransformer& transformer,
                                const BsqVae& vae, GenerateRequest request);

}  // namespace inf::nodes
