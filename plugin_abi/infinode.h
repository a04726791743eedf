/* infinode.h -- the infinode plugin ABI, version 1.0. Plain C99; also valid C++.
 *
 * infinode runs Infinity (bitwise autoregressive text-to-image) as nodes that a host wires into
 * a graph: text -> tokens -> embedding -> bit tokens -> image, and image -> bit tokens -> edit.
 * This header is the whole contract between libinfinode and its hosts and node providers.
 *
 * ENTRY POINT AND VERSIONS
 *   The library exports one symbol, inf_get_api(). It returns a table of function pointers for
 *   the requested ABI version, or NULL when the major version differs or the minor version is
 *   newer than the library's. Minor versions only append functions to the table and fields to
 *   structs; nothing is reordered, removed or retyped, and numeric enum values never change.
 *   A new major version means a new table; the entry point itself never changes.
 *
 * STRUCT SIZES
 *   Every struct that crosses the boundary starts with uint32_t struct_size = sizeof(struct) as
 *   the caller compiled it (the INF_*_INIT macros set it). For structs the caller passes in, the
 *   library reads min(struct_size, its own size) bytes and treats the fields past the caller's
 *   size as zero. For structs the library fills, it writes only the caller's struct_size bytes.
 *   A struct_size below the 1.0 size of the struct is refused with INF_STATUS_INVALID_ARGUMENT.
 *   Structs the library hands out by pointer (node descriptors) carry their own struct_size: read
 *   a field added after 1.0 only if struct_size covers it. Arrays of structs are passed as arrays
 *   of pointers, so their elements can grow too. inf_grid is the one plain pair without a size.
 *
 * HANDLES
 *   inf_engine, inf_node, inf_value and inf_job are opaque, reference-counted handles. A create
 *   function hands out one reference; *_retain adds one, *_release drops one. Releasing the last
 *   reference invalidates the handle at once; the object itself lives on while running work
 *   needs it (a job keeps its node, its inputs and its engine until it is done). The library tracks live handles:
 *   a released, forged or wrong-kind handle is answered with INF_STATUS_INVALID_HANDLE instead of
 *   a crash, and handle values are never reused within a process, so "release twice" is always
 *   detected when nothing else holds a reference. NULL handles give INF_STATUS_INVALID_ARGUMENT.
 *
 * ERRORS
 *   Every function that can fail returns inf_status. No exception, abort or C++ type crosses the
 *   boundary. The message that explains a non-OK status (returned, or reported through an
 *   out_result parameter) is kept per handle AND per calling thread: *_last_error(handle) gives
 *   the message of the calling thread's most recent failure on that handle ("" if none), valid
 *   until that thread's next failure on the same handle or until the handle dies. last_error()
 *   gives the calling thread's most recent failure on any handle (thread-local, valid until the
 *   thread's next failure); *_last_error(NULL or a dead handle) returns it too. Messages are UTF-8.
 *
 * THREADING
 *   Every function may be called from any thread, on any handle, concurrently. Values are
 *   immutable once created, so one value may feed many jobs at once. A node's parameters are
 *   snapshotted when the job is submitted. Jobs of one node run one at a time (in no promised
 *   order); jobs of different nodes run concurrently on library worker threads.
 *   Callbacks: on_progress, on_preview and on_done run on the job's worker thread, never two at
 *   once for one job. They may call any function, except that job_wait only polls on a library
 *   thread: a blocking wait there returns INF_STATUS_WOULD_DEADLOCK unless the job is done.
 *   A log callback may run on any thread (a host thread inside a call, or a worker thread);
 *   calls to one engine's log callback are serialized; it must not call into the library.
 *
 * OWNERSHIP
 *   Whatever the library allocates, the library frees: the host never free()s library memory.
 *   Strings and arrays passed in are copied before the call returns. Pointers the library hands
 *   out stay valid for the lifetime noted at each function. Image pixels are host-allocated in
 *   both directions (inf_image_desc describes the host's buffer), except previews, which point at
 *   a library or provider buffer valid only during the on_preview call.
 *
 * NODE PROVIDERS
 *   A node type is an inf_node_provider: a descriptor plus create/run/destroy functions. Built-in
 *   nodes register through api->engine_register_provider exactly as a third-party plugin does.
 */
