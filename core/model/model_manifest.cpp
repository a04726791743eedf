#include "model/model_manifest.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json_depth.h"

namespace inf {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kManifestFile = "model.json";
constexpr const char* kFormat = "infinode.model";
constexpr size_t kMaxManifestBytes = size_t{1} << 20;
constexpr int kMaxJsonDepth = 16;  // deeper documents are refused before parsing (json_depth.h)

struct RandomPipeline {
  const char* name;
  const char* transformer;
  const char* vae;
  const char* t5;
};

// Widths must agree: the VAE's bits x spatial_patch^2 = the transformer's bits, and the T5
// width = the transformer's text channels (random_weights.cpp, random_vae_weights.cpp,
// random_t5_weights.cpp).
constexpr RandomPipeline kRandomPipelines[] = {
    {"tiny", "tiny", "tiny", "tiny-c512"},        {"125M", "125M", "2B", "flan-t5-xl"},
    {"361M", "361M", "2B", "flan-t5-xl"},         {"1B", "1B", "2B", "flan-t5-xl"},
    {"2B", "2B", "2B", "flan-t5-xl"},             {"8B", "8B", "8B", "flan-t5-xl"},
    {"20B", "20B", "2B", "flan-t5-xl"},
};

// Reads and applies one manifest document onto `manifest`. `base` resolves relative paths.
class ManifestReader {
 public:
  ManifestReader(ModelManifest& manifest, std::string origin, fs::path base)
      : manifest_(manifest), origin_(std::move(origin)), base_(std::move(base)) {}

  void apply(const std::string& text) {
    if (text.size() > kMaxManifestBytes) bad("", "is larger than 1 MiB");
    if (!json_depth_within(text, kMaxJsonDepth)) bad("", "nests deeper than ", kMaxJsonDepth, " levels");
    json document;
    try {
      document = json::parse(text);
    } catch (const json::exception& error) {
      bad("", "is not valid JSON (", error.what(), ")");
    }
    if (!document.is_object()) bad("", "must be a JSON object");
    for (const auto& [key, value] : document.items()) {
      if (key == "format") {
        if (!value.is_string() || value.get<std::string>() != kFormat) bad(key, "must be \"", kFormat, "\"");
      } else if (key == "version") {
        if (!value.is_number_integer() || value.get<int64_t>() != 1) bad(key, "must be 1 (the only version so far)");
      } else if (key == "name") {
        manifest_.name = string_of(key, value);
      } else if (key == "random") {
        apply_random_pipeline(document);
      } else if (key == "seed") {
        if (!document.contains("random")) bad(key, "only goes with \"random\"");
      } else if (key == "transformer") {
        manifest_.transformer = source(key, value, false);
      } else if (key == "vae") {
        manifest_.vae = source(key, value, false);
      } else if (key == "t5") {
        manifest_.t5 = source(key, value, false);
      } else if (key == "spiece") {
        manifest_.spiece = source(key, value, true);
      } else if (key == "defaults") {
        apply_defaults(value);
      } else {
        bad(key, "is not a manifest key (format, version, name, transformer, vae, t5, spiece, random, seed, defaults)");
      }
    }
  }

 private:
  template <typename... Parts>
  [[noreturn]] void bad(const std::string& key, Parts&&... parts) const {
    if (key.empty()) fail(ErrorKind::invalid_data, "model manifest ", origin_, " ", std::forward<Parts>(parts)...);
    fail(ErrorKind::invalid_data, "model manifest ", origin_, ": \"", key, "\" ", std::forward<Parts>(parts)...);
  }

  std::string string_of(const std::string& key, const json& value) const {
    if (!value.is_string() || value.get<std::string>().empty()) bad(key, "must be a non-empty string");
    return value.get<std::string>();
  }

