/* infinode_host -- a small C99 host for libinfinode, written as a node-graph application would
 * use it: load the library with dlopen, list the nodes from their descriptors, and wire
 * text -> image and image -> edit -> image, running every node asynchronously with progress
 * callbacks; plus a demonstration that a running job can be cancelled between two scales.
 * Images are PPM/PGM files (pnm.h) so the host needs no image library.
 *
 *   infinode_host [--library PATH] list
 *   infinode_host [--library PATH] text2image --prompt P -o OUT.ppm [--model DIR | --random CONFIG]
 *                 [--seed N] [--resolution KEY] [--previews PREFIX]
 *   infinode_host [--library PATH] edit --input IN.ppm --prompt P --keep-scales K -o OUT.ppm
 *                 [--mask MASK.pgm] [--model DIR | --random CONFIG] [--seed N] [--resolution KEY]
 *   infinode_host [--library PATH] cancel-demo [--model DIR | --random CONFIG]
 *
 * Without --model or --random the engine takes the library's default model (the directory in
 * INFINODE_MODEL_DIR, else the one built in); cancel-demo falls back to --random tiny when the
 * library has none.
 *
 * Exit status: 0 success, 1 a failed call (its status and message are printed), 2 usage. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_support.h"
#include "node_listing.h"
#include "pnm.h"

#define NODE_TEXT_ENCODE "org.infinode.text.encode"
#define NODE_GENERATE "org.infinode.sampler.generate"
#define NODE_EDIT "org.infinode.sampler.edit"
#define NODE_IMAGE_ENCODE "org.infinode.image.encode"
#define NODE_IMAGE_DECODE "org.infinode.image.decode"

/* The step after which cancel-demo stops its job. */
#define CANCEL_AFTER_STEP 2u

typedef struct options {
  const char* library;
  const char* command;
  engine_options engine;
  const char* prompt;
  const char* output;
  const char* input;
  const char* mask;
  const char* previews;
  const char* resolution;
  int64_t seed;
  int has_seed;
  int64_t keep_scales;
  int has_keep_scales;
} options;

static void usage(void) {
  fprintf(stderr,
          "usage: infinode_host [--library PATH] COMMAND [options]\n"
          "  list                                   nodes, ports and parameters\n"
          "  text2image --prompt P -o OUT.ppm       text.encode -> sampler.generate -> image.decode\n"
          "             [--seed N] [--resolution KEY] [--previews PREFIX]\n"
          "  edit --input IN.ppm --prompt P --keep-scales K -o OUT.ppm [--mask MASK.pgm] [--seed N]\n"
          "       [--resolution KEY]                image.encode -> sampler.edit -> image.decode\n"
          "  cancel-demo                            cancels a generate job after step %u\n"
          "--resolution: auto, 0.06M (256x256), 0.25M, 0.60M or 1M (the nodes' resolution parameter)\n"
          "engine options: --model DIR, --random CONFIG (random weights, e.g. tiny), --device NAME;\n"
          "  neither: the library's default model (INFINODE_MODEL_DIR, else the built-in one)\n"
          "library: --library PATH (default libinfinode.so.1)\n",
          CANCEL_AFTER_STEP);
}

static int parse_int64(const char* name, const char* text, int64_t min, int64_t max, int64_t* out) {
  char* end = NULL;
  long long value;
  errno = 0;
  value = strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
    fprintf(stderr, "infinode_host: %s '%s' is not an integer in %" PRId64 "..%" PRId64 "\n", name, text, min, max);
    return 1;
  }
  *out = (int64_t)value;
  return 0;
}

