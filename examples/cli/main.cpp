// infinode: the command-line front end. Subcommands grow with the engine; each lives in its
// own cmd_*.cpp. Exit codes: 0 success, 1 an error in the input or the run (one line on
// stderr naming the file and the problem), 2 a usage error.
#include <cstdio>
#include <exception>
#include <string>

#include "commands.h"
#include "common/error.h"

namespace {

struct Subcommand {
  const char* name;
  int (*run)(const inf::cli::Args&);
  const char* summary;
};

const Subcommand kSubcommands[] = {
    {"generate", inf::cli::run_generate,
     "PROMPT... -o OUT [--model DIR | --random-weights tiny] [--seed N] ...: text -> images (nodes)"},
    {"edit", inf::cli::run_edit,
     "IMAGE --prompt P --keep-scales K [--mask MASK] -o OUT ...: regenerate an image's finer scales (nodes)"},
    {"devices", inf::cli::run_devices, "list compiled backends and whether a device is usable"},
    {"inspect", inf::cli::run_inspect, "FILE: tensors, dtypes, shapes and metadata of a weight file"},
    {"convert", inf::cli::run_convert,
     "IN OUT.safetensors [--dtype f32|bf16|f16] [--select PREFIX]: rewrite weights as safetensors"},
    {"encode", inf::cli::run_encode,
     "IMAGE -o TOKENS --vae WEIGHTS [--resolution R] [--tile N]: image -> multi-scale bit tokens"},
    {"decode", inf::cli::run_decode,
     "TOKENS -o IMAGE --vae WEIGHTS [--scales K] [--tile N]: bit tokens -> image"},
    {"golden", inf::cli::run_golden,
     "FILE... [--backend B] [--dtype f32|bf16] [--tolerance R] [-v]: check golden files from the reference"},
    {"tokenize", inf::cli::run_tokenize,
     "--spm SPIECE_MODEL (TEXT | --file PROMPTS) [--max-length N] [-v]: prompts -> T5 token ids"},
    {"bench", inf::cli::run_bench,
     "[--random-weights NAME | --weights FILE] [--resolution R] [--repeat N] ...: time the transformer"},
    {"bench-vae", inf::cli::run_bench_vae,
     "[--random-weights tiny|2B|8B | --weights FILE] [--size 256|WxH] [--tile N] [--encode]: time the VAE"},
    {"embed", inf::cli::run_embed,
     "--t5 WEIGHTS (--spm MODEL TEXT | --ids \"0 5 1\") -o FEATURES [--dtype f32|bf16]: prompt -> T5 features"},
    {"bench-t5", inf::cli::run_bench_t5,
     "[--random-weights tiny|flan-t5-xl] [--tokens N[,N]] [--dtype f32|bf16]: time the T5 encoder"},
};

void print_usage(std::FILE* stream) {
  std::fprintf(stream, "usage: infinode <command> [arguments]\n\ncommands:\n");
  for (const auto& sub : kSubcommands) std::fprintf(stream, "  %-9s %s\n", sub.name, sub.summary);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  const std::string name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    print_usage(stdout);
    return 0;
  }
  const inf::cli::Args args(argv + 2, argv + argc);
  for (const auto& sub : kSubcommands) {
    if (name != sub.name) continue;
    try {
      return sub.run(args);
    } catch (const inf::cli::UsageError& error) {
      std::fprintf(stderr, "infinode %s: %s\n", sub.name, error.what());
      return 2;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "infinode %s: error: out of memory\n", sub.name);
      return 1;
    } catch (const std::exception& error) {
      std::fprintf(stderr, "infinode %s: error: %s\n", sub.name, error.what());
      return 1;
    }
  }
  std::fprintf(stderr, "infinode: unknown command '%s'\n", name.c_str());
  print_usage(stderr);
  return 2;
}