  uint64_t seed_of(const std::string& key, const json& value) const {
    if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<int64_t>() >= 0))
      bad(key, "must be a non-negative integer");
    return value.get<uint64_t>();
  }

  std::string path_of(const std::string& key, const json& value) const {
    const fs::path path = string_of(key, value);
    return (path.is_absolute() ? path : base_ / path).lexically_normal().string();
  }

  ModelSource source(const std::string& key, const json& value, bool tokenizer) const {
    ModelSource result;
    if (value.is_string()) {
      result.path = path_of(key, value);
      return result;
    }
    if (!value.is_object()) bad(key, "must be a file name or an object");
    for (const auto& [field, content] : value.items()) {
      if (field == "path") {
        result.path = path_of(key + "." + field, content);
      } else if (field == "select" && !tokenizer) {
        result.select = string_of(key + "." + field, content);
      } else if (field == "random" && !tokenizer) {
        result.random_config = string_of(key + "." + field, content);
      } else if (field == "seed" && !tokenizer) {
        result.seed = seed_of(key + "." + field, content);
      } else if (field == "builtin" && tokenizer) {
        result.builtin = string_of(key + "." + field, content);
        if (result.builtin != "bytes") bad(key + "." + field, "must be \"bytes\" (the only built-in tokenizer)");
      } else {
        bad(key, "has an unknown field \"", field, "\"");
      }
    }
    if (!result.select.empty() && result.path.empty()) bad(key, "has \"select\" without \"path\"");
    const int kinds = !result.path.empty() + !result.random_config.empty() + !result.builtin.empty();
    if (kinds != 1) bad(key, tokenizer ? "needs exactly one of \"path\" or \"builtin\"" : "needs exactly one of \"path\" or \"random\"");
    return result;
  }

  void apply_random_pipeline(const json& document) {
    const std::string name = string_of("random", document.at("random"));
    const auto seed_field = document.find("seed");
    const uint64_t seed = seed_field == document.end() ? 0 : seed_of("seed", *seed_field);
    for (const RandomPipeline& pipeline : kRandomPipelines) {
      if (name != pipeline.name) continue;
      // Explicit parts in the same document win, whatever their order in the text.
      if (!document.contains("transformer")) manifest_.transformer = random_source(pipeline.transformer, seed);
      if (!document.contains("vae")) manifest_.vae = random_source(pipeline.vae, seed);
      if (!document.contains("t5")) manifest_.t5 = random_source(pipeline.t5, seed);
      if (!document.contains("spiece")) {
        manifest_.spiece = ModelSource{};
        manifest_.spiece.builtin = "bytes";
      }
      // The tiny pipeline is for plumbing: its smallest schedule keeps every run to a second.
      if (name == "tiny" && manifest_.defaults.resolution.empty()) manifest_.defaults.resolution = "0.06M";
      return;
    }
    std::string known;
    for (const RandomPipeline& pipeline : kRandomPipelines) known += std::string(known.empty() ? "" : ", ") + pipeline.name;
    bad("random", "names no random pipeline (known: ", known, ")");
  }

  static ModelSource random_source(const char* config, uint64_t seed) {
    ModelSource result;
    result.random_config = config;
    result.seed = seed;
    return result;
  }

  double number_of(const std::string& key, const json& value, double min, double max) const {
    if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < min || value.get<double>() > max)
      bad(key, "must be a number in [", min, ", ", max, "]");
    return value.get<double>();
  }

  ScaleGrid grid_of(const std::string& key, const json& value) const {
    if (!value.is_array() || value.size() != 2 || !value[0].is_number_integer() || !value[1].is_number_integer())
      bad(key, "must be [height, width]");
    const int64_t h = value[0].get<int64_t>(), w = value[1].get<int64_t>();
    if (h < 1 || w < 1 || h > 4096 || w > 4096) bad(key, "has a side outside 1..4096");
    return ScaleGrid{static_cast<int>(h), static_cast<int>(w)};
  }

  void apply_defaults(const json& value) {
    if (!value.is_object()) bad("defaults", "must be an object");
    ModelDefaults& defaults = manifest_.defaults;
    for (const auto& [field, content] : value.items()) {
      const std::string key = "defaults." + field;
      if (field == "resolution") {
        defaults.resolution = string_of(key, content);
      } else if (field == "cfg") {
        defaults.cfg = number_of(key, content, 0, 100);
      } else if (field == "tau") {
        defaults.tau = number_of(key, content, 1e-3, 100);
      } else if (field == "top_p") {
        defaults.top_p = number_of(key, content, 0, 1);
      } else if (field == "top_k") {
        if (!content.is_number_integer() || content.get<int64_t>() < 0 || content.get<int64_t>() > 2)
          bad(key, "must be 0, 1 or 2 (bits have two classes)");
        defaults.top_k = content.get<int64_t>();
      } else if (field == "schedule") {
        defaults.schedule = schedule_of(key, content);
      } else {
        bad(key, "is not a default (resolution, cfg, tau, top_k, top_p, schedule)");
      }
    }
  }

  ScaleSchedule schedule_of(const std::string& key, const json& value) const {
    if (!value.is_object() || !value.contains("grids") || !value.contains("rope_grid") || value.size() != 2)
      bad(key, "must be {\"grids\": [[h, w], ...], \"rope_grid\": [h, w]}");
    const json& grids = value.at("grids");
    if (!grids.is_array() || grids.empty() || grids.size() > 64) bad(key + ".grids", "must list 1..64 grids");
    std::vector<ScaleGrid> parsed;
    for (size_t k = 0; k < grids.size(); ++k) parsed.push_back(grid_of(key + ".grids[" + std::to_string(k) + "]", grids[k]));
    try {
      return schedule_from_grids(std::move(parsed), grid_of(key + ".rope_grid", value.at("rope_grid")));
    } catch (const Error& error) {
      bad(key, "is not a valid schedule: ", error.what());
    }
  }

  ModelManifest& manifest_;
  std::string origin_;
  fs::path base_;
};

