/* The sample host's plumbing around the infinode table (see host_support.h). */
#include "host_support.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnm.h"

int host_load(host* h, const char* path) {
  void* symbol;
  inf_get_api_fn get_api = NULL;
  memset(h, 0, sizeof *h);
  h->library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (h->library == NULL) {
    fprintf(stderr, "infinode_host: cannot load %s: %s\n", path, dlerror());
    return 1;
  }
  symbol = dlsym(h->library, "inf_get_api");
  memcpy(&get_api, &symbol, sizeof get_api); /* ISO C has no object-to-function pointer cast */
  if (get_api == NULL) {
    fprintf(stderr, "infinode_host: %s does not export inf_get_api\n", path);
    host_unload(h);
    return 1;
  }
  h->api = get_api(INF_ABI_VERSION);
  if (h->api == NULL) {
    fprintf(stderr, "infinode_host: %s cannot serve ABI %u.%u\n", path, INF_ABI_MAJOR, INF_ABI_MINOR);
    host_unload(h);
    return 1;
  }
  return 0;
}

void host_unload(host* h) {
  if (h->library != NULL) dlclose(h->library);
  memset(h, 0, sizeof *h);
}

int host_check(const host* h, inf_status status, const char* what) {
  if (status == INF_STATUS_OK) return 0;
  fprintf(stderr, "infinode_host: %s: %s: %s\n", what, h->api->status_name(status), h->api->last_error());
  return 1;
}

/* Random pipeline names are short identifiers; anything else would need JSON escaping. */
static int is_config_name(const char* name) {
  size_t k, length = strlen(name);
  if (length == 0 || length > 32) return 0;
  for (k = 0; k < length; ++k) {
    const char c = name[k];
    const int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '-';
    if (!plain) return 0;
  }
  return 1;
}

static void print_log(void* user_data, inf_log_level level, const char* message) {
  static const char* const names[] = {"debug", "info", "warning", "error"};
  (void)user_data;
  fprintf(stderr, "  [%s] %s\n", (unsigned)level < 4u ? names[level] : "log", message);
}

int host_create_engine(const host* h, const engine_options* options, inf_engine** out_engine) {
  inf_engine_config config = INF_ENGINE_CONFIG_INIT;
  char manifest[96];
  config.log_level = INF_LOG_WARNING;
  config.log_callback = print_log;
  config.model_dir = options->model_dir;
  config.device = options->device;
  if (options->random_config != NULL) {
    if (!is_config_name(options->random_config)) {
      fprintf(stderr, "infinode_host: --random '%s' is not a configuration name such as tiny or 2B\n",
              options->random_config);
      return 1;
    }
    snprintf(manifest, sizeof manifest, "{\"random\": \"%s\"}", options->random_config);
    config.model_manifest = manifest; /* copied by engine_create */
  }
  return host_check(h, h->api->engine_create(&config, out_engine), "engine_create");
}

void job_watch_init(job_watch* watch, const host* h, const char* label) {
  memset(watch, 0, sizeof *watch);
  watch->h = h;
  watch->label = label;
  watch->done_result = INF_STATUS_INTERNAL;
}

int job_watch_close_gate(job_watch* watch) {
  int error = pthread_mutex_init(&watch->gate_mutex, NULL);
  if (error != 0) {
    fprintf(stderr, "infinode_host: pthread_mutex_init: %s\n", strerror(error));
    return 1;
  }
  error = pthread_cond_init(&watch->gate_opened, NULL);
  if (error != 0) {
    fprintf(stderr, "infinode_host: pthread_cond_init: %s\n", strerror(error));
    pthread_mutex_destroy(&watch->gate_mutex);
    return 1;
  }
  watch->gate_open = 0;
  watch->gated = 1;
  return 0;
}

void job_watch_open_gate(job_watch* watch) {
  if (!watch->gated) return;
  pthread_mutex_lock(&watch->gate_mutex);
  watch->gate_open = 1;
  pthread_cond_broadcast(&watch->gate_opened);
  pthread_mutex_unlock(&watch->gate_mutex);
}

void job_watch_destroy(job_watch* watch) {
  if (!watch->gated) return;
  pthread_cond_destroy(&watch->gate_opened);
  pthread_mutex_destroy(&watch->gate_mutex);
  watch->gated = 0;
}

