// infinode encode / decode: images to multi-scale bit tokens and back through the BSQ-VAE.
#include <cstdio>
#include <string>

#include "backend/backend.h"
#include "commands.h"
#include "common/error.h"
#include "generation_flags.h"
#include "image/image_io.h"
#include "image/preprocess.h"
#include "model/infinity/bit_sampler.h"
#include "model/vae/bsq_vae.h"
#include "tokens/bit_tokens.h"
#include "weights/weight_store.h"

namespace inf::cli {
namespace {

struct TokenOptions {
  std::string input, output, vae_path, select, backend = "cpu", resolution = "1M";
  int spatial_patch = 1;
  int scales = 0;  // decode: 0 = all
  int bits = 0;    // decode: bits per channel of the image file (0 = the format's default)
  bool assume_linear = false;
  VaeTiling tiling;  // --tile / --overlap: bounded-memory VAE passes
};

int parse_positive(const std::string& flag, const std::string& value) {
  return static_cast<int>(parse_int_flag(flag, value, 1, 1000000));
}

int parse_non_negative(const std::string& flag, const std::string& value) {
  return static_cast<int>(parse_int_flag(flag, value, 0, 1000000));
}

TokenOptions parse(const Args& args, const char* usage) {
  TokenOptions options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw UsageError(arg + " needs a value\n" + usage);
      return args[++i];
    };
    if (arg == "-o" || arg == "--output") options.output = value();
    else if (arg == "--vae") options.vae_path = value();
    else if (arg == "--select") options.select = value();
    else if (arg == "--backend") options.backend = value();
    else if (arg == "--resolution") options.resolution = value();
    else if (arg == "--spatial-patch") options.spatial_patch = parse_positive(arg, value());
    else if (arg == "--scales") options.scales = parse_positive(arg, value());
    else if (arg == "--bits") options.bits = parse_positive(arg, value());
    else if (arg == "--linear") options.assume_linear = true;
    else if (arg == "--tile") options.tiling.tile = parse_positive(arg, value());
    else if (arg == "--overlap") options.tiling.overlap = parse_non_negative(arg, value());
    else if (!arg.empty() && arg[0] == '-') throw UsageError("unknown option '" + arg + "'\n" + usage);
    else if (options.input.empty()) options.input = arg;
    else throw UsageError("unexpected argument '" + arg + "'\n" + usage);
  }
  if (options.input.empty() || options.output.empty() || options.vae_path.empty()) throw UsageError(usage);
  if (options.tiling.overlap > 0 && options.tiling.overlap >= options.tiling.tile)
    throw UsageError("--overlap must be smaller than --tile (both in latent positions)");
  return options;
}

// The VAE's weights: the official checkpoints nest them under "vae"; --select picks another prefix.
WeightStore open_vae_weights(const TokenOptions& options) {
  const WeightStore store = WeightStore::open(options.vae_path);
  if (!options.select.empty()) return store.select(options.select);
  for (const auto& name : store.names())
    if (name.compare(0, 4, "vae.") == 0) return store.select("vae");
  return store;
}

}  // namespace

