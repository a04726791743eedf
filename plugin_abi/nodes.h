// A node: one provider instance plus its parameter values. Jobs hold the node, so the instance
// lives until the host has released the node and every job on it has finished.
#pragma once

#include <memory>
#include <mutex>

#include "engine.h"
#include "node_registry.h"

namespace inf::abi {

class NodeObject : public HandleObject {
 public:
  NodeObject(std::shared_ptr<EngineState> engine_state, std::shared_ptr<const Provider> node_provider)
      : engine(std::move(engine_state)), provider(std::move(node_provider)), params(provider->desc()) {}
  ~NodeObject() override;
  NodeObject(const NodeObject&) = delete;
  NodeObject& operator=(const NodeObject&) = delete;

  const std::shared_ptr<EngineState> engine;
  const std::shared_ptr<const Provider> provider;
  void* instance = nullptr;  // the provider's; NULL for stateless providers

  std::mutex params_mutex;  // guards params
  ParamSet params;
  // Held while a job runs: a provider instance never runs two jobs at once, so providers need
  // no locking of their own.
  std::mutex run_mutex;
};

std::shared_ptr<NodeObject> resolve_node(const inf_node* node);

}  // namespace inf::abi