#ifndef INFINODE_H
#define INFINODE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  if defined(INF_BUILDING_LIBRARY)
#    define INF_EXPORT __declspec(dllexport)
#  else
#    define INF_EXPORT __declspec(dllimport)
#  endif
#elif defined(__GNUC__)
#  define INF_EXPORT __attribute__((visibility("default")))
#else
#  define INF_EXPORT
#endif

#define INF_ABI_MAJOR 1
#define INF_ABI_MINOR 0
#define INF_MAKE_VERSION(major, minor) (((uint32_t)(major) << 16) | (uint32_t)(minor))
#define INF_VERSION_MAJOR(version) ((uint32_t)(version) >> 16)
#define INF_VERSION_MINOR(version) ((uint32_t)(version) & 0xFFFFu)
#define INF_ABI_VERSION INF_MAKE_VERSION(INF_ABI_MAJOR, INF_ABI_MINOR)

/* Limits the library enforces on everything passed in. */
#define INF_IMAGE_MAX_SIDE 16384u               /* pixels per image side */
#define INF_TEXT_MAX_BYTES ((size_t)1 << 20)     /* bytes of one text value */
#define INF_TOKEN_IDS_MAX ((size_t)1 << 20)      /* ids in one token-id value */
#define INF_TEXT_NUL_TERMINATED ((size_t)-1)     /* length argument: use strlen() */
#define INF_WAIT_FOREVER ((int64_t)-1)           /* timeout argument of job_wait */

/* ---- enums: numeric values are part of the ABI and never change ---- */

typedef enum inf_status {
  INF_STATUS_OK = 0,
  INF_STATUS_INVALID_ARGUMENT = 1, /* NULL pointer, bad struct_size, out of range, bad image/UTF-8 */
  INF_STATUS_INVALID_HANDLE = 2,   /* released, forged, or the wrong kind of handle */
  INF_STATUS_NOT_FOUND = 3,        /* unknown node id, parameter id or port */
  INF_STATUS_TYPE_MISMATCH = 4,    /* a value or parameter of the wrong type */
  INF_STATUS_ALREADY_EXISTS = 5,   /* a node id registered twice on one engine */
  INF_STATUS_UNSUPPORTED = 6,      /* valid, but not supported by this build or version */
  INF_STATUS_INVALID_DATA = 7,     /* a file or buffer is malformed or inconsistent */
  INF_STATUS_IO = 8,               /* the OS refused (open, read, write) */
  INF_STATUS_OUT_OF_MEMORY = 9,
  INF_STATUS_CANCELLED = 10,       /* the job was cancelled */
  INF_STATUS_TIMEOUT = 11,         /* job_wait: the job has not finished yet */
  INF_STATUS_NOT_READY = 12,       /* job output asked for before the job finished */
  INF_STATUS_WOULD_DEADLOCK = 13,  /* a blocking job_wait inside a callback or provider */
  INF_STATUS_INTERNAL = 14,        /* a bug in infinode or a provider */
  INF_STATUS_FORCE32 = 0x7FFFFFFF
} inf_status;

typedef enum inf_log_level {
  INF_LOG_DEBUG = 0,
  INF_LOG_INFO = 1,
  INF_LOG_WARNING = 2,
  INF_LOG_ERROR = 3,
  INF_LOG_FORCE32 = 0x7FFFFFFF
} inf_log_level;

/* What flows along a graph edge. */
typedef enum inf_value_type {
  INF_TYPE_NONE = 0,
  INF_TYPE_TEXT = 1,           /* UTF-8 prompt */
  INF_TYPE_TOKEN_IDS = 2,      /* T5 token ids, EOS included */
  INF_TYPE_TEXT_EMBEDDING = 3, /* T5 features [tokens, channels] f32 */
  INF_TYPE_BIT_TOKENS = 4,     /* per-scale bits of one or more images, with their schedule */
  INF_TYPE_IMAGE = 5,          /* pixels, 1, 3 or 4 channels */
  INF_TYPE_MASK = 6,           /* one channel of coverage in [0, 1] */
  INF_TYPE_FORCE32 = 0x7FFFFFFF
} inf_value_type;