/* Returns 0, or 2 (usage) after printing why. */
static int parse_options(int argc, char** argv, options* o) {
  int k;
  memset(o, 0, sizeof *o);
  o->library = "libinfinode.so.1";
  for (k = 1; k < argc; ++k) {
    const char* arg = argv[k];
    const char* value = k + 1 < argc ? argv[k + 1] : NULL;
    const char** text_slot = NULL;
    if (arg[0] != '-') {
      if (o->command != NULL) {
        fprintf(stderr, "infinode_host: unexpected argument '%s'\n", arg);
        return 2;
      }
      o->command = arg;
      continue;
    }
    if (strcmp(arg, "--library") == 0) text_slot = &o->library;
    else if (strcmp(arg, "--model") == 0) text_slot = &o->engine.model_dir;
    else if (strcmp(arg, "--random") == 0) text_slot = &o->engine.random_config;
    else if (strcmp(arg, "--device") == 0) text_slot = &o->engine.device;
    else if (strcmp(arg, "--prompt") == 0) text_slot = &o->prompt;
    else if (strcmp(arg, "-o") == 0 || strcmp(arg, "--output") == 0) text_slot = &o->output;
    else if (strcmp(arg, "--input") == 0) text_slot = &o->input;
    else if (strcmp(arg, "--mask") == 0) text_slot = &o->mask;
    else if (strcmp(arg, "--previews") == 0) text_slot = &o->previews;
    else if (strcmp(arg, "--resolution") == 0) text_slot = &o->resolution;
    else if (strcmp(arg, "--seed") != 0 && strcmp(arg, "--keep-scales") != 0) {
      fprintf(stderr, "infinode_host: unknown option '%s'\n", arg);
      return 2;
    }
    if (value == NULL) {
      fprintf(stderr, "infinode_host: %s needs a value\n", arg);
      return 2;
    }
    ++k;
    if (text_slot != NULL) {
      *text_slot = value;
    } else if (strcmp(arg, "--seed") == 0) {
      if (parse_int64("--seed", value, 0, (int64_t)1 << 53, &o->seed)) return 2;
      o->has_seed = 1;
    } else {
      if (parse_int64("--keep-scales", value, 0, 64, &o->keep_scales)) return 2;
      o->has_keep_scales = 1;
    }
  }
  if (o->command == NULL) {
    usage();
    return 2;
  }
  return 0;
}

static int require(const char* value, const char* option, const char* command) {
  if (value != NULL) return 0;
  fprintf(stderr, "infinode_host: %s needs %s\n", command, option);
  return 1;
}

static int create_node(const host* h, inf_engine* engine, const char* node_id, inf_node** out_node) {
  return host_check(h, h->api->node_create(engine, node_id, out_node), node_id);
}

/* An IMAGE value read back into a host buffer as 8-bit sRGB RGB and written as a PPM. */
static int write_image(const host* h, inf_value* image, const char* path) {
  inf_image_desc info = INF_IMAGE_DESC_INIT;
  inf_image_desc rgb = INF_IMAGE_DESC_INIT;
  uint8_t* pixels;
  char error[512];
  int failed = 1;
  if (host_check(h, h->api->value_get_image_info(image, &info), "value_get_image_info")) return 1;
  pixels = (uint8_t*)malloc((size_t)info.width * info.height * 3);
  if (pixels == NULL) {
    fprintf(stderr, "infinode_host: out of memory for a %ux%u image\n", info.width, info.height);
    return 1;
  }
  rgb.width = info.width;
  rgb.height = info.height;
  rgb.scalar = INF_SCALAR_U8;
  rgb.channels = INF_CHANNELS_RGB;
  rgb.transfer = INF_TRANSFER_SRGB;
  rgb.pixel_stride = 3;
  rgb.row_stride = 3 * (int64_t)info.width;
  rgb.data = pixels;
  if (host_check(h, h->api->value_read_image(image, &rgb), "value_read_image") == 0) {
    if (pnm_write_u8(path, info.width, info.height, 3, pixels, error, sizeof error) != 0) {
      fprintf(stderr, "infinode_host: %s\n", error);
    } else {
      printf("wrote %s (%ux%u)\n", path, info.width, info.height);
      failed = 0;
    }
  }
  free(pixels);
  return failed;
}

/* A PNM file as a value: an IMAGE (gray or RGB) or, with as_mask, a MASK (gray only). */
static int read_pnm_value(const host* h, const char* path, int as_mask, inf_value** out_value) {
  pnm_image file;
  inf_image_desc desc = INF_IMAGE_DESC_INIT;
  char error[512];
  int failed;
  if (pnm_read(path, INF_IMAGE_MAX_SIDE, &file, error, sizeof error) != 0) {
    fprintf(stderr, "infinode_host: %s\n", error);
    return 1;
  }
  if (as_mask && file.channels != 1) {
    fprintf(stderr, "infinode_host: %s: a mask must be a PGM file (one channel)\n", path);
    pnm_free(&file);
    return 1;
  }
  desc.width = file.width;
  desc.height = file.height;
  desc.scalar = INF_SCALAR_U16;
  desc.channels = file.channels == 3 ? INF_CHANNELS_RGB : INF_CHANNELS_GRAY;
  desc.transfer = INF_TRANSFER_SRGB;
  desc.pixel_stride = 2 * (int64_t)file.channels;
  desc.row_stride = desc.pixel_stride * (int64_t)file.width;
  desc.data = file.samples;
  failed = as_mask ? host_check(h, h->api->value_create_mask(&desc, out_value), "value_create_mask")
                   : host_check(h, h->api->value_create_image(&desc, out_value), "value_create_image");
  pnm_free(&file); /* the library copied the pixels */
  return failed;
}

