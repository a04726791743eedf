/* host_support.h -- what every command of the sample host needs: libinfinode loaded through
 * dlopen, status checks that print why a call failed, engines, and nodes run asynchronously with
 * their inputs and outputs named by port id (as a node-graph host wires them). */
#ifndef INFINODE_HOST_SUPPORT_H
#define INFINODE_HOST_SUPPORT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "infinode.h"

typedef struct host {
  void* library; /* dlopen handle */
  const inf_api* api;
} host;

/* Loads the library at path (a file or a soname the dynamic loader finds) and its 1.0 table.
 * Prints the reason and returns nonzero on failure. */
int host_load(host* h, const char* path);
void host_unload(host* h);

/* 0 when status is INF_STATUS_OK; otherwise prints "infinode_host: WHAT: STATUS: message" with
 * the calling thread's last error and returns 1. Call it right after the failing call. */
int host_check(const host* h, inf_status status, const char* what);

/* Where the engine's models come from: a model directory, random weights ({"random": CONFIG}),
 * both (the random entry then fills what the directory lacks) or neither: the library's default
 * model (INFINODE_MODEL_DIR, else its built-in directory; engine_model_dir says which, "" if
 * there is none). */
typedef struct engine_options {
  const char* model_dir;     /* NULL: the library's default (with random_config NULL), else none */
  const char* random_config; /* NULL: none; e.g. "tiny" */
  const char* device;        /* NULL: "cpu" */
} engine_options;

int host_create_engine(const host* h, const engine_options* options, inf_engine** out_engine);

/* One input of a node, by port id. */
typedef struct port_value {
  const char* port_id;
  inf_value* value; /* NULL leaves an optional port unconnected */
} port_value;

/* What a job's callbacks print and count. The settings (up to preview_prefix) and `gated` are
 * written before the job is submitted, which orders them before the worker thread reads them.
 * The counts (steps_seen .. done_result) are written by the worker thread only and read by the
 * host after job_wait, which orders them after the worker's writes. gate_open is the one field
 * both threads touch while the job runs: only under gate_mutex. */
typedef struct job_watch {
  const host* h;
  const char* label;           /* printed before every line */
  uint32_t cancel_after_step;  /* 0: never; else on_progress asks the job to stop after that step */
  const char* preview_prefix;  /* NULL: no previews; else each is written to PREFIX-stepK.ppm */
  uint32_t steps_seen;         /* on_progress calls */
  uint32_t last_step;          /* the step of the last on_progress call */
  uint32_t previews_written;
  int preview_failures;
  int done_calls;
  inf_status done_result;      /* as on_done saw it */
  /* The optional gate (job_watch_close_gate): while it is closed, on_progress waits before it
   * counts or prints a step, so the worker cannot get past its first step boundary until the
   * host opens it. That lets a host do something "before the job's first step ends" (e.g.
   * job_cancel) without depending on how fast either thread happens to run. */
  int gated;                   /* job_watch_close_gate succeeded: the fields below are live */
  int gate_open;               /* guarded by gate_mutex */
  pthread_mutex_t gate_mutex;
  pthread_cond_t gate_opened;  /* signalled when gate_open becomes 1 */
} job_watch;

/* A job_watch for label (zeroed; callbacks print progress and the result; no gate). */
void job_watch_init(job_watch* watch, const host* h, const char* label);

/* Gives watch a closed gate: call before the job starts. Prints why and returns nonzero on
 * failure (the watch is then left ungated). Every gate must be opened (job_watch_open_gate),
 * whatever happens, or the job never finishes and job_wait blocks for ever. */
int job_watch_close_gate(job_watch* watch);

/* Opens the gate: on_progress calls waiting on it go on, later ones do not wait. Idempotent;
 * does nothing without a gate. */
void job_watch_open_gate(job_watch* watch);

/* Frees the gate's mutex and condition variable, if any: only once the job is done (after
 * job_wait returned OK: on_done has returned and no callback of the job runs any more). */
void job_watch_destroy(job_watch* watch);

/* Starts node on inputs named by port id; ports not named stay unconnected. The callbacks of
 * watch are installed (watch must outlive the job's on_done). */
int host_start_job(const host* h, inf_node* node, const port_value* inputs, size_t input_count, job_watch* watch,
                   inf_job** out_job);

/* Waits for the job and checks its result: prints job_last_error and returns 1 if it failed. */
int host_finish_job(const host* h, inf_job* job, const char* label);

/* Start, wait, take one output: the common case. watch is initialised by the caller
 * (job_watch_init, then e.g. a preview prefix). */
int host_run_node(const host* h, inf_node* node, job_watch* watch, const port_value* inputs, size_t input_count,
                  const char* output_id, inf_value** out_value);

/* Release the handle if it is not NULL and set it to NULL (cleanup paths); nonzero if the
 * release failed. */
int host_release_value(const host* h, inf_value** value);
int host_release_node(const host* h, inf_node** node);
int host_release_job(const host* h, inf_job** job);
int host_release_engine(const host* h, inf_engine** engine);

/* Names for enums, for printing. */
const char* host_value_type_name(inf_value_type type);
const char* host_param_type_name(inf_param_type type);

#endif /* INFINODE_HOST_SUPPORT_H */
