// The CLI's subcommands. Each takes the arguments after its name and returns the exit code;
// errors are thrown as inf::Error (exit 1) or UsageError (exit 2) and printed by main.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace inf::cli {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Args = std::vector<std::string>;

int run_devices(const Args& args);
int run_inspect(const Args& args);
int run_convert(const Args& args);
int run_golden(const Args& args);
int run_encode(const Args& args);
int run_decode(const Args& args);
int run_bench(const Args& args);
int run_bench_vae(const Args& args);
int run_embed(const Args& args);
int run_bench_t5(const Args& args);
int run_tokenize(const Args& args);
// Built on libinfinode's nodes through the C ABI (node_pipeline.h).
int run_generate(const Args& args);
int run_edit(const Args& args);

}  // namespace inf::cli
