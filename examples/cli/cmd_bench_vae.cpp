// infinode bench-vae: times the BSQ-VAE decoder (or encoder) on random (or given) weights, with
// or without tiling, and compares the process's memory with estimate_vae_cost.
//
// The workload matches docs/targets.md: one image, d32 tokenizer, 16x16x32 latent -> 256^2 for
// the decoder and 256^2 -> 16x16x32 for the encoder. The input values are random stand-ins
// (times do not depend on them). Times are medians over --repeat runs after one warm-up run
// (when repeating).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "bench_timing.h"
#include "commands.h"
#include "common/error.h"
#include "common/thread_pool.h"
#include "generation_flags.h"
#include "model/infinity/random_weights.h"
#include "model/vae/bsq_vae.h"
#include "model/vae/random_vae_weights.h"
#include "process_memory.h"
#include "weights/weight_store.h"

namespace inf::cli {
namespace {

constexpr const char* kUsage =
    "usage: infinode bench-vae [--random-weights tiny|2B|8B | --weights FILE [--select PREFIX]]\n"
    "                          [--size 256|WxH] [--tile N [--overlap N]] [--encode] [--dtype f32|bf16]\n"
    "                          [--backend cpu|cuda] [--repeat N] [--seed S]\n"
    "       (default: --random-weights 2B --size 256; tiles in latent positions)";

struct BenchVaeOptions {
  std::string random_config, weights_path, select;
  int width = 256, height = 256;  // pixels
  VaeTiling tiling;
  bool encode = false;
  DType conv_dtype = DType::f32;
  std::string backend = "cpu";
  int repeat = 1;
  uint64_t seed = 0;
};

// Sizes, tiles and counts: parse_int_flag from `minimum` to a million.
int parse_int(const std::string& option, const std::string& value, int minimum) {
  return static_cast<int>(parse_int_flag(option, value, minimum, 1000000));
}

BenchVaeOptions parse_options(const Args& args) {
  BenchVaeOptions options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") throw UsageError(kUsage);
    if (arg == "--encode") {
      options.encode = true;
      continue;
    }
    if (arg.empty() || arg[0] != '-') throw UsageError("unexpected argument '" + arg + "'\n" + kUsage);
    if (i + 1 >= args.size()) throw UsageError(arg + " needs a value\n" + kUsage);
    const std::string& value = args[++i];
    if (arg == "--random-weights") {
      options.random_config = value;
    } else if (arg == "--weights") {
      options.weights_path = value;
    } else if (arg == "--select") {
      options.select = value;
    } else if (arg == "--size") {
      const size_t x = value.find('x');
      options.width = parse_int(arg, value.substr(0, x), 1);
      options.height = x == std::string::npos ? options.width : parse_int(arg, value.substr(x + 1), 1);
    } else if (arg == "--tile") {
      options.tiling.tile = parse_int(arg, value, 1);
    } else if (arg == "--overlap") {
      options.tiling.overlap = parse_int(arg, value, 0);
    } else if (arg == "--dtype") {
      const auto dtype = dtype_from_name(value);
      if (!dtype || !dtype_is_float(*dtype)) throw UsageError("--dtype must be f32, bf16 or f16, not '" + value + "'");
      options.conv_dtype = *dtype;
    } else if (arg == "--backend") {
      options.backend = value;
    } else if (arg == "--repeat") {
      options.repeat = parse_int(arg, value, 1);
    } else if (arg == "--seed") {
      options.seed = static_cast<uint64_t>(parse_seed_flag(arg, value));
    } else {
      throw UsageError("unknown option '" + arg + "'\n" + kUsage);
    }
  }
  if (!options.random_config.empty() && !options.weights_path.empty())
    throw UsageError("give --random-weights or --weights, not both");
  if (options.random_config.empty() && options.weights_path.empty()) options.random_config = "2B";
  if (options.tiling.overlap > 0 && options.tiling.overlap >= options.tiling.tile)
    throw UsageError("--overlap must be smaller than --tile");
  return options;
}

// A VAE checkpoint, the official ones' "vae." part, or a golden file's "weight." part.
WeightStore open_weights(const BenchVaeOptions& options) {
  const WeightStore store = WeightStore::open(options.weights_path);
  if (!options.select.empty()) return store.select(options.select);
  for (const char* prefix : {"vae", "weight"})
    if (store.contains(std::string(prefix) + ".decoder.conv_in.conv.weight") ||
        store.contains(std::string(prefix) + ".encoder.conv_in.conv.weight"))
      return store.select(prefix);
  return store;
}

}  // namespace

