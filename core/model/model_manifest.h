// Where a complete Infinity pipeline comes from: the transformer, the BSQ-VAE, the T5 encoder
// and its tokenizer, each a file or deterministic random weights, plus the model's sampling
// defaults. Read from a model directory's model.json and/or an inline JSON of the same form
// (docs/model-manifest.md):
//
//   {
//     "format": "infinode.model", "version": 1, "name": "shapes-tiny",
//     "transformer": "transformer.safetensors",      // or {"random": "tiny", "seed": 0}
//     "vae": "vae.safetensors",                      // or {"random": "tiny"}, {"path": ..., "select": "vae"}
//     "t5": "t5_encoder.safetensors",                // or {"random": "tiny-c512"}
//     "spiece": "spiece.model",                      // or {"builtin": "bytes"}
//     "random": "tiny",                              // shorthand: every part random (pipeline name)
//     "defaults": {"resolution": "0.06M", "cfg": 3.0, "tau": 1.0, "top_k": 0, "top_p": 0.0,
//                  "schedule": {"grids": [[1, 1], [2, 2]], "rope_grid": [2, 2]}}
//   }
//
// Relative paths are taken from the directory that holds model.json (inline: the model
// directory, else the working directory). A directory without model.json is read by its file
// names: transformer.safetensors (or transformer.safetensors.index.json), vae.safetensors,
// t5_encoder.safetensors (or its index) and spiece.model.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/infinity/scale_schedule.h"

namespace inf {

// One part of the pipeline: a weights file, or random weights of a named configuration, or
// (the tokenizer only) a built-in tokenizer.
struct ModelSource {
  std::string path;           // a file; empty when random or built in
  std::string select;         // with path: use only the tensors under this prefix ("vae" for "vae.*")
  std::string random_config;  // make_random_*_weights name
  uint64_t seed = 0;
  std::string builtin;        // tokenizer: "bytes" (UTF-8 bytes + 3, then EOS; for random T5s)

  bool empty() const { return path.empty() && random_config.empty() && builtin.empty(); }
  // A key for caches and a phrase for messages: "file /m/vae.safetensors", "random tiny (seed 0)".
  std::string describe() const;
};

struct ModelDefaults {
  std::string resolution;                // "" = the sampler's own default
  std::optional<ScaleSchedule> schedule;  // a fixed schedule for models trained on one grid
  std::optional<double> cfg, tau, top_p;
  std::optional<int64_t> top_k;
};

struct ModelManifest {
  std::string name;
  std::string origin;  // where it was read from, for messages ("/m/model.json + inline JSON")
  ModelSource transformer, vae, t5, spiece;
  ModelDefaults defaults;

  // model_dir may be ""; inline_json may be "". Throws inf::Error (invalid_data for a malformed
  // manifest, naming the file and the key; io when model.json exists but cannot be read).
  // Parts left unnamed stay empty: a node that needs one reports it when it runs.
  static ModelManifest resolve(const std::string& model_dir, const std::string& inline_json);
};

// Pipelines of random weights that fit together ("tiny", "125M", "2B", "8B", "20B"): the
// transformer's configuration of that name with a VAE and T5 of matching widths.
std::vector<std::string> random_pipeline_names();

}  // namespace inf