/* On the worker thread: waits until the host opens the gate. The loop re-checks gate_open, as
 * pthread_cond_wait may wake spuriously, and the flag (set under the mutex) also covers a gate
 * opened before the worker got here: then there is nothing to wait for. */
static void pass_gate(job_watch* watch) {
  pthread_mutex_lock(&watch->gate_mutex);
  while (!watch->gate_open) pthread_cond_wait(&watch->gate_opened, &watch->gate_mutex);
  pthread_mutex_unlock(&watch->gate_mutex);
}

/* The callbacks run on the job's worker thread, one at a time. */
static int32_t on_progress(void* user_data, const inf_progress* progress) {
  job_watch* watch = (job_watch*)user_data;
  /* Before anything is counted: the library reads the cancel flag only after on_progress
   * returns, so whatever the host did before opening the gate is seen at this step boundary. */
  if (watch->gated) pass_gate(watch);
  ++watch->steps_seen;
  watch->last_step = progress->step;
  printf("  %s: %s %u/%u  %.3f s\n", watch->label, progress->stage != NULL ? progress->stage : "step", progress->step,
         progress->total_steps, progress->step_seconds);
  fflush(stdout);
  return watch->cancel_after_step != 0 && progress->step >= watch->cancel_after_step;
}

/* The preview lives only during this call: the library copies it into a value, converts it to
 * 8-bit RGB in a buffer of ours, and it goes to a file. */
static void on_preview(void* user_data, const inf_progress* progress, const inf_image_desc* image) {
  job_watch* watch = (job_watch*)user_data;
  const inf_api* api = watch->h->api;
  inf_value* copy = NULL;
  inf_image_desc rgb = INF_IMAGE_DESC_INIT;
  uint8_t* pixels = NULL;
  char path[1024], error[512];
  int failed = 1;
  snprintf(path, sizeof path, "%s-step%u.ppm", watch->preview_prefix, progress->step);
  if (host_check(watch->h, api->value_create_image(image, &copy), "copying a preview")) goto done;
  pixels = (uint8_t*)malloc((size_t)image->width * image->height * 3);
  if (pixels == NULL) {
    fprintf(stderr, "infinode_host: out of memory for a %ux%u preview\n", image->width, image->height);
    goto done;
  }
  rgb.width = image->width;
  rgb.height = image->height;
  rgb.channels = INF_CHANNELS_RGB;
  rgb.pixel_stride = 3;
  rgb.row_stride = 3 * (int64_t)image->width;
  rgb.data = pixels;
  if (host_check(watch->h, api->value_read_image(copy, &rgb), "converting a preview")) goto done;
  if (pnm_write_u8(path, image->width, image->height, 3, pixels, error, sizeof error) != 0) {
    fprintf(stderr, "infinode_host: %s\n", error);
    goto done;
  }
  printf("  %s: preview of step %u (%ux%u) -> %s\n", watch->label, progress->step, image->width, image->height, path);
  fflush(stdout);
  ++watch->previews_written;
  failed = 0;
done:
  if (failed) ++watch->preview_failures;
  free(pixels);
  if (copy != NULL) api->value_release(copy);
}

static void on_done(void* user_data, inf_job* job, inf_status result, const char* message) {
  job_watch* watch = (job_watch*)user_data;
  (void)job;
  ++watch->done_calls;
  watch->done_result = result;
  printf("  %s: done, %s%s%s\n", watch->label, watch->h->api->status_name(result), result == INF_STATUS_OK ? "" : ": ",
         result == INF_STATUS_OK || message == NULL ? "" : message);
  fflush(stdout);
}

static int port_index(const inf_port_desc* const* ports, uint32_t count, const char* id, uint32_t* out_index) {
  uint32_t k;
  for (k = 0; k < count; ++k) {
    if (strcmp(ports[k]->id, id) == 0) {
      *out_index = k;
      return 0;
    }
  }
  return 1;
}