/* text.encode on one prompt. */
static int encode_prompt(const host* h, inf_engine* engine, const char* prompt, inf_value** out_embedding) {
  inf_node* encode = NULL;
  inf_value* text = NULL;
  job_watch watch;
  int failed = 1;
  port_value inputs[1];
  if (create_node(h, engine, NODE_TEXT_ENCODE, &encode)) return 1;
  if (host_check(h, h->api->value_create_text(prompt, INF_TEXT_NUL_TERMINATED, &text), "value_create_text")) goto done;
  inputs[0].port_id = "text";
  inputs[0].value = text;
  job_watch_init(&watch, h, "text.encode");
  failed = host_run_node(h, encode, &watch, inputs, 1, "embedding", out_embedding);
done:
  if (host_release_value(h, &text)) failed = 1;
  if (host_release_node(h, &encode)) failed = 1;
  return failed;
}

/* image.decode of every stored scale, written as a PPM. */
static int decode_to_file(const host* h, inf_engine* engine, inf_value* tokens, const char* path) {
  inf_node* decode = NULL;
  inf_value* image = NULL;
  job_watch watch;
  port_value inputs[1];
  int failed = 1;
  if (create_node(h, engine, NODE_IMAGE_DECODE, &decode)) return 1;
  inputs[0].port_id = "tokens";
  inputs[0].value = tokens;
  job_watch_init(&watch, h, "image.decode");
  if (host_run_node(h, decode, &watch, inputs, 1, "image", &image) == 0) failed = write_image(h, image, path);
  if (host_release_value(h, &image)) failed = 1;
  if (host_release_node(h, &decode)) failed = 1;
  return failed;
}

static int command_list(const host* h, const options* o) {
  inf_engine* engine = NULL;
  int failed = 1;
  if (host_create_engine(h, &o->engine, &engine) == 0) failed = host_list_nodes(h, engine);
  if (host_release_engine(h, &engine)) failed = 1;
  return failed;
}

static int command_text2image(const host* h, const options* o) {
  inf_engine* engine = NULL;
  inf_node* generate = NULL;
  inf_value *embedding = NULL, *tokens = NULL;
  job_watch watch;
  port_value inputs[1];
  int failed = 1;
  if (require(o->prompt, "--prompt", "text2image") || require(o->output, "-o OUT.ppm", "text2image")) return 2;
  if (host_create_engine(h, &o->engine, &engine)) return 1;
  if (encode_prompt(h, engine, o->prompt, &embedding)) goto done;
  if (create_node(h, engine, NODE_GENERATE, &generate)) goto done;
  if (o->has_seed && host_check(h, h->api->node_set_int(generate, "seed", o->seed), "seed")) goto done;
  if (o->resolution != NULL && host_check(h, h->api->node_set_string(generate, "resolution", o->resolution), "resolution"))
    goto done;
  inputs[0].port_id = "positive";
  inputs[0].value = embedding;
  job_watch_init(&watch, h, "sampler.generate");
  watch.preview_prefix = o->previews;
  if (host_run_node(h, generate, &watch, inputs, 1, "tokens", &tokens)) goto done;
  if (watch.preview_failures != 0) goto done;
  failed = decode_to_file(h, engine, tokens, o->output);
done:
  if (host_release_value(h, &tokens)) failed = 1;
  if (host_release_value(h, &embedding)) failed = 1;
  if (host_release_node(h, &generate)) failed = 1;
  if (host_release_engine(h, &engine)) failed = 1;
  return failed;
}

