// The parameters sampler.generate and sampler.edit share (seed, cfg, tau, top_k, top_p): their
// descriptors, and how a job's values resolve against the model manifest's defaults into a
// GenerateRequest.
#pragma once

#include <cstdint>

#include "infinode.h"
#include "model/infinity/transformer.h"
#include "model/model_manifest.h"

namespace inf::nodes {

// Descriptors as docs/nodes.md lists them; a node puts their addresses in its parameter list.
extern const inf_param_desc kSeedParam;   // INT 0..2^53, 0
extern const inf_param_desc kCfgParam;    // FLOAT -1..50, -1 (= the model's default, else 3)
extern const inf_param_desc kTauParam;    // FLOAT -1..10, -1 (= the model's default, else 0.5)
extern const inf_param_desc kTopKParam;   // INT 0..900, 0 (1 = greedy, else off)
extern const inf_param_desc kTopPParam;   // FLOAT -1..1, -1 (= the model's default, else 0.97)

// Where the shared parameters sit in a node's descriptor order.
struct SamplingParamIndices {
  uint32_t seed, cfg, tau, top_k, top_p;
};

// Sets request.cfg, request.tau (one value for every scale) and request.sampling from the job's
// parameters. A negative cfg, tau or top_p (-1 in the UI) takes the manifest's default, else the
// released models' (3, 0.5, 0.97). Throws NodeFailure(INVALID_ARGUMENT) for tau 0.
void apply_sampling_params(const inf_run_args* args, const SamplingParamIndices& at, const ModelDefaults& defaults,
                           GenerateRequest& request);

}  // namespace inf::nodes
