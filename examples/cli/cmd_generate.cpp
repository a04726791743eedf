// infinode generate: prompts -> images, as a host of the built-in nodes:
//   text.encode (per prompt, batched) [+ text.encode of --negative] -> sampler.generate
//   -> image.decode (per image) -> image files with their generation parameters.
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "common/error.h"
#include "generation_flags.h"
#include "image/image_io.h"
#include "image_values.h"
#include "node_pipeline.h"

namespace inf::cli {
namespace {

const char* const kUsage = "usage: infinode generate PROMPT [PROMPT...] -o OUT [options]";

const char* const kHelp =
    "Generates images from text prompts with the built-in nodes (text.encode -> sampler.generate ->\n"
    "image.decode). Images are prompt-major: OUT_000..OUT_{B-1} are the first prompt's batch.\n"
    "size:\n"
    "  --width W --height H     requested size in pixels; the nearest aspect template is used\n"
    "  --aspect R               width / height as \"16:9\" or a number (0.25..4), instead of a size\n"
    "  --resolution R           auto, 0.06M, 0.25M, 0.60M or 1M (auto: the model's default)\n"
    "  --batch N                images per prompt (default 1)\n";

struct GenerateOptions {
  GenerationFlags flags;
  std::vector<std::string> prompts;
  std::optional<int64_t> width, height, batch;
  std::optional<double> aspect;
};

// "16:9" or "1.777": width over height.
double parse_aspect(const std::string& text) {
  const auto colon = text.find(':');
  if (colon == std::string::npos) return parse_float_flag("--aspect", text);
  const double w = parse_float_flag("--aspect", text.substr(0, colon));
  const double h = parse_float_flag("--aspect", text.substr(colon + 1));
  if (w <= 0.0 || h <= 0.0) throw UsageError("--aspect W:H needs positive numbers, not '" + text + "'");
  return w / h;
}

// Returns nothing when --help was asked for.
std::optional<GenerateOptions> parse(const Args& args) {
  GenerateOptions options;
  bool prompts_only = false;  // after "--", every argument is a prompt
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw UsageError(arg + " needs a value (see --help)");
      return args[++i];
    };
    if (prompts_only || arg.empty() || arg[0] != '-') options.prompts.push_back(arg);
    else if (arg == "--") prompts_only = true;
    else if (arg == "-h" || arg == "--help") return std::nullopt;
    else if (parse_generation_flag(args, i, options.flags)) continue;
    else if (arg == "--width") options.width = parse_int_flag(arg, value(), 1, INF_IMAGE_MAX_SIDE);
    else if (arg == "--height") options.height = parse_int_flag(arg, value(), 1, INF_IMAGE_MAX_SIDE);
    else if (arg == "--aspect") options.aspect = parse_aspect(value());
    else if (arg == "--batch") options.batch = parse_int_flag(arg, value(), 1, 4096);
    else throw UsageError("unknown option '" + arg + "' (see --help)");
  }
  if (options.prompts.empty()) throw UsageError("no prompt (see --help)");
  if (options.width.has_value() != options.height.has_value()) throw UsageError("--width and --height go together");
  if (options.width && options.aspect) throw UsageError("give --width/--height or --aspect, not both");
  check_generation_flags(options.flags);
  return options;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int run_generate(const Args& args) {
  const std::optional<GenerateOptions> parsed = parse(args);
  if (!parsed) {
    std::printf("%s\n%s%s", kUsage, kHelp, kGenerationFlagsHelp);
    return 0;
  }
  const GenerateOptions& options = *parsed;
  const GenerationFlags& flags = options.flags;
  const auto start = std::chrono::steady_clock::now();

  const NodeEngine engine(flags.model);
  NodeRunner encoder(engine.get(), "org.infinode.text.encode");
  NodeRunner sampler(engine.get(), "org.infinode.sampler.generate");
  NodeRunner decoder(engine.get(), "org.infinode.image.decode");
  // Every parameter is set before any model work, so a refused value costs nothing.
  if (options.width) {
    sampler.set_int("width", *options.width, "--width");
    sampler.set_int("height", *options.height, "--height");
  }
  if (options.aspect) sampler.set_float("aspect", *options.aspect, "--aspect");
  if (!flags.resolution.empty()) sampler.set_string("resolution", flags.resolution, "--resolution");
  if (options.batch) sampler.set_int("batch", *options.batch, "--batch");
  apply_sampling_flags(flags, sampler);

  JobDisplay display;
  display.quiet = flags.quiet;
  // One encode per prompt, joined into one batch embedding: prompts may hold any text,
  // newlines included (text.encode's split_lines would cut them apart).
  std::vector<ValueRef> embeddings;
  for (size_t p = 0; p < options.prompts.size(); ++p) {
    const ValueRef text = make_text(options.prompts[p], "prompt " + std::to_string(p + 1));
    embeddings.push_back(encoder.run({{"text", text.get()}}, "embedding", display));
  }
  const ValueRef positive = concatenate_embeddings(std::move(embeddings));
  ValueRef negative;
  if (flags.negative) {
    const ValueRef text = make_text(*flags.negative, "--negative");
    negative = encoder.run({{"text", text.get()}}, "embedding", display);
  }

  JobDisplay sampling = display;
  if (!flags.preview_dir.empty())
    sampling.on_preview = [&flags](const inf_progress& progress, const inf_image_desc& image) {
      const std::string stage = progress.stage != nullptr && progress.stage[0] != '\0' ? progress.stage : "sample";
      write_image(preview_path(flags, stage, progress.step), model_pixels_from_desc(image));
    };
  const ValueRef tokens = sampler.run({{"positive", positive.get()}, {"negative", negative.get()}}, "tokens", sampling);
  if (!flags.tokens_path.empty() && abi().value_save_bit_tokens(tokens.get(), flags.tokens_path.c_str()) != INF_STATUS_OK)
    fail(ErrorKind::io, "--tokens ", flags.tokens_path, ": ", abi().value_last_error(tokens.get()));
  const TokensInfo info = tokens_info(tokens.get());

  const size_t count = info.images;
  const size_t per_prompt = count / options.prompts.size();
  for (size_t i = 0; i < count; ++i) {
    decoder.set_int("image_index", static_cast<int64_t>(i));
    const ValueRef image = decoder.run({{"tokens", tokens.get()}}, "image", display);
    const Tensor pixels = model_pixels_from_value(image.get());  // [3, H, W]
    ImageRecord record;
    record.command = "generate";
    record.prompt = options.prompts[per_prompt > 0 ? i / per_prompt : 0];
    record.schedule = info.schedule;
    record.width = pixels.dim(2);
    record.height = pixels.dim(1);
    record.index = i;
    record.count = count;
    WriteOptions write;
    write.text = image_metadata(flags, engine.manifest(), record);
    const std::string path = output_path(flags, i, count);
    write_image(path, pixels, write);
    std::printf("%s\n", path.c_str());
    std::fflush(stdout);
  }
  if (!flags.quiet)
    std::fprintf(stderr, "infinode generate: %zu image%s (%s) in %.2f s\n", count, count == 1 ? "" : "s",
                 info.schedule.c_str(), seconds_since(start));
  return 0;
}

}  // namespace inf::cli
