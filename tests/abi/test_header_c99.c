/* infinode.h as plain C99 (built with -std=c99 -pedantic -Werror -Wall -Wextra), and a small C
 * host on top of it: the layout a C compiler sees is the one the library was built with, and a
 * C program can list the nodes and run one asynchronously. Usage: abi_c99_host LIBRARY */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "infinode.h"

/* C99 has no _Static_assert: a negative array size stops the build instead. */
#define C99_CHECK(name, condition) typedef char c99_check_##name[(condition) ? 1 : -1]
C99_CHECK(status_is_32_bit, sizeof(inf_status) == 4);
C99_CHECK(grid_is_a_pair, sizeof(inf_grid) == 8);
#if UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu
C99_CHECK(image_desc, sizeof(inf_image_desc) == 56 && offsetof(inf_image_desc, data) == 48);
C99_CHECK(bit_tokens_desc, sizeof(inf_bit_tokens_desc) == 56 && offsetof(inf_bit_tokens_desc, bits) == 40);
C99_CHECK(node_desc, sizeof(inf_node_desc) == 88 && offsetof(inf_node_desc, params) == 80);
C99_CHECK(param_desc, sizeof(inf_param_desc) == 104 && offsetof(inf_param_desc, string_default) == 96);
C99_CHECK(provider, sizeof(inf_node_provider) == 56 && offsetof(inf_node_provider, destroy) == 48);
C99_CHECK(run_args, sizeof(inf_run_args) == 64 && offsetof(inf_run_args, outputs) == 56);
C99_CHECK(api_table, sizeof(inf_api) == 8 + 8 * 57 && offsetof(inf_api, engine_model_manifest) == 8 + 8 * 56);
#endif

static int failures = 0;

static void expect(int condition, const char* what, const inf_api* api) {
  if (!condition) {
    ++failures;
    fprintf(stderr, "FAILED: %s (last error: %s)\n", what, api != NULL ? api->last_error() : "-");
  }
}

static int32_t count_progress(void* user_data, const inf_progress* progress) {
  (void)progress;
  ++*(int*)user_data;
  return 0;
}

int main(int argc, char** argv) {
  void* library;
  void* symbol;
  inf_get_api_fn get_api;
  const inf_api* api;
  inf_engine* engine = NULL;
  inf_node* node = NULL;
  inf_value* tokens = NULL;
  inf_value* kept = NULL;
  inf_job* job = NULL;
  inf_status result = INF_STATUS_INTERNAL;
  uint32_t count = 0, k;
  int progress_calls = 0;
  const uint8_t scale0[2] = {1, 0};
  const uint8_t scale1[8] = {1, 1, 0, 0, 1, 0, 1, 0};
  const uint8_t* bits[2];
  const inf_grid grids[2] = {{1, 1}, {2, 2}};
  inf_bit_tokens_desc desc = INF_BIT_TOKENS_DESC_INIT;
  inf_job_callbacks callbacks = INF_JOB_CALLBACKS_INIT;

  if (argc != 2) {
    fprintf(stderr, "usage: %s LIBRARY\n", argv[0]);
    return 2;
  }
  library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (library == NULL) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  symbol = dlsym(library, "inf_get_api");
  memcpy(&get_api, &symbol, sizeof get_api); /* ISO C has no object-to-function pointer cast */
  expect(get_api != NULL, "inf_get_api is exported", NULL);
  if (get_api == NULL) return 1;
  expect(get_api(INF_MAKE_VERSION(2, 0)) == NULL, "ABI 2.0 is refused", NULL);
  api = get_api(INF_ABI_VERSION);
  expect(api != NULL && api->struct_size == sizeof(inf_api), "the 1.0 table", NULL);
  if (api == NULL) return 1;

  expect(api->engine_create(NULL, &engine) == INF_STATUS_OK, "engine_create", api);
  expect(api->engine_node_count(engine, &count) == INF_STATUS_OK && count >= 2, "node count", api);
  for (k = 0; k < count; ++k) {
    const inf_node_desc* node_desc = NULL;
    expect(api->engine_node_desc(engine, k, &node_desc) == INF_STATUS_OK, "node descriptor", api);
    if (node_desc != NULL) printf("node %s %u.%u: %s\n", node_desc->id, node_desc->version_major,
                                  node_desc->version_minor, node_desc->display_name);
  }
  expect(api->node_create(NULL, "org.infinode.tokens.truncate", &node) == INF_STATUS_INVALID_ARGUMENT,
         "a NULL engine is refused", api);
  expect(api->node_create(engine, "org.infinode.tokens.truncate", &node) == INF_STATUS_OK, "node_create", api);
  expect(api->node_set_int(node, "keep_scales", 1) == INF_STATUS_OK, "node_set_int", api);

  bits[0] = scale0;
  bits[1] = scale1;
  desc.images = 1;
  desc.bits_per_token = 2;
  desc.schedule_scales = 2;
  desc.stored_scales = 2;
  desc.grids = grids;
  desc.rope_grid = grids[1];
  desc.bits = bits;
  expect(api->value_create_bit_tokens(&desc, &tokens) == INF_STATUS_OK, "value_create_bit_tokens", api);

  callbacks.user_data = &progress_calls;
  callbacks.on_progress = count_progress;
  expect(api->node_run_async(node, &tokens, 1, &callbacks, &job) == INF_STATUS_OK, "node_run_async", api);
  expect(api->job_wait(job, INF_WAIT_FOREVER, &result) == INF_STATUS_OK && result == INF_STATUS_OK, "job_wait", api);
  expect(api->job_get_output(job, 0, &kept) == INF_STATUS_OK, "job_get_output", api);
  memset(&desc, 0, sizeof desc);
  desc.struct_size = sizeof desc;
  expect(api->value_get_bit_tokens(kept, &desc) == INF_STATUS_OK && desc.stored_scales == 1 &&
             desc.schedule_scales == 2 && desc.bits[0][0] == 1,
         "the truncated tokens", api);
  expect(progress_calls == 0, "truncate reports no steps", api);

  expect(api->value_release(kept) == INF_STATUS_OK, "release output", api);
  expect(api->job_release(job) == INF_STATUS_OK, "release job", api);
  expect(api->job_release(job) == INF_STATUS_INVALID_HANDLE, "a second release is detected", api);
  expect(api->value_release(tokens) == INF_STATUS_OK, "release tokens", api);
  expect(api->node_release(node) == INF_STATUS_OK, "release node", api);
  expect(api->engine_release(engine) == INF_STATUS_OK, "release engine", api);
  if (failures == 0) printf("C99 host: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