int host_start_job(const host* h, inf_node* node, const port_value* inputs, size_t input_count, job_watch* watch,
                   inf_job** out_job) {
  const inf_node_desc* desc = NULL;
  inf_value** ordered = NULL;
  inf_job_callbacks callbacks = INF_JOB_CALLBACKS_INIT;
  size_t k;
  int failed = 1;
  if (host_check(h, h->api->node_desc(node, &desc), "node_desc")) return 1;
  /* calloc(0) may return NULL: one spare slot keeps "no inputs" distinct from "no memory". */
  ordered = (inf_value**)calloc((size_t)desc->input_count + 1, sizeof *ordered);
  if (ordered == NULL) {
    fprintf(stderr, "infinode_host: out of memory\n");
    return 1;
  }
  for (k = 0; k < input_count; ++k) {
    uint32_t index;
    if (port_index(desc->inputs, desc->input_count, inputs[k].port_id, &index) != 0) {
      fprintf(stderr, "infinode_host: node %s has no input port '%s'\n", desc->id, inputs[k].port_id);
      goto done;
    }
    ordered[index] = inputs[k].value;
  }
  callbacks.user_data = watch;
  callbacks.on_progress = on_progress;
  callbacks.on_preview = watch->preview_prefix != NULL ? on_preview : NULL;
  callbacks.on_done = on_done;
  failed = host_check(h, h->api->node_run_async(node, ordered, desc->input_count, &callbacks, out_job), desc->id);
done:
  free(ordered);
  return failed;
}

int host_finish_job(const host* h, inf_job* job, const char* label) {
  inf_status result = INF_STATUS_INTERNAL;
  if (host_check(h, h->api->job_wait(job, INF_WAIT_FOREVER, &result), "job_wait")) return 1;
  if (result == INF_STATUS_OK) return 0;
  fprintf(stderr, "infinode_host: %s failed: %s: %s\n", label, h->api->status_name(result), h->api->job_last_error(job));
  return 1;
}

int host_run_node(const host* h, inf_node* node, job_watch* watch, const port_value* inputs, size_t input_count,
                  const char* output_id, inf_value** out_value) {
  const inf_node_desc* desc = NULL;
  inf_job* job = NULL;
  uint32_t index;
  int failed = 1;
  if (host_check(h, h->api->node_desc(node, &desc), "node_desc")) return 1;
  if (port_index(desc->outputs, desc->output_count, output_id, &index) != 0) {
    fprintf(stderr, "infinode_host: node %s has no output port '%s'\n", desc->id, output_id);
    return 1;
  }
  if (host_start_job(h, node, inputs, input_count, watch, &job)) return 1;
  if (host_finish_job(h, job, watch->label) == 0)
    failed = host_check(h, h->api->job_get_output(job, index, out_value), "job_get_output");
  if (host_check(h, h->api->job_release(job), "job_release")) failed = 1;
  return failed;
}

int host_release_value(const host* h, inf_value** value) {
  int failed = 0;
  if (*value != NULL) failed = host_check(h, h->api->value_release(*value), "value_release");
  *value = NULL;
  return failed;
}

int host_release_node(const host* h, inf_node** node) {
  int failed = 0;
  if (*node != NULL) failed = host_check(h, h->api->node_release(*node), "node_release");
  *node = NULL;
  return failed;
}

int host_release_job(const host* h, inf_job** job) {
  int failed = 0;
  if (*job != NULL) failed = host_check(h, h->api->job_release(*job), "job_release");
  *job = NULL;
  return failed;
}

int host_release_engine(const host* h, inf_engine** engine) {
  int failed = 0;
  if (*engine != NULL) failed = host_check(h, h->api->engine_release(*engine), "engine_release");
  *engine = NULL;
  return failed;
}

const char* host_value_type_name(inf_value_type type) {
  switch (type) {
    case INF_TYPE_NONE: return "NONE";
    case INF_TYPE_TEXT: return "TEXT";
    case INF_TYPE_TOKEN_IDS: return "TOKEN_IDS";
    case INF_TYPE_TEXT_EMBEDDING: return "TEXT_EMBEDDING";
    case INF_TYPE_BIT_TOKENS: return "BIT_TOKENS";
    case INF_TYPE_IMAGE: return "IMAGE";
    case INF_TYPE_MASK: return "MASK";
    case INF_TYPE_FORCE32: break;
  }
  return "UNKNOWN";
}

const char* host_param_type_name(inf_param_type type) {
  switch (type) {
    case INF_PARAM_INT: return "INT";
    case INF_PARAM_FLOAT: return "FLOAT";
    case INF_PARAM_BOOL: return "BOOL";
    case INF_PARAM_STRING: return "STRING";
    case INF_PARAM_ENUM: return "ENUM";
    case INF_PARAM_FORCE32: break;
  }
  return "UNKNOWN";
}