int run_encode(const Args& args) {
  const char* usage =
      "usage: infinode encode IMAGE -o TOKENS.safetensors --vae WEIGHTS [--resolution 0.06M|0.25M|0.60M|1M]\n"
      "       [--spatial-patch 1|2] [--select PREFIX] [--backend cpu|cuda] [--linear]\n"
      "       [--tile N [--overlap N]]   (tiles of N latent positions = N*stride pixels)";
  const TokenOptions options = parse(args, usage);
  ReadOptions read_options;
  read_options.assume_linear = options.assume_linear;
  const LoadedImage image = read_image(options.input, read_options);
  auto backend = create_backend(options.backend);
  const BsqVae vae(*backend, open_vae_weights(options));

  // The schedule of the aspect template nearest to the image; the image is resized to cover the
  // last grid and centre-cropped, as the reference does.
  const ScaleSchedule schedule = schedule_for_size(static_cast<int>(image.width()), static_cast<int>(image.height()),
                                                   options.resolution);
  const int pixels_per_token = vae.config().patch * options.spatial_patch;
  const int target_w = schedule.final_grid().w * pixels_per_token, target_h = schedule.final_grid().h * pixels_per_token;
  const FitResult fitted = fit_to_size(image.rgb, target_w, target_h);
  std::fprintf(stderr, "%s: %s\n", options.input.c_str(), image.describe().c_str());
  std::fprintf(stderr, "fit: %s\nschedule: %s\n", fitted.describe().c_str(), schedule.describe().c_str());

  const Tensor latent = vae.encode(fitted.rgb.reshape({1, 3, target_h, target_w}), options.tiling);  // [1, d, H/s, W/s]
  const ScaleSchedule latent_schedule = vae_schedule(schedule, options.spatial_patch);
  const VaeTokens quantized = vae.quantize(latent, latent_schedule);
  BitTokens tokens;
  tokens.schedule = schedule;
  tokens.spatial_patch = options.spatial_patch;
  tokens.tokenizer = vae.identity();
  for (int k = 0; k < schedule.num_scales(); ++k) {
    const ScaleGrid grid = schedule.grids[static_cast<size_t>(k)];
    tokens.bits.push_back(patchify_bits(quantized.bits[static_cast<size_t>(k)], grid.h, grid.w, options.spatial_patch));
  }
  tokens.extra["source_image"] = options.input;
  tokens.extra["source_fit"] = fitted.describe();
  write_bit_tokens(options.output, tokens);
  std::printf("wrote %d scales of %d-bit tokens (%lld tokens) to %s\n", schedule.num_scales(), tokens.bits_per_token(),
              static_cast<long long>(schedule.total_tokens()), options.output.c_str());
  return 0;
}

int run_decode(const Args& args) {
  const char* usage =
      "usage: infinode decode TOKENS.safetensors -o IMAGE --vae WEIGHTS [--scales K] [--bits 8|16|32]\n"
      "       [--select PREFIX] [--backend cpu|cuda] [--tile N [--overlap N]]   (tiles in latent positions)";
  const TokenOptions options = parse(args, usage);
  const BitTokens tokens = read_bit_tokens(options.input);
  auto backend = create_backend(options.backend);
  const BsqVae vae(*backend, open_vae_weights(options));
  INF_CHECK(tokens.tokenizer.empty() || tokens.tokenizer == vae.identity(), ErrorKind::invalid_argument,
            options.input, ": tokens were made by tokenizer '", tokens.tokenizer, "', but ", options.vae_path, " is '",
            vae.identity(), "'");
  const int patch = tokens.spatial_patch;
  INF_CHECK(tokens.bits_per_token() == vae.config().bits * patch * patch, ErrorKind::invalid_argument, options.input,
            ": ", tokens.bits_per_token(), "-bit tokens (spatial patch ", patch, ") do not fit a ", vae.config().bits,
            "-bit VAE");
  // Rendering only the first K scales gives the coarse previews of next-scale prediction.
  const int available = static_cast<int>(tokens.bits.size());
  const int scales = options.scales > 0 ? std::min(options.scales, available) : available;
  if (options.scales > available)
    std::fprintf(stderr, "infinode decode: the file has %d scales; rendering all of them\n", available);
  std::vector<Tensor> latent_bits;
  for (int k = 0; k < scales; ++k) {
    const ScaleGrid grid = tokens.schedule.grids[static_cast<size_t>(k)];
    latent_bits.push_back(unpatchify_bits(tokens.bits[static_cast<size_t>(k)], grid.h, grid.w, patch));
  }
  const Tensor latent = summed_codes_from_bits(latent_bits, vae_schedule(tokens.schedule, patch));
  const VaeImage image = vae.decode(latent, options.tiling);  // [B, 3, H, W]
  WriteOptions write_options;
  write_options.bits = options.bits;
  write_options.text = tokens.extra;
  write_options.text["infinode:scales"] = std::to_string(scales) + "/" + std::to_string(tokens.schedule.num_scales());
  const int64_t count = image.pixels.dim(0);
  for (int64_t b = 0; b < count; ++b) {
    std::string path = options.output;
    if (count > 1) {
      const auto dot = path.rfind('.');
      path = path.substr(0, dot) + "_" + std::to_string(b) + (dot == std::string::npos ? "" : path.substr(dot));
    }
    write_image(path, image.pixels.narrow(0, b, 1).reshape({3, image.pixels.dim(2), image.pixels.dim(3)}), write_options);
    std::printf("wrote %s (%lldx%lld, %d of %d scales)\n", path.c_str(), static_cast<long long>(image.pixels.dim(3)),
                static_cast<long long>(image.pixels.dim(2)), scales, tokens.schedule.num_scales());
  }
  return 0;
}

}  // namespace inf::cli