typedef enum inf_param_type {
  INF_PARAM_INT = 1,    /* int64 within [int_min, int_max] */
  INF_PARAM_FLOAT = 2,  /* double within [float_min, float_max] */
  INF_PARAM_BOOL = 3,   /* 0 or 1 */
  INF_PARAM_STRING = 4, /* UTF-8 */
  INF_PARAM_ENUM = 5,   /* one of `choices`, set by id (string) or index (int) */
  INF_PARAM_FORCE32 = 0x7FFFFFFF
} inf_param_type;

typedef enum inf_scalar_type {
  INF_SCALAR_U8 = 1,  /* 0..255 is 0..1 */
  INF_SCALAR_U16 = 2, /* 0..65535 is 0..1 */
  INF_SCALAR_F16 = 3, /* IEEE half, 0..1 nominal */
  INF_SCALAR_F32 = 4,
  INF_SCALAR_FORCE32 = 0x7FFFFFFF
} inf_scalar_type;

typedef enum inf_channel_layout { /* the value is the channel count */
  INF_CHANNELS_GRAY = 1,
  INF_CHANNELS_RGB = 3,
  INF_CHANNELS_RGBA = 4,
  INF_CHANNELS_FORCE32 = 0x7FFFFFFF
} inf_channel_layout;

typedef enum inf_transfer {
  INF_TRANSFER_SRGB = 1,   /* sRGB-encoded values (what the model sees) */
  INF_TRANSFER_LINEAR = 2, /* linear light (EXR, compositors) */
  INF_TRANSFER_FORCE32 = 0x7FFFFFFF
} inf_transfer;

typedef enum inf_alpha_mode {
  INF_ALPHA_STRAIGHT = 0,
  INF_ALPHA_PREMULTIPLIED = 1,
  INF_ALPHA_FORCE32 = 0x7FFFFFFF
} inf_alpha_mode;

typedef enum inf_job_state {
  INF_JOB_QUEUED = 1,
  INF_JOB_RUNNING = 2, /* also while on_done runs */
  INF_JOB_DONE = 3,    /* the result is final and on_done has returned */
  INF_JOB_FORCE32 = 0x7FFFFFFF
} inf_job_state;

#define INF_PORT_FLAG_OPTIONAL 0x1u     /* input may be left unconnected (NULL) */
#define INF_PARAM_FLAG_ADVANCED 0x1u    /* hide behind an "advanced" toggle */
#define INF_PARAM_FLAG_PATH 0x2u        /* a STRING that names a file */
#define INF_PARAM_FLAG_MULTILINE 0x4u   /* a STRING edited in a text box */
#define INF_NODE_FLAG_PROGRESS 0x1u     /* reports progress once per step (scale) */
#define INF_NODE_FLAG_PREVIEW 0x2u      /* can send preview images */
#define INF_ENGINE_FLAG_NO_BUILTIN_NODES 0x1u /* start with an empty node list */

/* ---- handles (opaque; never dereference) ---- */
typedef struct inf_engine inf_engine;           /* node registry, shared models, log target */
typedef struct inf_node inf_node;               /* one configured instance of a node type */
typedef struct inf_value inf_value;             /* immutable typed data on a port */
typedef struct inf_job inf_job;                 /* one asynchronous run of a node */
typedef struct inf_run_context inf_run_context; /* a provider's view of its running job */
typedef struct inf_api inf_api;

/* ---- descriptors: what a host needs to list nodes and build UIs generically ---- */

typedef struct inf_port_desc {
  uint32_t struct_size;
  inf_value_type type;
  const char* id;           /* unique among the node's inputs (or outputs), e.g. "tokens" */
  const char* display_name;
  const char* description;  /* may be "" */
  uint32_t flags;           /* INF_PORT_FLAG_* */
} inf_port_desc;

typedef struct inf_param_desc {
  uint32_t struct_size;
  inf_param_type type;
  const char* id;           /* stable: hosts persist parameters by id, never by index */
  const char* display_name;
  const char* description;
  uint32_t flags;           /* INF_PARAM_FLAG_* */
  uint32_t choice_count;    /* ENUM: number of choices (>= 1) */
  const char* const* choices; /* ENUM: choice ids */
  int64_t int_min, int_max;
  int64_t int_default;      /* INT; BOOL: 0/1; ENUM: choice index */
  double float_min, float_max, float_default; /* FLOAT */
  const char* string_default; /* STRING */
} inf_param_desc;

