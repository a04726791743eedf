/* node_listing.h -- the `list` command: every node of an engine with its ports and parameters,
 * printed from the descriptors alone, the way a host builds its node menu and parameter UI. */
#ifndef INFINODE_HOST_NODE_LISTING_H
#define INFINODE_HOST_NODE_LISTING_H

#include "host_support.h"

int host_list_nodes(const host* h, inf_engine* engine);

#endif /* INFINODE_HOST_NODE_LISTING_H */
