// The flags `infinode generate` and `infinode edit` share (model, device, sampling, output),
// how they reach the sampler nodes, where the images go, and the metadata written with them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "commands.h"
#include "model/model_manifest.h"
#include "node_pipeline.h"

namespace inf::cli {

struct GenerationFlags {
  ModelFlags model;
  // Sampling: unset leaves the node's default ("the model's default" for cfg, tau, top_p).
  std::optional<int64_t> seed, top_k;
  std::optional<double> cfg, tau, top_p;
  std::optional<std::string> negative;
  std::string resolution;   // "" = the node's default (auto)
  std::string output;       // -o: the image file (numbered when there are several)
  bool exr = false;         // --exr: linear half-float EXR whatever -o's extension
  std::string preview_dir;  // --preview-dir: per-scale preview PNGs
  std::string tokens_path;  // --tokens: the bit tokens, too
  bool quiet = false;       // no progress bars or summaries on stderr
};

// The help text of the shared flags, for the commands' --help.
extern const char* const kGenerationFlagsHelp;

// If args[i] is one of the shared flags, consumes it (and its value, advancing i) and returns
// true. Malformed values are a UsageError naming the flag.
bool parse_generation_flag(const Args& args, size_t& i, GenerationFlags& flags);
// After parsing: -o is given (its extension settles PNG/EXR), --preview-dir exists, ...
void check_generation_flags(GenerationFlags& flags);

// Strict number parsing for flags: the whole text, finite, within [min, max].
int64_t parse_int_flag(const std::string& flag, const std::string& text, int64_t min, int64_t max);
// A --seed value: parse_int_flag in 0..2^53, the range every command takes.
int64_t parse_seed_flag(const std::string& flag, const std::string& text);
double parse_float_flag(const std::string& flag, const std::string& text);

// seed, cfg, tau, top_k, top_p on a sampler node (generate or edit: same ids). The node checks
// the ranges; a refused value is a UsageError naming the flag.
void apply_sampling_flags(const GenerationFlags& flags, NodeRunner& sampler);

// Image `index` of `count`: -o itself for one image, else its stem + "_NNN" + its extension.
std::string output_path(const GenerationFlags& flags, size_t index, size_t count);
// DIR/<output stem>_<stage>_NN.png for the preview of one step.
std::string preview_path(const GenerationFlags& flags, const std::string& stage, uint32_t step);

// What one written image came from: the text written into its file (PNG text chunks, EXR
// string attributes): "parameters" (one readable block, as other generators write it),
// "Software", and "infinode:generation" (the same as JSON).
struct ImageRecord {
  std::string command;   // "generate" or "edit"
  std::string prompt;
  std::string schedule;  // tokens_info().schedule
  int64_t width = 0, height = 0;
  size_t index = 0, count = 1;
  std::map<std::string, std::string> extra;  // command-specific: source image, keep scales, ...
};
std::map<std::string, std::string> image_metadata(const GenerationFlags& flags, const ModelManifest& manifest,
                                                  const ImageRecord& record);

}  // namespace inf::cli
