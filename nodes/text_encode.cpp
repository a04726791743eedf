// Placeholder: being written (docs/nodes.md has the contract). Registers nothing yet.
#include "builtin_nodes.h"

namespace inf::nodes {

inf_status register_text_encode(const inf_api*, inf_engine*, const std::shared_ptr<SharedModels>&) { return INF_STATUS_OK; }

}  // namespace inf::nodes