typedef struct inf_node_desc {
  uint32_t struct_size;
  uint32_t version_major;   /* bumped when outputs change for the same inputs and params */
  uint32_t version_minor;   /* bumped when params are added (defaults keep old behaviour) */
  uint32_t flags;           /* INF_NODE_FLAG_* */
  const char* id;           /* reverse DNS, e.g. "org.infinode.tokens.truncate" */
  const char* display_name;
  const char* category;     /* menu path, e.g. "infinode/tokens" */
  const char* description;
  uint32_t input_count, output_count, param_count;
  const inf_port_desc* const* inputs;
  const inf_port_desc* const* outputs;
  const inf_param_desc* const* params;
} inf_node_desc;

typedef struct inf_param_value {
  uint32_t struct_size;
  inf_param_type type;
  int64_t int_value;        /* INT; BOOL: 0/1; ENUM: choice index */
  double float_value;       /* FLOAT */
  const char* string_value; /* STRING; ENUM: choice id. Library-owned (see node_get_param) */
} inf_param_value;

/* ---- data descriptors ---- */

/* A host-allocated, strided, interleaved image. Pixel (x, y), channel c (y = 0 is the top row)
 * is at (char*)data + y * row_stride + x * pixel_stride + c * scalar size. row_stride may be
 * negative (bottom-up buffers: point data at the top row). The library checks: width and
 * height in 1..INF_IMAGE_MAX_SIDE, known enums, pixel_stride >= channels * scalar size,
 * |row_stride| >= (width - 1) * pixel_stride + channels * scalar size, data != NULL, and no
 * address arithmetic overflow. No alignment is required. */
typedef struct inf_image_desc {
  uint32_t struct_size;
  uint32_t width, height;
  inf_scalar_type scalar;
  inf_channel_layout channels;
  inf_transfer transfer;
  inf_alpha_mode alpha;     /* RGBA only */
  uint32_t reserved;        /* set to 0 */
  int64_t pixel_stride;     /* bytes between horizontally adjacent pixels */
  int64_t row_stride;       /* bytes between rows */
  void* data;               /* pixel (0, 0); read by create_image, written by read_image */
} inf_image_desc;

/* A token grid of one scale. */
typedef struct inf_grid {
  uint32_t height, width;
} inf_grid;

/* Bit tokens: the multi-scale bits of `images` images. Scale k holds images * h_k * w_k *
 * bits_per_token bytes, each 0 or 1, laid out [image][token in raster order][bit]. The schedule
 * lists every scale; only the first stored_scales carry bits (editing keeps a prefix). */
typedef struct inf_bit_tokens_desc {
  uint32_t struct_size;
  uint32_t images;
  uint32_t bits_per_token;
  uint32_t spatial_patch;   /* VAE latents per token side: 1 (2B model) or 2 (8B model) */
  uint32_t schedule_scales; /* entries in grids */
  uint32_t stored_scales;   /* 1..schedule_scales */
  const inf_grid* grids;    /* coarse to fine; the first is 1x1 */
  inf_grid rope_grid;       /* the grid RoPE positions are normalised to (<= 128 per side) */
  const uint8_t* const* bits; /* stored_scales pointers */
  const char* tokenizer;    /* identity of the VAE that made the bits; NULL or "" if unknown */
} inf_bit_tokens_desc;

/* T5 features of one or more prompts, concatenated without padding: data[t * channels + c], f32,
 * t counting the tokens of all prompts. prompts 0 or 1 means one prompt of `tokens` tokens;
 * otherwise prompt_tokens lists each prompt's length (each >= 1, summing to `tokens`). A sampler
 * makes one image (or one batch of images) per prompt. */
typedef struct inf_text_embedding_desc {
  uint32_t struct_size;
  uint32_t tokens;          /* all prompts together */
  uint32_t channels;
  const float* data;
  uint32_t prompts;
  const uint32_t* prompt_tokens; /* prompts entries; may be NULL when prompts <= 1 */
} inf_text_embedding_desc;

/* ---- engines ---- */

typedef void (*inf_log_fn)(void* user_data, inf_log_level level, const char* message);

