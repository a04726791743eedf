// The nodes that ship inside libinfinode. Each is written against infinode.h alone, as a
// third-party plugin would be: it registers an inf_node_provider through
// api->engine_register_provider and talks to values, progress and logs through the table. Only
// its computation reaches into the engine core (the tokenizer, bit tokens, later the networks).
#pragma once

#include <memory>

#include "infinode.h"

namespace inf::nodes {

class SharedModels;

// Registers every built-in node type on `engine`; called by engine_create.
inf_status register_builtin_nodes(const inf_api* api, inf_engine* engine);

// One function per node type. `models` is the engine's cache, shared by its built-in nodes so
// that two nodes using one file load it once. A new node adds its function here and to the
// list in builtin_nodes.cpp.
inf_status register_text_tokenize(const inf_api* api, inf_engine* engine, const std::shared_ptr<SharedModels>& models);
inf_status register_text_encode(const inf_api* api, inf_engine* engine, const std::shared_ptr<SharedModels>& models);
inf_status register_sampler_generate(const inf_api* api, inf_engine* engine, const std::shared_ptr<SharedModels>& models);
inf_status register_sampler_edit(const inf_api* api, inf_engine* engine, const std::shared_ptr<SharedModels>& models);
inf_status register_tokens_truncate(const inf_api* api, inf_engine* engine, const std::shared_ptr<SharedModels>& models);
inf_status register_image_encode(const inf_api* api, inf_engine* engine, const std::shared_ptr<SharedModels>& models);
inf_status register_image_decode(const inf_api* api, inf_engine* engine, const std::shared_ptr<SharedModels>& models);

}  // namespace inf::nodes
