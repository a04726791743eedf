// infinode edit: an image regenerated from a scale on with a new prompt, as a host of the
// built-in nodes:
//   image.encode -> sampler.edit (+ text.encode of the prompt [and --negative], + the mask)
//   -> image.decode -> an image file with its parameters.
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include "commands.h"
#include "common/error.h"
#include "generation_flags.h"
#include "image/image_io.h"
#include "image_values.h"
#include "node_pipeline.h"

namespace inf::cli {
namespace {

const char* const kUsage = "usage: infinode edit IMAGE --prompt P --keep-scales K [--mask MASK] -o OUT [options]";

const char* const kHelp =
    "Keeps the first K scales of IMAGE's bit tokens (its coarse layout and colours) and regenerates\n"
    "the finer scales with a new prompt (image.encode -> sampler.edit -> image.decode).\n"
    "  --prompt P               the new prompt\n"
    "  --keep-scales K          scales taken from IMAGE (0..64); fewer keep less of it\n"
    "  --mask MASK              regenerate only where MASK is white: its alpha channel when that is not\n"
    "                           opaque everywhere, else its grey level; elsewhere every scale follows IMAGE\n"
    "  --resolution R           auto, 0.06M, 0.25M, 0.60M or 1M: the token grid IMAGE is encoded to\n";

struct EditOptions {
  GenerationFlags flags;
  std::string image, mask;
  std::optional<std::string> prompt;
  std::optional<int64_t> keep_scales;
};

// Returns nothing when --help was asked for.
std::optional<EditOptions> parse(const Args& args) {
  EditOptions options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw UsageError(arg + " needs a value (see --help)");
      return args[++i];
    };
    if (arg == "-h" || arg == "--help") return std::nullopt;
    else if (parse_generation_flag(args, i, options.flags)) continue;
    else if (arg == "--prompt") options.prompt = value();
    else if (arg == "--keep-scales") options.keep_scales = parse_int_flag(arg, value(), 0, 1 << 20);
    else if (arg == "--mask") options.mask = value();
    else if (!arg.empty() && arg[0] == '-') throw UsageError("unknown option '" + arg + "' (see --help)");
    else if (options.image.empty()) options.image = arg;
    else throw UsageError("unexpected argument '" + arg + "' (one IMAGE; quote a prompt with spaces)");
  }
  if (options.image.empty()) throw UsageError("no IMAGE (see --help)");
  if (!options.prompt) throw UsageError("--prompt is required (see --help)");
  if (!options.keep_scales) throw UsageError("--keep-scales is required (see --help)");
  check_generation_flags(options.flags);
  return options;
}

}  // namespace

int run_edit(const Args& args) {
  const std::optional<EditOptions> parsed = parse(args);
  if (!parsed) {
    std::printf("%s\n%s%s", kUsage, kHelp, kGenerationFlagsHelp);
    return 0;
  }
  const EditOptions& options = *parsed;
  const GenerationFlags& flags = options.flags;
  const auto start = std::chrono::steady_clock::now();

  const NodeEngine engine(flags.model);
  NodeRunner image_encoder(engine.get(), "org.infinode.image.encode");
  NodeRunner text_encoder(engine.get(), "org.infinode.text.encode");
  NodeRunner editor(engine.get(), "org.infinode.sampler.edit");
  NodeRunner decoder(engine.get(), "org.infinode.image.decode");
  // Every parameter is set before any model work, so a refused value costs nothing.
  if (!flags.resolution.empty()) image_encoder.set_string("resolution", flags.resolution, "--resolution");
  editor.set_int("keep_scales", *options.keep_scales, "--keep-scales");
  apply_sampling_flags(flags, editor);

  // Inputs first: a missing or broken file fails before any model is loaded.
  const ValueRef source = image_value_from_file(options.image);
  ValueRef mask;
  if (!options.mask.empty()) mask = mask_value_from_file(options.mask);
  const ValueRef prompt = make_text(*options.prompt, "--prompt");
  ValueRef negative_text;
  if (flags.negative) negative_text = make_text(*flags.negative, "--negative");

  JobDisplay display;
  display.quiet = flags.quiet;
  const ValueRef source_tokens = image_encoder.run({{"image", source.get()}}, "tokens", display);
  const ValueRef positive = text_encoder.run({{"text", prompt.get()}}, "embedding", display);
  ValueRef negative;
  if (negative_text) negative = text_encoder.run({{"text", negative_text.get()}}, "embedding", display);

  JobDisplay sampling = display;
  if (!flags.preview_dir.empty())
    sampling.on_preview = [&flags](const inf_progress& progress, const inf_image_desc& image) {
      const std::string stage = progress.stage != nullptr && progress.stage[0] != '\0' ? progress.stage : "sample";
      write_image(preview_path(flags, stage, progress.step), model_pixels_from_desc(image));
    };
  const ValueRef tokens = editor.run({{"tokens", source_tokens.get()},
                                      {"positive", positive.get()},
                                      {"negative", negative.get()},
                                      {"mask", mask.get()}},
                                     "tokens", sampling);
  if (!flags.tokens_path.empty() && abi().value_save_bit_tokens(tokens.get(), flags.tokens_path.c_str()) != INF_STATUS_OK)
    fail(ErrorKind::io, "--tokens ", flags.tokens_path, ": ", abi().value_last_error(tokens.get()));
  const TokensInfo info = tokens_info(tokens.get());

  const ValueRef image = decoder.run({{"tokens", tokens.get()}}, "image", display);
  const Tensor pixels = model_pixels_from_value(image.get());  // [3, H, W]
  ImageRecord record;
  record.command = "edit";
  record.prompt = *options.prompt;
  record.schedule = info.schedule;
  record.width = pixels.dim(2);
  record.height = pixels.dim(1);
  record.extra["source_image"] = options.image;
  record.extra["keep_scales"] = std::to_string(*options.keep_scales);
  if (!options.mask.empty()) record.extra["mask"] = options.mask;
  WriteOptions write;
  write.text = image_metadata(flags, engine.manifest(), record);
  write_image(flags.output, pixels, write);
  std::printf("%s\n", flags.output.c_str());
  if (!flags.quiet)
    std::fprintf(stderr, "infinode edit: %s (%s, %lld of them kept) in %.2f s\n", flags.output.c_str(),
                 info.schedule.c_str(), static_cast<long long>(*options.keep_scales),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
}

}  // namespace inf::cli