/* Where the built-in nodes find their models. A model directory holds model.json, a manifest
 * naming the transformer, VAE, T5 encoder and tokenizer files (docs/model-manifest.md), or, for
 * a directory without one, the files under their default names. model_manifest is the same JSON
 * given inline: its entries override the directory's, relative paths are taken from model_dir
 * (or the working directory), and {"random": "tiny"} runs the whole pipeline on deterministic
 * random weights without any file.
 * With model_dir and model_manifest both NULL the engine takes the default model: the directory
 * in the environment variable INFINODE_MODEL_DIR when it is set (set but empty: none), else the
 * library's built-in default directory when it holds model.json, else none. engine_model_dir
 * reports the directory chosen, and the engine logs the choice at INF_LOG_INFO. model_dir ""
 * (or any model_manifest) asks for no default: only what the config names. */
typedef struct inf_engine_config {
  uint32_t struct_size;
  inf_log_level log_level;  /* least severe level given to log_callback */
  const char* model_dir;    /* NULL = the default model (see above); "" = none */
  inf_log_fn log_callback;  /* NULL: warnings and errors go to stderr */
  void* log_user_data;
  uint32_t flags;           /* INF_ENGINE_FLAG_* */
  const char* device;       /* "cpu" (NULL or "" too), "cuda" (= "cuda:0") or "cuda:N" */
  const char* model_manifest; /* inline manifest JSON (UTF-8); NULL = none */
} inf_engine_config;

/* ---- jobs ---- */

typedef struct inf_progress {
  uint32_t struct_size;
  uint32_t step;            /* steps done, 1..total_steps (a step is one scale when sampling) */
  uint32_t total_steps;
  double step_seconds;      /* time the step took */
  const char* stage;        /* e.g. "sample", "decode"; may be NULL; valid during the call */
} inf_progress;

/* Return nonzero to request cancellation (same as api->job_cancel). */
typedef int32_t (*inf_progress_fn)(void* user_data, const inf_progress* progress);
/* `image` points at a buffer that is valid only during the call: copy what you keep. */
typedef void (*inf_preview_fn)(void* user_data, const inf_progress* progress, const inf_image_desc* image);
/* Called exactly once per accepted job, after its result and outputs are final and before
 * job_wait returns, even when the job is cancelled before it starts. `job` is borrowed. */
typedef void (*inf_done_fn)(void* user_data, inf_job* job, inf_status result, const char* message);

typedef struct inf_job_callbacks {
  uint32_t struct_size;
  void* user_data;          /* must stay valid until on_done (or job_wait) returns */
  inf_progress_fn on_progress; /* each may be NULL */
  inf_preview_fn on_preview;   /* set it only if you want previews: rendering them costs time */
  inf_done_fn on_done;
} inf_job_callbacks;

/* ---- node providers (the plugin side) ---- */

typedef struct inf_instance_args {
  uint32_t struct_size;
  const inf_api* api;       /* the table to call back into */
  inf_engine* engine;       /* borrowed: valid during the call only */
} inf_instance_args;

typedef struct inf_run_args {
  uint32_t struct_size;
  uint32_t input_count, param_count, output_count; /* as in the descriptor */
  const inf_api* api;
  inf_run_context* context; /* progress, previews, cancellation, logs, error message */
  inf_engine* engine;       /* valid during the call */
  inf_value* const* inputs; /* descriptor order; NULL for an unconnected optional input */
  const inf_param_value* const* params; /* descriptor order, defaults filled in */
  inf_value** outputs;      /* the provider stores one new value per output (ownership passes) */
} inf_run_args;

typedef struct inf_node_provider {
  uint32_t struct_size;
  uint32_t abi_version;     /* INF_ABI_VERSION the provider was compiled against */
  void* provider_data;      /* passed to every function below */
  /* The node type. Called once, during registration; the library copies it. */
  const inf_node_desc* (*describe)(void* provider_data);
  /* One instance per inf_node, from api->node_create. A stateless provider may leave
   * *out_instance NULL (destroy_instance is then not called). */
  inf_status (*create_instance)(void* provider_data, const inf_instance_args* args, void** out_instance);
  /* Runs one job on a worker thread; never called concurrently for one instance. Report
   * progress with api->run_progress once per step and stop when it returns
   * INF_STATUS_CANCELLED. On success every output must be set; on failure set none and
   * explain with api->run_set_error. Must not wait for other jobs. */
  inf_status (*run)(void* instance, const inf_run_args* args);
  void (*destroy_instance)(void* instance);
  /* Optional: called once when the engine that accepted the provider is gone. */
  void (*destroy)(void* provider_data);
} inf_node_provider;

/* ---- the function table ---- */

