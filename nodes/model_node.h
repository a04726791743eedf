// The provider boilerplate of a built-in node that uses the engine's shared models: one static
// descriptor, one run function. Instances hold a reference to the engine's SharedModels, so a
// node (and its running jobs) keeps the models alive even after the engine handle is released.
#pragma once

#include <memory>

#include "infinode.h"
#include "shared_models.h"

namespace inf::nodes {

// Runs one job: read inputs and parameters from args, fill args->outputs. Exceptions become the
// job's status and message (run_guarded in provider_support.h).
using ModelNodeRun = void (*)(SharedModels& models, const inf_run_args* args);

// Registers `descriptor` (static storage) with `run` on `engine`.
inf_status register_model_node(const inf_api* api, inf_engine* engine, const inf_node_desc& descriptor,
                               ModelNodeRun run, const std::shared_ptr<SharedModels>& models);

}  // namespace inf::nodes
