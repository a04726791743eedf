// infinode bench-t5: times the T5 encoder on prompts of given lengths, on random (or given)
// weights, and compares the process's memory with estimate_t5_memory.
//
// The prompts are deterministic ids (never the padding or sentinel rows) ending in EOS. Times
// are medians over --repeat encodes after one warm-up encode per length, so first-touch page
// faults of the weights and the allocator's first blocks stay out of them.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "bench_timing.h"
#include "process_memory.h"
#include "commands.h"
#include "common/error.h"
#include "common/thread_pool.h"
#include "generation_flags.h"
#include "model/t5/random_t5_weights.h"
#include "model/t5/t5_encoder.h"
#include "weights/weight_store.h"

namespace inf::cli {
namespace {

constexpr const char* kUsage =
    "usage: infinode bench-t5 [--random-weights tiny|flan-t5-xl | --weights FILE] [--tokens N[,N...]]\n"
    "                         [--dtype f32|bf16] [--backend cpu|cuda] [--repeat N] [--seed S]\n"
    "  defaults: --random-weights tiny --tokens 20 --repeat 3";

struct BenchT5Options {
  std::string random_config, weights_path, backend = "cpu";
  std::vector<int64_t> tokens = {20};
  DType dtype = DType::f32;
  int repeat = 3;
  uint64_t seed = 0;
};

BenchT5Options parse(const Args& args) {
  BenchT5Options options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") throw UsageError(kUsage);
    if (i + 1 >= args.size()) throw UsageError(arg + " needs a value\n" + kUsage);
    const std::string& value = args[++i];
    if (arg == "--random-weights") {
      options.random_config = value;
    } else if (arg == "--weights") {
      options.weights_path = value;
    } else if (arg == "--tokens") {
      options.tokens.clear();
      std::istringstream list(value);
      std::string item;
      while (std::getline(list, item, ',')) options.tokens.push_back(parse_int_flag(arg, item, 1, 1000000));
      if (options.tokens.empty()) throw UsageError("--tokens needs at least one length");
    } else if (arg == "--dtype") {
      const auto dtype = dtype_from_name(value);
      if (!dtype || (*dtype != DType::f32 && *dtype != DType::bf16))
        throw UsageError("--dtype must be f32 or bf16 (T5 overflows f16), not '" + value + "'");
      options.dtype = *dtype;
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

// `length` ids in [3, min(vocab, 32000)), the last one EOS: ordinary pieces, as a tokenizer gives.
std::vector<int32_t> bench_ids(int64_t length, int64_t vocab) {
  const int64_t pieces = std::max<int64_t>(std::min<int64_t>(vocab, 32000) - 3, 1);
  std::vector<int32_t> ids;
  for (int64_t t = 0; t + 1 < length; ++t) ids.push_back(static_cast<int32_t>(3 + (t * 7919 + 13) % pieces));
  ids.push_back(1);
  return ids;
}

WeightStore open_t5_weights(const std::string& path) {
  WeightStore store = WeightStore::open(path);
  if (!store.contains("shared.weight") && store.contains("weight.shared.weight")) return store.select("weight");
  return store;
}

}  // namespace

int run_bench_t5(const Args& args) {
  const BenchT5Options options = parse(args);
  auto backend = create_backend(options.backend);
  const uint64_t rss_before = current_rss_bytes();

  // The source weights are dropped once the encoder holds its own (on the CPU backend, the
  // f32 tensors it does not restack are shared with the source, so they stay).
  const auto load_start = std::chrono::steady_clock::now();
  std::unique_ptr<T5Encoder> encoder;
  std::string source;
  double make_seconds = 0;
  {
    const WeightStore weights = options.weights_path.empty()
                                    ? make_random_t5_weights(options.random_config, options.seed)
                                    : open_t5_weights(options.weights_path);
    make_seconds = seconds_since(load_start);
    source = weights.source();
    encoder = std::make_unique<T5Encoder>(*backend, weights, options.dtype);
  }
  const double load_seconds = seconds_since(load_start);
  const uint64_t rss_loaded = current_rss_bytes();
  const uint64_t peak_loading = peak_rss_bytes();
  const T5Config& config = encoder->config();

  std::printf("weights: %s (%.2f s to %s, %.2f s in all to load)\n", source.c_str(), make_seconds,
              options.weights_path.empty() ? "generate" : "open", load_seconds);
  std::printf("config:  %s\n", config.describe().c_str());
  std::printf("run:     backend %s, %d threads, %s weights, f32 activations, %d timed encode(s) after 1 warm-up\n",
              backend->name().c_str(), cpu_thread_count(), std::string(dtype_name(options.dtype)).c_str(),
              options.repeat);
  std::printf("memory:  RSS %.1f MiB before loading, %.1f MiB loaded (peak while loading %.1f MiB)\n\n",
              mib(rss_before), mib(rss_loaded), mib(peak_loading));
  std::printf("%7s %10s %10s %10s %12s %12s %14s\n", "tokens", "median ms", "min ms", "tokens/s", "peak MiB",
              "estimate MiB", "peak/estimate");
  std::fflush(stdout);

  for (const int64_t length : options.tokens) {
    const std::vector<int32_t> ids = bench_ids(length, config.vocab);
    const bool reset = reset_peak_rss();
    encoder->encode(ids);
    std::vector<double> seconds;
    for (int r = 0; r < options.repeat; ++r) {
      const auto start = std::chrono::steady_clock::now();
      encoder->encode(ids);
      seconds.push_back(seconds_since(start));
    }
    const uint64_t peak = reset ? peak_rss_bytes() : std::max(peak_loading, peak_rss_bytes());
    const T5MemoryEstimate estimate = estimate_t5_memory(config, length, options.dtype);
    // Above the pre-load baseline (code, libraries, thread stacks), against weights + activations.
    const double ratio = static_cast<double>(peak > rss_before ? peak - rss_before : 0) /
                         static_cast<double>(std::max<uint64_t>(estimate.total(), 1));
    const double typical = median(seconds);
    std::printf("%7lld %10.1f %10.1f %10.0f %12.1f %12.1f %14.2f   (estimate: weights %.1f + activations %.1f MiB)\n",
                static_cast<long long>(length), typical * 1e3,
                *std::min_element(seconds.begin(), seconds.end()) * 1e3, static_cast<double>(length) / typical,
                mib(peak), mib(estimate.total()), ratio, mib(estimate.weights), mib(estimate.activations));
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace inf::cli