struct inf_api {
  uint32_t struct_size;  /* sizeof(inf_api) in the library: how many functions exist */
  uint32_t abi_version;  /* the library's INF_ABI_VERSION */

  /* -- library -- */
  const char* (*version_string)(void);      /* "infinode 0.1.0 (ABI 1.0)"; static */
  const char* (*status_name)(inf_status status); /* "INF_STATUS_OK", ...; static */
  const char* (*last_error)(void);           /* see ERRORS above */

  /* -- engines -- */
  /* Creates an engine with the built-in nodes registered (unless INF_ENGINE_FLAG_NO_BUILTIN_NODES).
   * config may be NULL (defaults). Strings are copied. */
  inf_status (*engine_create)(const inf_engine_config* config, inf_engine** out_engine);
  inf_status (*engine_retain)(inf_engine* engine);
  inf_status (*engine_release)(inf_engine* engine);
  const char* (*engine_last_error)(inf_engine* engine);
  /* Replaces the log callback (NULL restores stderr for warnings and errors). */
  inf_status (*engine_set_log_callback)(inf_engine* engine, inf_log_fn callback, void* user_data,
                                        inf_log_level min_level);
  /* The engine's model directory: as configured, or the default model's when it was chosen
   * (see inf_engine_config); "" if none. Valid while the engine lives. */
  inf_status (*engine_model_dir)(inf_engine* engine, const char** out_path);
  /* Adds a node type. The descriptor is validated and copied; on success the engine owns
   * provider_data (destroy is called later), on failure the caller keeps it. */
  inf_status (*engine_register_provider)(inf_engine* engine, const inf_node_provider* provider);
  inf_status (*engine_node_count)(inf_engine* engine, uint32_t* out_count);
  /* Descriptors are library-owned and valid while the engine lives; index order is stable. */
  inf_status (*engine_node_desc)(inf_engine* engine, uint32_t index, const inf_node_desc** out_desc);
  inf_status (*engine_find_node)(inf_engine* engine, const char* node_id, const inf_node_desc** out_desc);

  /* -- nodes -- */
  /* An instance of node type node_id with default parameters. Unknown id: INF_STATUS_NOT_FOUND. */
  inf_status (*node_create)(inf_engine* engine, const char* node_id, inf_node** out_node);
  inf_status (*node_retain)(inf_node* node);
  inf_status (*node_release)(inf_node* node);  /* running jobs keep the instance alive */
  const char* (*node_last_error)(inf_node* node);
  inf_status (*node_desc)(inf_node* node, const inf_node_desc** out_desc); /* valid while node lives */
  /* Parameter setters. Unknown id: NOT_FOUND; wrong type: TYPE_MISMATCH; out of range or not a
   * choice: INVALID_ARGUMENT (the parameter keeps its value). set_int also sets ENUM by index;
   * set_string also sets ENUM by choice id. Changes apply to jobs submitted afterwards. */
  inf_status (*node_set_int)(inf_node* node, const char* param_id, int64_t value);
  inf_status (*node_set_float)(inf_node* node, const char* param_id, double value);
  inf_status (*node_set_bool)(inf_node* node, const char* param_id, int32_t value);
  inf_status (*node_set_string)(inf_node* node, const char* param_id, const char* utf8);
  /* string_value stays valid until the parameter changes or the node dies. */
  inf_status (*node_get_param)(inf_node* node, const char* param_id, inf_param_value* out_value);
  /* Starts a job. inputs: input_count (= the descriptor's) handles in descriptor order, NULL
   * only for optional ports; they are retained by the job, so the host may release them at
   * once. callbacks may be NULL. *out_job gets one reference; releasing it does not cancel. */
  inf_status (*node_run_async)(inf_node* node, inf_value* const* inputs, uint32_t input_count,
                               const inf_job_callbacks* callbacks, inf_job** out_job);