std::string read_text_file(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  INF_CHECK(file.good(), ErrorKind::io, "cannot open ", path.string());
  std::ostringstream content;
  content << file.rdbuf();
  INF_CHECK(!file.bad(), ErrorKind::io, "cannot read ", path.string());
  return content.str();
}

// The first of `names` present in `dir`, as a file source; empty if none is.
ModelSource first_existing(const fs::path& dir, std::initializer_list<const char*> names) {
  ModelSource result;
  for (const char* name : names) {
    std::error_code ignored;
    if (fs::is_regular_file(dir / name, ignored)) {
      result.path = (dir / name).lexically_normal().string();
      break;
    }
  }
  return result;
}

}  // namespace

std::string ModelSource::describe() const {
  if (!path.empty()) return "file " + path + (select.empty() ? "" : " (tensors under " + select + ".)");
  if (!random_config.empty()) return "random " + random_config + " (seed " + std::to_string(seed) + ")";
  if (!builtin.empty()) return "built-in " + builtin + " tokenizer";
  return "nothing";
}

ModelManifest ModelManifest::resolve(const std::string& model_dir, const std::string& inline_json) {
  ModelManifest manifest;
  std::vector<std::string> origins;
  fs::path base = fs::current_path();
  if (!model_dir.empty()) {
    std::error_code error;
    INF_CHECK(fs::is_directory(model_dir, error), ErrorKind::io, "model directory ", model_dir,
              " does not exist or is not a directory");
    base = fs::absolute(model_dir);
    const fs::path manifest_path = base / kManifestFile;
    if (fs::exists(manifest_path, error)) {
      ManifestReader(manifest, manifest_path.string(), base).apply(read_text_file(manifest_path));
      origins.push_back(manifest_path.string());
    } else {
      manifest.transformer = first_existing(base, {"transformer.safetensors", "transformer.safetensors.index.json"});
      manifest.vae = first_existing(base, {"vae.safetensors"});
      manifest.t5 = first_existing(base, {"t5_encoder.safetensors", "t5_encoder.safetensors.index.json"});
      manifest.spiece = first_existing(base, {"spiece.model"});
      origins.push_back(base.string() + " (by file names)");
    }
  }
  if (!inline_json.empty()) {
    ManifestReader(manifest, "(inline JSON)", base).apply(inline_json);
    origins.push_back("inline JSON");
  }
  for (const std::string& origin : origins) manifest.origin += (manifest.origin.empty() ? "" : " + ") + origin;
  if (manifest.origin.empty()) manifest.origin = "(none)";
  return manifest;
}

std::vector<std::string> random_pipeline_names() {
  std::vector<std::string> names;
  for (const RandomPipeline& pipeline : kRandomPipelines) names.emplace_back(pipeline.name);
  return names;
}

}  // namespace inf
