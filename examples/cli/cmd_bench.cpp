// infinode bench: times the Infinity transformer's sampling loop, scale by scale, on random
// (or given) weights, and compares the process's memory with the formula of
// estimate_infinity_memory.
//
// The workload matches docs/targets.md: one image with CFG (2 rows), random text features of
// 16 tokens, cfg 3, tau 0.5. Times are medians over --repeat runs after one warm-up run (when
// repeating), so first-touch page faults and lazy BLAS setup stay out of them. The VAE and
// the text encoder are not part of it.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "bench_timing.h"
#include "process_memory.h"
#include "commands.h"
#include "common/error.h"
#include "common/thread_pool.h"
#include "generation_flags.h"
#include "model/infinity/random_weights.h"
#include "model/infinity/transformer.h"
#include "weights/weight_store.h"

namespace inf::cli {
namespace {

constexpr const char* kUsage =
    "usage: infinode bench [--random-weights NAME | --weights FILE] [--resolution 0.06M] [--aspect H/W]\n"
    "                      [--prompts B] [--text-length L] [--dtype f32|bf16] [--backend cpu|cuda]\n"
    "                      [--repeat N] [--seed S]      (default weights: --random-weights tiny)";

struct BenchOptions {
  std::string random_config;  // empty when --weights is given
  std::string weights_path;
  std::string resolution = "0.06M";
  double aspect = 1.0;
  int prompts = 1;
  int text_length = 16;
  DType block_dtype = DType::f32;
  std::string backend = "cpu";
  int repeat = 1;
  uint64_t seed = 0;
};

BenchOptions parse_options(const Args& args) {
  BenchOptions options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") throw UsageError(kUsage);
    if (arg.empty() || arg[0] != '-') throw UsageError("unexpected argument '" + arg + "'\n" + kUsage);
    if (i + 1 >= args.size()) throw UsageError(arg + " needs a value\n" + kUsage);
    const std::string& value = args[++i];
    if (arg == "--random-weights") {
      options.random_config = value;
    } else if (arg == "--weights") {
      options.weights_path = value;
    } else if (arg == "--resolution") {
      options.resolution = value;
    } else if (arg == "--aspect") {
      char* end = nullptr;
      options.aspect = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0' || !(options.aspect > 0))
        throw UsageError("--aspect must be a positive number (height / width), not '" + value + "'");
    } else if (arg == "--prompts") {
      options.prompts = static_cast<int>(parse_int_flag(arg, value, 1, 1000000));
    } else if (arg == "--text-length") {
      options.text_length = static_cast<int>(parse_int_flag(arg, value, 1, 1000000));
    } else if (arg == "--dtype") {
      const auto dtype = dtype_from_name(value);
      if (!dtype || !dtype_is_float(*dtype)) throw UsageError("--dtype must be f32, bf16 or f16, not '" + value + "'");
      options.block_dtype = *dtype;
    } else if (arg == "--backend") {
      options.backend = value;
    } else if (arg == "--repeat") {
      options.repeat = static_cast<int>(parse_int_flag(arg, value, 1, 1000000));
    } else if (arg == "--seed") {
      options.seed = static_cast<uint64_t>(parse_seed_flag(arg, value));
    } else {
      throw UsageError("unknown option '" + arg + "'\n" + kUsage);
    }
  }
  if (!options.random_config.empty() && !options.weights_path.empty())
    throw UsageError("give --random-weights or --weights, not both");
  if (options.random_config.empty() && options.weights_path.empty()) options.random_config = "tiny";
  return options;
}

// Weights named as a checkpoint, or inside a golden file ("weight.<name>").
WeightStore open_weights(const std::string& path) {
  WeightStore store = WeightStore::open(path);
  if (!store.contains("pos_start") && store.contains("weight.pos_start")) return store.select("weight");
  return store;
}

GenerateRequest make_request(const InfinityConfig& config, const BenchOptions& options) {
  INF_CHECK(options.text_length <= config.text_max_length, ErrorKind::invalid_argument, "--text-length ",
            options.text_length, " exceeds the model's ", config.text_max_length, " text tokens");
  GenerateRequest request;
  request.schedule = schedule_for_ratio(options.aspect, options.resolution);
  request.prompts.lengths.assign(static_cast<size_t>(options.prompts), options.text_length);
  // Stand-ins for T5 features: the model RMS-normalises them first, so only their shape matters.
  request.prompts.features =
      Tensor::host(DType::f32, {int64_t{options.prompts} * options.text_length, config.text_channels});
  fill_random_normal(request.prompts.features, options.seed, "bench text features", 0.0f, 0.3f);
  request.cfg = {3.0f};
  request.tau = {0.5f};
  request.sampling.seed = options.seed;
  return request;
}

struct RunTimes {
  std::vector<double> scale_seconds;
  double total_seconds = 0;
};

RunTimes timed_generate(InfinityTransformer& transformer, GenerateRequest& request) {
  RunTimes times;
  request.on_scale = [&times](const ScaleProgress& progress) {
    times.scale_seconds.push_back(progress.seconds);
    return true;
  };
  const auto start = std::chrono::steady_clock::now();
  const GenerateResult result = transformer.generate(request);
  times.total_seconds = seconds_since(start);
  INF_CHECK(!result.cancelled && static_cast<int>(times.scale_seconds.size()) == request.schedule.num_scales(),
            ErrorKind::internal, "generate() reported ", times.scale_seconds.size(), " of ",
            request.schedule.num_scales(), " scales");
  return times;
}

void print_memory(const InfinityMemoryEstimate& estimate, uint64_t rss_before, uint64_t rss_loaded,
                  uint64_t peak_total, std::optional<uint64_t> peak_generate, bool device_backend) {
  std::printf("\nmemory (host RSS%s):\n", device_backend ? "; device memory is not measured here" : "");
  std::printf("  RSS before loading weights       %9.1f MiB  (code, libraries, thread stacks)\n", mib(rss_before));
  std::printf("  RSS after loading (source freed) %9.1f MiB\n", mib(rss_loaded));
  std::printf("  estimate: weights %.1f MiB + KV cache %.1f MiB + activations %.1f MiB = %.1f MiB (%.3f GiB)\n",
              mib(estimate.weights), mib(estimate.kv_cache), mib(estimate.activations), mib(estimate.total()),
              gib(estimate.total()));
  const auto ratio = [&](uint64_t peak) {
    const uint64_t above_baseline = peak > rss_before ? peak - rss_before : 0;
    return static_cast<double>(above_baseline) / static_cast<double>(std::max<uint64_t>(estimate.total(), 1));
  };
  std::printf("  peak RSS, whole process          %9.1f MiB  (peak - baseline) / estimate = %.2f"
              "  (includes loading: source and loaded weights coexist)\n",
              mib(peak_total), ratio(peak_total));
  if (peak_generate)
    std::printf("  peak RSS during generation       %9.1f MiB  (peak - baseline) / estimate = %.2f\n",
                mib(*peak_generate), ratio(*peak_generate));
}

}  // namespace