int run_bench_vae(const Args& args) {
  const BenchVaeOptions options = parse_options(args);
  auto backend = create_backend(options.backend);
  const uint64_t rss_before = current_rss_bytes();

  // The source weights are dropped once the VAE holds its own copies.
  const auto load_start = std::chrono::steady_clock::now();
  std::optional<BsqVae> vae;
  std::string source;
  {
    const WeightStore weights = options.weights_path.empty()
                                    ? make_random_vae_weights(options.random_config, options.seed)
                                    : open_weights(options);
    source = weights.source();
    vae.emplace(*backend, weights, options.conv_dtype);
  }
  const double load_seconds = seconds_since(load_start);
  const uint64_t rss_loaded = current_rss_bytes();
  const VaeConfig& config = vae->config();
  const int stride = config.patch;
  INF_CHECK(options.width % stride == 0 && options.height % stride == 0, ErrorKind::invalid_argument, "--size ",
            options.width, "x", options.height, " is not a multiple of the VAE stride ", stride);
  const int64_t latent_h = options.height / stride, latent_w = options.width / stride;
  const bool tiled = options.tiling.tile > 0 && (latent_h > options.tiling.tile || latent_w > options.tiling.tile);

  // Inputs: a [1, d, h, w] latent or a [1, 3, H, W] image, random stand-ins.
  Tensor input = options.encode ? Tensor::host(DType::f32, {1, 3, options.height, options.width})
                                : Tensor::host(DType::f32, {1, config.bits, latent_h, latent_w});
  fill_random_normal(input, options.seed, "bench-vae input", 0.0f, 0.5f);
  if (options.encode)
    for (int64_t i = 0; i < input.numel(); ++i) input.data_as<float>()[i] = std::clamp(input.data_as<float>()[i], -1.0f, 1.0f);

  const VaeCost untiled = estimate_vae_cost(config, options.encode, latent_h, latent_w, 1, options.conv_dtype);
  const int64_t crop = options.tiling.tile + 2 * int64_t{vae_tile_margin(options.tiling)};
  const VaeCost per_tile = estimate_vae_cost(config, options.encode, std::min(latent_h, crop), std::min(latent_w, crop),
                                             1, options.conv_dtype);
  // Host tensors outside the passes: the input, and the output (decode: pixels and the
  // unclamped copy, which the tiled path also accumulates into).
  const uint64_t pixels_bytes = static_cast<uint64_t>(3 * options.height) * static_cast<uint64_t>(options.width) * 4;
  const uint64_t latent_bytes = static_cast<uint64_t>(config.bits * latent_h * latent_w) * 4;
  const uint64_t io_bytes = options.encode ? pixels_bytes + latent_bytes : latent_bytes + 2 * pixels_bytes;

  std::printf("weights:  %s (%.2f s to load)\n", source.c_str(), load_seconds);
  std::printf("config:   %s\n", config.describe().c_str());
  std::printf("run:      %s %dx%d %s latent %lldx%lldx%d, backend %s, %d threads, %s convs, %s, %d timed run(s)%s\n",
              options.encode ? "encode" : "decode", options.width, options.height, options.encode ? "->" : "<-",
              static_cast<long long>(latent_h), static_cast<long long>(latent_w), config.bits, backend->name().c_str(),
              cpu_thread_count(), std::string(dtype_name(options.conv_dtype)).c_str(),
              tiled ? ("tiles of " + std::to_string(options.tiling.tile) + " latent positions, overlap " +
                       std::to_string(options.tiling.overlap) + ", margin " +
                       std::to_string(vae_tile_margin(options.tiling)))
                          .c_str()
                    : "untiled",
              options.repeat, options.repeat > 1 ? " after 1 warm-up" : "");
  std::fflush(stdout);

  const uint64_t peak_loading = peak_rss_bytes();
  const bool peak_was_reset = reset_peak_rss();
  auto run_once = [&]() {
    const auto start = std::chrono::steady_clock::now();
    if (options.encode) {
      const Tensor latent = vae->encode(input, options.tiling);  // [1, d, h, w]
    } else {
      const VaeImage image = vae->decode(input, options.tiling);  // [1, 3, H, W]
    }
    return seconds_since(start);
  };
  if (options.repeat > 1) run_once();
  std::vector<double> times;
  for (int r = 0; r < options.repeat; ++r) times.push_back(run_once());
  const uint64_t peak_run = peak_rss_bytes();

  const double seconds = median(times);
  std::printf("\ntime:     %.3f s (median of %d; fastest %.3f s, slowest %.3f s)\n", seconds, options.repeat,
              *std::min_element(times.begin(), times.end()), *std::max_element(times.begin(), times.end()));
  std::printf("convs:    %.1f GFLOP in the untiled pass -> %.1f GFLOP/s%s\n", untiled.conv_flops * 1e-9,
              untiled.conv_flops * 1e-9 / seconds,
              tiled ? " (effective: tiles also compute their overlaps and margins)" : "");

  std::printf("\nmemory (host RSS%s):\n", backend->device().is_cpu() ? "" : "; device memory is not measured here");
  std::printf("  RSS before loading weights        %9.1f MiB  (code, libraries, thread stacks)\n", mib(rss_before));
  std::printf("  RSS after loading (source freed)  %9.1f MiB\n", mib(rss_loaded));
  const VaeCost& pass = tiled ? per_tile : untiled;
  const uint64_t estimate = pass.weights + pass.activations + io_bytes;
  std::printf("  estimate: weights %.1f MiB + %s %.1f MiB + input/output %.1f MiB = %.1f MiB (%.2f GiB)\n",
              mib(pass.weights), tiled ? "one tile's activations" : "activations", mib(pass.activations),
              mib(io_bytes), mib(estimate), gib(estimate));
  if (tiled)
    std::printf("            (untiled it would be %.1f MiB of activations, %.2f GiB in all)\n", mib(untiled.activations),
                gib(untiled.weights + untiled.activations + io_bytes));
  const auto ratio = [&](uint64_t peak) {
    return static_cast<double>(peak > rss_before ? peak - rss_before : 0) / static_cast<double>(estimate);
  };
  std::printf("  peak RSS while loading            %9.1f MiB\n", mib(peak_loading));
  if (peak_was_reset)
    std::printf("  peak RSS during the runs          %9.1f MiB  (peak - baseline) / estimate = %.2f\n", mib(peak_run),
                ratio(peak_run));
  else
    std::printf("  peak RSS, whole process           %9.1f MiB  (the mark could not be reset after loading)\n",
                mib(std::max(peak_loading, peak_run)));
  return 0;
}

}  // namespace inf::cli