static int command_edit(const host* h, const options* o) {
  inf_engine* engine = NULL;
  inf_node *encode = NULL, *edit = NULL;
  inf_value *image = NULL, *mask = NULL, *source = NULL, *embedding = NULL, *edited = NULL;
  job_watch watch;
  port_value inputs[3];
  int failed = 1;
  if (require(o->input, "--input IN.ppm", "edit") || require(o->prompt, "--prompt", "edit") ||
      require(o->output, "-o OUT.ppm", "edit"))
    return 2;
  if (!o->has_keep_scales) {
    fprintf(stderr, "infinode_host: edit needs --keep-scales K\n");
    return 2;
  }
  /* Values belong to no engine: bad files are reported before an engine exists. */
  if (read_pnm_value(h, o->input, 0, &image)) goto done;
  if (o->mask != NULL && read_pnm_value(h, o->mask, 1, &mask)) goto done;
  if (host_create_engine(h, &o->engine, &engine)) goto done;

  if (create_node(h, engine, NODE_IMAGE_ENCODE, &encode)) goto done;
  /* The edit keeps the source's schedule, so the resolution is chosen here. */
  if (o->resolution != NULL && host_check(h, h->api->node_set_string(encode, "resolution", o->resolution), "resolution"))
    goto done;
  inputs[0].port_id = "image";
  inputs[0].value = image;
  job_watch_init(&watch, h, "image.encode");
  if (host_run_node(h, encode, &watch, inputs, 1, "tokens", &source)) goto done;
  if (encode_prompt(h, engine, o->prompt, &embedding)) goto done;

  if (create_node(h, engine, NODE_EDIT, &edit)) goto done;
  if (host_check(h, h->api->node_set_int(edit, "keep_scales", o->keep_scales), "keep_scales")) goto done;
  if (o->has_seed && host_check(h, h->api->node_set_int(edit, "seed", o->seed), "seed")) goto done;
  inputs[0].port_id = "tokens";
  inputs[0].value = source;
  inputs[1].port_id = "positive";
  inputs[1].value = embedding;
  inputs[2].port_id = "mask";
  inputs[2].value = mask; /* NULL: the optional port stays unconnected */
  job_watch_init(&watch, h, "sampler.edit");
  if (host_run_node(h, edit, &watch, inputs, 3, "tokens", &edited)) goto done;
  failed = decode_to_file(h, engine, edited, o->output);
done:
  if (host_release_value(h, &edited)) failed = 1;
  if (host_release_value(h, &embedding)) failed = 1;
  if (host_release_value(h, &source)) failed = 1;
  if (host_release_value(h, &mask)) failed = 1;
  if (host_release_value(h, &image)) failed = 1;
  if (host_release_node(h, &edit)) failed = 1;
  if (host_release_node(h, &encode)) failed = 1;
  if (host_release_engine(h, &engine)) failed = 1;
  return failed;
}

static int expect(int condition, const char* what) {
  printf("  %s %s\n", condition ? "ok:    " : "FAILED:", what);
  return condition ? 0 : 1;
}

/* One cancelled generate job: stopped from on_progress after step CANCEL_AFTER_STEP (the job
 * must report exactly that many steps), or from this thread right after it was submitted.
 * In the second case this thread races the worker: on a small model a step takes about a
 * millisecond, so on a loaded machine the job could finish several steps before job_cancel is
 * even called. What the library promises is only that once job_cancel has returned, the job
 * stops at its next step boundary (the step in flight completes). So the watch's gate holds
 * the worker in on_progress of the first step until job_cancel has returned: then the job
 * reports no step (the cancel came before it began sampling) or exactly step 1, whatever the
 * timing, and the check is exact. Returns the number of failed checks. */