  /* -- values (immutable; every create returns one reference) -- */
  inf_status (*value_retain)(inf_value* value);
  inf_status (*value_release)(inf_value* value);
  const char* (*value_last_error)(inf_value* value);
  inf_status (*value_type)(inf_value* value, inf_value_type* out_type);
  /* Valid UTF-8 without NUL bytes, at most INF_TEXT_MAX_BYTES; length may be INF_TEXT_NUL_TERMINATED. */
  inf_status (*value_create_text)(const char* utf8, size_t length, inf_value** out_value);
  /* NUL-terminated; valid while the handle lives. */
  inf_status (*value_get_text)(inf_value* value, const char** out_utf8, size_t* out_length);
  inf_status (*value_create_token_ids)(const int32_t* ids, size_t count, inf_value** out_value);
  inf_status (*value_get_token_ids)(inf_value* value, const int32_t** out_ids, size_t* out_count);
  inf_status (*value_create_text_embedding)(const inf_text_embedding_desc* desc, inf_value** out_value);
  /* Fills desc; desc->data is library-owned and valid while the handle lives. */
  inf_status (*value_get_text_embedding)(inf_value* value, inf_text_embedding_desc* out_desc);
  /* Checks the schedule (first grid 1x1, grids never shrink, within rope_grid) and the bits. */
  inf_status (*value_create_bit_tokens)(const inf_bit_tokens_desc* desc, inf_value** out_value);
  /* Fills desc; its arrays and strings are library-owned and valid while the handle lives. */
  inf_status (*value_get_bit_tokens)(inf_value* value, inf_bit_tokens_desc* out_desc);
  /* infinode bit-token files (safetensors; docs/bit-tokens.md). */
  inf_status (*value_load_bit_tokens)(const char* path, inf_value** out_value);
  inf_status (*value_save_bit_tokens)(inf_value* value, const char* path);
  /* Copies the host's pixels. Premultiplied input is stored straight. */
  inf_status (*value_create_image)(const inf_image_desc* image, inf_value** out_value);
  /* A mask from a GRAY image (the channel) or an RGBA image (its alpha). */
  inf_status (*value_create_mask)(const inf_image_desc* image, inf_value** out_value);
  /* Size and native format of an IMAGE or MASK (data = NULL, tight f32 strides): allocate a
   * destination, in any format, then call value_read_image. */
  inf_status (*value_get_image_info)(inf_value* value, inf_image_desc* out_desc);
  /* Converts into the host's buffer: same width and height; any scalar, layout (GRAY <-> RGB
   * replicates or takes luma, missing alpha is 1), transfer and alpha mode. */
  inf_status (*value_read_image)(inf_value* value, const inf_image_desc* destination);

  /* -- jobs -- */
  inf_status (*job_retain)(inf_job* job);
  inf_status (*job_release)(inf_job* job);
  const char* (*job_last_error)(inf_job* job);
  /* Thread-safe and idempotent: OK on every call, also after the job finished. The job stops at
   * its next step boundary and ends with INF_STATUS_CANCELLED. */
  inf_status (*job_cancel)(inf_job* job);
  /* OK once the job is DONE (*out_result, optional, gets its result; a failed result's message
   * goes to job_last_error), TIMEOUT if it is still running after timeout_ms (0 polls,
   * INF_WAIT_FOREVER blocks). */
  inf_status (*job_wait)(inf_job* job, int64_t timeout_ms, inf_status* out_result);
  /* Never blocks. *out_result is INF_STATUS_NOT_READY until the result is final. */
  inf_status (*job_status)(inf_job* job, inf_job_state* out_state, inf_status* out_result);
  /* A new reference to output `index` (descriptor order). NOT_READY before the result is final;
   * the job's failure status if it failed. */
  inf_status (*job_get_output)(inf_job* job, uint32_t index, inf_value** out_value);

  /* -- for providers, during run() only -- */
  /* Reports a finished step to the host. Returns INF_STATUS_CANCELLED when the job must stop. */
  inf_status (*run_progress)(inf_run_context* context, const inf_progress* progress);
  /* Sends a preview to the host, if it asked for previews (else does nothing). */
  inf_status (*run_preview)(inf_run_context* context, const inf_progress* progress, const inf_image_desc* image);
  inf_status (*run_wants_preview)(inf_run_context* context, int32_t* out_wanted);
  inf_status (*run_is_cancelled)(inf_run_context* context, int32_t* out_cancelled);
  inf_status (*run_log)(inf_run_context* context, inf_log_level level, const char* message);
  /* The message the job's failure reports (copied). */
  inf_status (*run_set_error)(inf_run_context* context, const char* message);

