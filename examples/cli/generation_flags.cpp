#include "generation_flags.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"

namespace inf::cli {
namespace {

namespace fs = std::filesystem;

const char* const kResolutions[] = {"auto", "0.06M", "0.25M", "0.60M", "1M"};

bool is_device_name(const std::string& name) {
  if (name == "cpu" || name == "cuda") return true;
  const std::string prefix = "cuda:";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0 || name.size() > prefix.size() + 3)
    return false;
  return std::all_of(name.begin() + static_cast<std::ptrdiff_t>(prefix.size()), name.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

// A sampling value as given, else the model's default from its manifest, else the node's.
template <typename T>
nlohmann::json resolved(const std::optional<T>& given, const std::optional<T>& model_default) {
  if (given) return *given;
  if (model_default) return *model_default;
  return nullptr;
}

std::string readable(const nlohmann::json& value) {
  if (value.is_null()) return "model default";
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

// A1111-style "Key: value" lists separate entries with ", ": values holding one are quoted.
std::string listed(const std::string& value) {
  return value.find(',') == std::string::npos ? value : nlohmann::json(value).dump();
}

}  // namespace

const char* const kGenerationFlagsHelp =
    "model (default: the model built in at compile time, when present):\n"
    "  --model DIR              a model directory (model.json, or files by their default names)\n"
    "  --transformer F --vae F --t5 F --spiece F\n"
    "                           weight files; each overrides that part of --model's\n"
    "  --random-weights NAME    deterministic random weights for every part not named (tiny, 125M, 2B, ...)\n"
    "  --device cpu|cuda[:N]    where the nodes compute (default cpu)\n"
    "sampling (unset: the model's defaults):\n"
    "  --seed N                 0..2^53 (default 0): same seed, same image\n"
    "  --cfg X                  classifier-free guidance\n"
    "  --tau X                  logit temperature\n"
    "  --top-k K                1 = greedy bits; 0 = off\n"
    "  --top-p P                nucleus sampling of bits; 0 = off\n"
    "  --negative TEXT          negative prompt\n"
    "output:\n"
    "  -o, --output OUT         image file; PNG, JPEG, TIFF or EXR by extension (numbered OUT_NNN when several)\n"
    "  --exr                    linear half-float EXR whatever OUT's extension\n"
    "  --preview-dir DIR        per-scale preview PNGs from the sampler\n"
    "  --tokens FILE            also save the bit tokens (safetensors)\n"
    "  -q, --quiet              no progress bars on stderr\n";

int64_t parse_int_flag(const std::string& flag, const std::string& text, int64_t min, int64_t max) {
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || value < min || value > max)
    throw UsageError(flag + " needs an integer in " + std::to_string(min) + ".." + std::to_string(max) + ", not '" +
                     text + "'");
  return value;
}

int64_t parse_seed_flag(const std::string& flag, const std::string& text) {
  return parse_int_flag(flag, text, 0, int64_t{1} << 53);
}

double parse_float_flag(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(value)) throw UsageError(flag + " needs a number, not '" + text + "'");
  return value;
}

bool parse_generation_flag(const Args& args, size_t& i, GenerationFlags& flags) {
  const std::string& arg = args[i];
  auto value = [&]() -> const std::string& {
    if (i + 1 >= args.size()) throw UsageError(arg + " needs a value (see --help)");
    return args[++i];
  };
  if (arg == "--model") flags.model.model_dir = value();
  else if (arg == "--transformer") flags.model.transformer = value();
  else if (arg == "--vae") flags.model.vae = value();
  else if (arg == "--t5") flags.model.t5 = value();
  else if (arg == "--spiece") flags.model.spiece = value();
  else if (arg == "--random-weights") {
    flags.model.random_weights = value();
    const auto names = random_pipeline_names();
    if (std::find(names.begin(), names.end(), flags.model.random_weights) == names.end()) {
      std::string known;
      for (const auto& name : names) known += (known.empty() ? "" : ", ") + name;
      throw UsageError("--random-weights: unknown pipeline '" + flags.model.random_weights + "' (known: " + known + ")");
    }
  } else if (arg == "--device") {
    flags.model.device = value();
    if (!is_device_name(flags.model.device))
      throw UsageError("--device must be cpu, cuda or cuda:N, not '" + flags.model.device + "'");
  } else if (arg == "--seed") flags.seed = parse_seed_flag(arg, value());
  else if (arg == "--cfg") flags.cfg = parse_float_flag(arg, value());
  else if (arg == "--tau") flags.tau = parse_float_flag(arg, value());
  else if (arg == "--top-k") flags.top_k = parse_int_flag(arg, value(), 0, 1 << 20);
  else if (arg == "--top-p") flags.top_p = parse_float_flag(arg, value());
  else if (arg == "--negative") flags.negative = value();
  else if (arg == "--resolution") {
    flags.resolution = value();
    if (std::find(std::begin(kResolutions), std::end(kResolutions), flags.resolution) == std::end(kResolutions))
      throw UsageError("--resolution must be auto, 0.06M, 0.25M, 0.60M or 1M, not '" + flags.resolution + "'");
  } else if (arg == "-o" || arg == "--output") flags.output = value();
  else if (arg == "--exr") flags.exr = true;
  else if (arg == "--preview-dir") flags.preview_dir = value();
  else if (arg == "--tokens") flags.tokens_path = value();
  else if (arg == "-q" || arg == "--quiet") flags.quiet = true;
  else return false;
  return true;
}

void check_generation_flags(GenerationFlags& flags) {
  if (flags.output.empty()) throw UsageError("-o OUT is required (see --help)");
  // The format follows the extension (write_image); --exr or a missing extension settle it here.
  fs::path output(flags.output);
  if (flags.exr) output.replace_extension(".exr");
  else if (!output.has_extension()) output.replace_extension(".png");
  flags.output = output.string();
  // Checked now, not after minutes of sampling (write_image checks again when writing).
  std::error_code error;
  const fs::path folder = output.parent_path().empty() ? fs::path(".") : output.parent_path();
  INF_CHECK(fs::is_directory(folder, error), ErrorKind::io, flags.output, ": cannot write: folder '", folder.string(),
            "' does not exist");
  if (!flags.preview_dir.empty()) {
    fs::create_directories(flags.preview_dir, error);
    INF_CHECK(fs::is_directory(flags.preview_dir, error), ErrorKind::io, "--preview-dir ", flags.preview_dir,
              ": cannot create the folder");
  }
}

void apply_sampling_flags(const GenerationFlags& flags, NodeRunner& sampler) {
  if (flags.seed) sampler.set_int("seed", *flags.seed, "--seed");
  if (flags.cfg) sampler.set_float("cfg", *flags.cfg, "--cfg");
  if (flags.tau) sampler.set_float("tau", *flags.tau, "--tau");
  if (flags.top_k) sampler.set_int("top_k", *flags.top_k, "--top-k");
  if (flags.top_p) sampler.set_float("top_p", *flags.top_p, "--top-p");
}

std::string output_path(const GenerationFlags& flags, size_t index, size_t count) {
  if (count <= 1) return flags.output;
  const fs::path output(flags.output);
  char number[32];
  std::snprintf(number, sizeof number, "_%03zu", index);
  return (output.parent_path() / (output.stem().string() + number + output.extension().string())).string();
}

std::string preview_path(const GenerationFlags& flags, const std::string& stage, uint32_t step) {
  char name[64];
  std::snprintf(name, sizeof name, "_%s_%02u.png", stage.c_str(), step);
  return (fs::path(flags.preview_dir) / (fs::path(flags.output).stem().string() + name)).string();
}

std::map<std::string, std::string> image_metadata(const GenerationFlags& flags, const ModelManifest& manifest,
                                                  const ImageRecord& record) {
  const std::string version = abi().version_string();
  // A model without a name: what its transformer is ("random tiny (seed 0)", "file /m/t.safetensors").
  const std::string model = manifest.name.empty() ? manifest.transformer.describe() : manifest.name;
  nlohmann::json json = {
      {"command", record.command},
      {"prompt", record.prompt},
      {"negative_prompt", flags.negative ? nlohmann::json(*flags.negative) : nlohmann::json(nullptr)},
      {"seed", flags.seed.value_or(0)},
      {"cfg", resolved(flags.cfg, manifest.defaults.cfg)},
      {"tau", resolved(flags.tau, manifest.defaults.tau)},
      {"top_k", resolved(flags.top_k, manifest.defaults.top_k)},
      {"top_p", resolved(flags.top_p, manifest.defaults.top_p)},
      {"schedule", record.schedule},
      {"width", record.width},
      {"height", record.height},
      {"image", record.index},
      {"images", record.count},
      {"model", model},
      {"model_origin", manifest.origin},
      {"device", flags.model.device},
      {"version", version},
  };
  for (const auto& [key, value] : record.extra) json[key] = value;

  std::ostringstream text;  // the "parameters" block other generators' readers understand
  text << record.prompt << "\n";
  if (flags.negative) text << "Negative prompt: " << *flags.negative << "\n";
  text << "Seed: " << json["seed"].dump() << ", CFG: " << readable(json["cfg"]) << ", Tau: " << readable(json["tau"])
       << ", Top-k: " << readable(json["top_k"]) << ", Top-p: " << readable(json["top_p"]) << ", Size: " << record.width
       << "x" << record.height << ", Schedule: " << listed(record.schedule) << ", Model: " << listed(model)
       << ", Model origin: " << listed(manifest.origin);
  for (const auto& [key, value] : record.extra) text << ", " << key << ": " << listed(value);
  if (record.count > 1) text << ", Image: " << record.index + 1 << " of " << record.count;
  text << ", Version: " << listed(version);

  // ASCII-only JSON: OpenImageIO writes PNG tEXt chunks, which the PNG spec reads as Latin-1.
  return {{"parameters", text.str()}, {"Software", version}, {"infinode:generation", json.dump(-1, ' ', true)}};
}

}  // namespace inf::cli