int run_bench(const Args& args) {
  const BenchOptions options = parse_options(args);
  auto backend = create_backend(options.backend);
  const uint64_t rss_before = current_rss_bytes();

  // The source weights (random tensors or a mapped file) are dropped once the transformer has
  // its own copies, so they do not count in the generation's memory.
  const auto load_start = std::chrono::steady_clock::now();
  InfinityOptions model_options;
  model_options.block_weight_dtype = options.block_dtype;
  std::unique_ptr<InfinityTransformer> transformer;
  std::string source;
  double make_seconds = 0;
  {
    const WeightStore weights = options.weights_path.empty()
                                    ? make_random_infinity_weights(options.random_config, options.seed)
                                    : open_weights(options.weights_path);
    make_seconds = seconds_since(load_start);
    source = weights.source();
    transformer = std::make_unique<InfinityTransformer>(*backend, weights, model_options);
  }
  const double load_seconds = seconds_since(load_start);
  const uint64_t rss_loaded = current_rss_bytes();
  const InfinityConfig& config = transformer->config();

  GenerateRequest request = make_request(config, options);
  const ScaleSchedule& schedule = request.schedule;
  const InfinityMemoryEstimate estimate =
      estimate_infinity_memory(config, schedule, options.prompts, options.block_dtype, options.text_length);

  std::printf("weights:  %s (%.2f s to %s, %.2f s in all to load)\n", source.c_str(), make_seconds,
              options.weights_path.empty() ? "generate" : "open", load_seconds);
  std::printf("config:   %s\n", config.describe().c_str());
  std::printf("schedule: %s\n", schedule.describe().c_str());
  std::printf("run:      backend %s, %d threads, %s block weights, %d prompt(s) x %d text tokens, cfg 3, tau 0.5,"
              " seed %llu, %d timed run(s)%s\n",
              backend->name().c_str(), cpu_thread_count(), std::string(dtype_name(options.block_dtype)).c_str(),
              options.prompts, options.text_length, static_cast<unsigned long long>(options.seed), options.repeat,
              options.repeat > 1 ? " after 1 warm-up" : "");
  std::fflush(stdout);

  // getrusage reads the same mark that the reset lowers: take the load's peak first.
  const uint64_t peak_loading = peak_rss_bytes();
  const bool peak_was_reset = reset_peak_rss();
  if (options.repeat > 1) timed_generate(*transformer, request);
  std::vector<RunTimes> runs;
  for (int r = 0; r < options.repeat; ++r) runs.push_back(timed_generate(*transformer, request));
  const uint64_t peak_total = std::max(peak_loading, peak_rss_bytes());
  const std::optional<uint64_t> peak_generate = peak_was_reset ? vm_hwm_bytes() : std::nullopt;

  // Tokens per second count image tokens (prompts x grid); each is computed twice for CFG.
  std::printf("\n%5s %9s %7s %10s %12s\n", "scale", "grid", "tokens", "ms", "tokens/s");
  double sum_of_scales = 0;
  for (int k = 0; k < schedule.num_scales(); ++k) {
    std::vector<double> seconds;
    for (const auto& run : runs) seconds.push_back(run.scale_seconds[static_cast<size_t>(k)]);
    const double scale_seconds = median(seconds);
    sum_of_scales += scale_seconds;
    const ScaleGrid& grid = schedule.grids[static_cast<size_t>(k)];
    const std::string grid_text = std::to_string(grid.h) + "x" + std::to_string(grid.w);
    const auto image_tokens = static_cast<double>(grid.tokens() * options.prompts);
    std::printf("%5d %9s %7lld %10.2f %12.0f\n", k, grid_text.c_str(), static_cast<long long>(grid.tokens()),
                scale_seconds * 1e3, image_tokens / std::max(scale_seconds, 1e-12));
  }
  std::vector<double> totals, outside_scales;
  for (const auto& run : runs) {
    totals.push_back(run.total_seconds);
    double scales = 0;
    for (const double seconds : run.scale_seconds) scales += seconds;
    outside_scales.push_back(run.total_seconds - scales);
  }
  const double total = median(totals);
  const auto all_tokens = static_cast<double>(schedule.total_tokens() * options.prompts);
  std::printf("\ntotal: %.3f s per generate() (median of %d; sum of the scale medians %.3f s, text conditioning"
              " and setup %.3f s)\n",
              total, options.repeat, sum_of_scales, median(outside_scales));
  std::printf("       %.3f s per image, %.0f tokens/s (%lld tokens per image)\n", total / options.prompts,
              all_tokens / total, static_cast<long long>(schedule.total_tokens()));
  if (options.repeat > 1)
    std::printf("       fastest run %.3f s, slowest %.3f s\n", *std::min_element(totals.begin(), totals.end()),
                *std::max_element(totals.begin(), totals.end()));

  print_memory(estimate, rss_before, rss_loaded, peak_total, peak_generate, !backend->device().is_cpu());
  return 0;
}

}  // namespace inf::cli
