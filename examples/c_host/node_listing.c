/* Node descriptors as text (see node_listing.h). Nothing here knows a node by name. */
#include "node_listing.h"

#include <inttypes.h>
#include <stdio.h>

static void print_ports(const char* heading, const inf_port_desc* const* ports, uint32_t count) {
  uint32_t k;
  if (count == 0) return;
  printf("  %s:\n", heading);
  for (k = 0; k < count; ++k) {
    const inf_port_desc* port = ports[k];
    printf("    %-12s %-15s %s%s\n", port->id, host_value_type_name(port->type), port->display_name,
           (port->flags & INF_PORT_FLAG_OPTIONAL) != 0 ? " (optional)" : "");
  }
}

/* The type, range and default of one parameter: what a UI needs to build its widget. */
static void print_param(const inf_param_desc* param) {
  uint32_t k;
  printf("    %-12s %-6s ", param->id, host_param_type_name(param->type));
  switch (param->type) {
    case INF_PARAM_INT:
      printf("%" PRId64 "..%" PRId64 ", default %" PRId64, param->int_min, param->int_max, param->int_default);
      break;
    case INF_PARAM_FLOAT:
      printf("%g..%g, default %g", param->float_min, param->float_max, param->float_default);
      break;
    case INF_PARAM_BOOL:
      printf("default %s", param->int_default != 0 ? "true" : "false");
      break;
    case INF_PARAM_STRING:
      printf("default \"%s\"", param->string_default != NULL ? param->string_default : "");
      break;
    case INF_PARAM_ENUM:
      printf("{");
      for (k = 0; k < param->choice_count; ++k) printf("%s%s", k == 0 ? "" : ", ", param->choices[k]);
      printf("}, default %s",
             param->int_default >= 0 && (uint64_t)param->int_default < param->choice_count
                 ? param->choices[param->int_default]
                 : "?");
      break;
    case INF_PARAM_FORCE32:
      break;
  }
  if ((param->flags & INF_PARAM_FLAG_PATH) != 0) printf(", a file path");
  if ((param->flags & INF_PARAM_FLAG_MULTILINE) != 0) printf(", multiline");
  if ((param->flags & INF_PARAM_FLAG_ADVANCED) != 0) printf(", advanced");
  printf("\n      %s: %s\n", param->display_name, param->description);
}

int host_list_nodes(const host* h, inf_engine* engine) {
  uint32_t count = 0, k, p;
  if (host_check(h, h->api->engine_node_count(engine, &count), "engine_node_count")) return 1;
  printf("%s: %u nodes\n", h->api->version_string(), count);
  for (k = 0; k < count; ++k) {
    const inf_node_desc* desc = NULL;
    if (host_check(h, h->api->engine_node_desc(engine, k, &desc), "engine_node_desc")) return 1;
    printf("\n%s %u.%u  \"%s\"  [%s]%s%s\n", desc->id, desc->version_major, desc->version_minor, desc->display_name,
           desc->category, (desc->flags & INF_NODE_FLAG_PROGRESS) != 0 ? "  progress" : "",
           (desc->flags & INF_NODE_FLAG_PREVIEW) != 0 ? "  previews" : "");
    printf("  %s\n", desc->description);
    print_ports("inputs", desc->inputs, desc->input_count);
    print_ports("outputs", desc->outputs, desc->output_count);
    if (desc->param_count > 0) printf("  parameters:\n");
    for (p = 0; p < desc->param_count; ++p) print_param(desc->params[p]);
  }
  return 0;
}