  /* -- engines, continued -- */
  /* The device the engine's nodes compute on, as configured ("cpu", "cuda:0", ...); valid while
   * the engine lives. The device is opened (and a bad name reported) by the first node that
   * needs it. */
  inf_status (*engine_device)(inf_engine* engine, const char** out_device);
  /* The inline manifest JSON of the engine's config ("" if none); valid while the engine lives. */
  inf_status (*engine_model_manifest)(inf_engine* engine, const char** out_json);

  /* ABI 1.1 and later append functions here. */
};

/* The only exported symbol. Returns the table for abi_version (use INF_ABI_VERSION), or NULL
 * when this library cannot serve it. The table is static: valid while the library is loaded. */
INF_EXPORT const inf_api* inf_get_api(uint32_t abi_version);
typedef const inf_api* (*inf_get_api_fn)(uint32_t abi_version); /* for dlsym/GetProcAddress */

/* Initializers that set struct_size and the defaults. */
#define INF_ENGINE_CONFIG_INIT {(uint32_t)sizeof(inf_engine_config), INF_LOG_INFO, NULL, NULL, NULL, 0u, NULL, NULL}
#define INF_JOB_CALLBACKS_INIT {(uint32_t)sizeof(inf_job_callbacks), NULL, NULL, NULL, NULL}
#define INF_IMAGE_DESC_INIT \
  {(uint32_t)sizeof(inf_image_desc), 0u, 0u, INF_SCALAR_U8, INF_CHANNELS_RGBA, INF_TRANSFER_SRGB, \
   INF_ALPHA_STRAIGHT, 0u, 0, 0, NULL}
#define INF_PROGRESS_INIT {(uint32_t)sizeof(inf_progress), 0u, 0u, 0.0, NULL}
#define INF_PARAM_VALUE_INIT {(uint32_t)sizeof(inf_param_value), INF_PARAM_INT, 0, 0.0, NULL}
#define INF_BIT_TOKENS_DESC_INIT \
  {(uint32_t)sizeof(inf_bit_tokens_desc), 0u, 0u, 1u, 0u, 0u, NULL, {0u, 0u}, NULL, NULL}
#define INF_TEXT_EMBEDDING_DESC_INIT {(uint32_t)sizeof(inf_text_embedding_desc), 0u, 0u, NULL, 0u, NULL}

/* ---- layout pins (C11 and C++11 compilers; C99 compilers skip them) ---- */
#if defined(__cplusplus) && __cplusplus >= 201103L
#  define INF_STATIC_ASSERT(condition, message) static_assert(condition, message)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#  define INF_STATIC_ASSERT(condition, message) _Static_assert(condition, message)
#endif
#if defined(INF_STATIC_ASSERT)
INF_STATIC_ASSERT(sizeof(inf_status) == 4 && sizeof(inf_value_type) == 4 && sizeof(inf_scalar_type) == 4,
                  "infinode enums must be 32-bit");
#  if UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu /* LP64 and LLP64: the layouts of ABI 1.0 */
INF_STATIC_ASSERT(sizeof(inf_port_desc) == 40 && sizeof(inf_param_desc) == 104 && sizeof(inf_node_desc) == 88,
                  "descriptor layout changed");
INF_STATIC_ASSERT(sizeof(inf_param_value) == 32 && sizeof(inf_image_desc) == 56 && sizeof(inf_grid) == 8,
                  "value layout changed");
INF_STATIC_ASSERT(sizeof(inf_bit_tokens_desc) == 56 && sizeof(inf_text_embedding_desc) == 40,
                  "data layout changed");
INF_STATIC_ASSERT(sizeof(inf_engine_config) == 56 && sizeof(inf_progress) == 32 && sizeof(inf_job_callbacks) == 40,
                  "engine or job layout changed");
INF_STATIC_ASSERT(sizeof(inf_instance_args) == 24 && sizeof(inf_run_args) == 64 && sizeof(inf_node_provider) == 56,
                  "provider layout changed");
INF_STATIC_ASSERT(offsetof(inf_image_desc, data) == 48 && offsetof(inf_bit_tokens_desc, rope_grid) == 32 &&
                  offsetof(inf_node_desc, params) == 80 && offsetof(inf_api, version_string) == 8,
                  "field offsets changed");
INF_STATIC_ASSERT(sizeof(inf_api) == 8 + 8 * 57, "inf_api must only grow by appending");
#  endif
#  undef INF_STATIC_ASSERT
#endif

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* INFINODE_H */