static int cancelled_generate(const host* h, inf_node* generate, inf_value* embedding, int cancel_from_host) {
  const inf_api* api = h->api;
  inf_job* job = NULL;
  inf_value* output = NULL;
  inf_status result = INF_STATUS_INTERNAL;
  job_watch watch;
  port_value inputs[1];
  int mismatches = 0;
  int finished = 0; /* job_wait returned OK: no callback of the job runs any more */
  inputs[0].port_id = "positive";
  inputs[0].value = embedding;
  job_watch_init(&watch, h, "sampler.generate");
  if (!cancel_from_host) watch.cancel_after_step = CANCEL_AFTER_STEP;
  else if (job_watch_close_gate(&watch)) return 1;
  if (host_start_job(h, generate, inputs, 1, &watch, &job)) {
    job_watch_destroy(&watch); /* no job was accepted: nothing uses the gate */
    return 1;
  }
  if (cancel_from_host) {
    mismatches += expect(api->job_cancel(job) == INF_STATUS_OK, "job_cancel from the host thread");
    /* Only now may the worker get past its first step. Opened whatever job_cancel returned:
     * a closed gate would keep the job, and job_wait below, waiting for ever. */
    job_watch_open_gate(&watch);
  }
  if (host_check(h, api->job_wait(job, INF_WAIT_FOREVER, &result), "job_wait")) {
    ++mismatches;
  } else {
    finished = 1;
    printf("job result: %s: %s\n", api->status_name(result), api->job_last_error(job));
    mismatches += expect(result == INF_STATUS_CANCELLED, "the job ended INF_STATUS_CANCELLED");
    if (cancel_from_host)
      mismatches += expect(watch.steps_seen == 0 || (watch.steps_seen == 1 && watch.last_step == 1),
                           "the job stopped at the first step boundary after the cancel");
    else
      mismatches += expect(watch.steps_seen == CANCEL_AFTER_STEP && watch.last_step == CANCEL_AFTER_STEP,
                           "no step ran after the one that asked to stop");
    mismatches += expect(watch.done_calls == 1 && watch.done_result == INF_STATUS_CANCELLED,
                         "on_done ran once, with INF_STATUS_CANCELLED");
    mismatches += expect(api->job_cancel(job) == INF_STATUS_OK, "cancelling a finished job again is harmless");
    mismatches += expect(api->job_get_output(job, 0, &output) == INF_STATUS_CANCELLED && output == NULL,
                         "a cancelled job has no output");
  }
  /* A job that did not finish may still be inside on_progress: its gate must outlive it. */
  if (finished) job_watch_destroy(&watch);
  if (host_release_value(h, &output)) ++mismatches;
  if (host_release_job(h, &job)) ++mismatches;
  return mismatches;
}

static int command_cancel_demo(const host* h, const options* o) {
  engine_options engine_choice = o->engine;
  inf_engine* engine = NULL;
  inf_node* generate = NULL;
  inf_value* embedding = NULL;
  const char* model_dir = NULL;
  int failed = 1;
  if (host_create_engine(h, &engine_choice, &engine)) return 1;
  /* Cancelling needs some model, not a good one: where the library has no default model (not
   * installed, or INFINODE_MODEL_DIR set but empty), the random tiny pipeline runs the demo. */
  if (engine_choice.model_dir == NULL && engine_choice.random_config == NULL) {
    if (host_check(h, h->api->engine_model_dir(engine, &model_dir), "engine_model_dir")) goto done;
    if (model_dir[0] == '\0') {
      printf("no default model: the demo runs on random weights (--random tiny)\n");
      if (host_release_engine(h, &engine)) goto done;
      engine_choice.random_config = "tiny";
      if (host_create_engine(h, &engine_choice, &engine)) goto done;
    } else {
      printf("default model: %s\n", model_dir);
    }
  }
  if (encode_prompt(h, engine, "an endless lighthouse", &embedding)) goto done;
  if (create_node(h, engine, NODE_GENERATE, &generate)) goto done;
  if (o->resolution != NULL &&
      host_check(h, h->api->node_set_string(generate, "resolution", o->resolution), "resolution"))
    goto done;
  printf("cancel from on_progress after step %u:\n", CANCEL_AFTER_STEP);
  failed = cancelled_generate(h, generate, embedding, 0) != 0;
  printf("cancel from the host thread:\n");
  if (cancelled_generate(h, generate, embedding, 1) != 0) failed = 1;
done:
  if (host_release_value(h, &embedding)) failed = 1;
  if (host_release_node(h, &generate)) failed = 1;
  if (host_release_engine(h, &engine)) failed = 1;
  return failed;
}

int main(int argc, char** argv) {
  options o;
  host h;
  int status = parse_options(argc, argv, &o);
  if (status != 0) return status;
  if (strcmp(o.command, "list") != 0 && strcmp(o.command, "text2image") != 0 && strcmp(o.command, "edit") != 0 &&
      strcmp(o.command, "cancel-demo") != 0) {
    fprintf(stderr, "infinode_host: unknown command '%s'\n", o.command);
    usage();
    return 2;
  }
  if (host_load(&h, o.library)) return 1;
  if (strcmp(o.command, "list") == 0) status = command_list(&h, &o);
  else if (strcmp(o.command, "text2image") == 0) status = command_text2image(&h, &o);
  else if (strcmp(o.command, "edit") == 0) status = command_edit(&h, &o);
  else status = command_cancel_demo(&h, &o);
  host_unload(&h);
  return status;
}
