// infinode_test_ops: runs the op cases on one backend.
//
//   infinode_test_ops [test|perf] [-b BACKEND] [-o OP] [--list-ops] [--expect-ops OP...]
//
// test (default): CPU is checked against each case's double-precision oracle, any other
// backend against the CPU backend. Exit 0 = all passed, 1 = a case failed, 77 = the backend
// has no usable device here (ctest reports that as skipped, not passed).
// perf: times every case and prints GFLOP/s (or GB/s for cases without a FLOP count).
// --expect-ops: fails unless the given list names exactly the ops that have cases, so the
// ctest registration cannot silently miss an op.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>

#include "common/error.h"
#include "ops/op_case.h"

namespace inf::ops_test {
namespace {

constexpr int kExitSkipped = 77;
constexpr int64_t kGuardElements = 64;
constexpr float kGuardValue = -123456.0f;  // any op writing out of bounds changes it

struct Options {
  std::string mode = "test";
  std::string backend = "cpu";
  std::string op;
  bool list_ops = false;
  std::vector<std::string> expect_ops;
};

// A device copy of a case's inputs with the same views applied.
std::vector<Tensor> place_inputs(Backend& backend, const OpCase& c) {
  std::vector<Tensor> placed;
  for (const auto& input : c.inputs) {
    Tensor base = input.base;
    if (!backend.device().is_cpu()) {
      base = backend.alloc(input.base.dtype(), input.base.shape());
      backend.upload(base, input.base);
    }
    placed.push_back(input.view ? input.view(base) : base);
  }
  return placed;
}

std::vector<Tensor> host_inputs(const OpCase& c) {
  std::vector<Tensor> views;
  for (const auto& input : c.inputs) views.push_back(input.view ? input.view(input.base) : input.base);
  return views;
}

// Runs the case on `backend`; returns the output as doubles. Guard elements on both sides of
// the output (in the output's dtype) must be unchanged, or the run fails.
std::vector<double> run_case(Backend& backend, const OpCase& c, std::string& problem) {
  const int64_t count = shape_numel(c.out_shape);
  const int64_t padded = count + 2 * kGuardElements;
  Tensor host_padded = Tensor::host(c.out_dtype, {padded});
  const bool float_out = dtype_is_float(c.out_dtype);
  auto guard_bits = [&](int64_t i) { return element(host_padded, i); };
  for (int64_t i = 0; i < padded; ++i) {
    if (!float_out) {
      std::memset(static_cast<uint8_t*>(host_padded.data()) + i * static_cast<int64_t>(dtype_size(c.out_dtype)), 0x5a,
                  dtype_size(c.out_dtype));
      continue;
    }
    switch (c.out_dtype) {
      case DType::f32: host_padded.data_as<float>()[i] = kGuardValue; break;
      case DType::bf16: static_cast<uint16_t*>(host_padded.data())[i] = f32_to_bf16(kGuardValue); break;
      default: static_cast<uint16_t*>(host_padded.data())[i] = f32_to_f16(-1234.0f); break;
    }
  }
  const double guard = guard_bits(0);

  Tensor padded_out = host_padded;
  if (!backend.device().is_cpu()) {
    padded_out = backend.alloc(c.out_dtype, {padded});
    backend.upload(padded_out, host_padded);
  }
  const Tensor out(padded_out.buffer(), c.out_dtype, c.out_shape,
                   padded_out.byte_offset() + static_cast<size_t>(kGuardElements) * dtype_size(c.out_dtype));
  const std::vector<Tensor> inputs = place_inputs(backend, c);
  c.run(backend, out, inputs);
  if (!backend.device().is_cpu()) backend.download(host_padded, padded_out);
  backend.synchronize();

  for (int64_t i = 0; i < kGuardElements; ++i)
    if (guard_bits(i) != guard || guard_bits(padded - 1 - i) != guard) {
      problem = "wrote outside its output (guard element " + std::to_string(i) + " changed)";
      return {};
    }
  std::vector<double> values(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) values[static_cast<size_t>(i)] = element(host_padded, kGuardElements + i);
  return values;
}

// NaN, then Inf sign, then NMSE = sum (y - x)^2 / sum x^2 (plain squared error when x is 0).
bool compare(const std::vector<double>& expected, const std::vector<double>& actual, double max_nmse,
             std::string& problem, double& nmse) {
  if (expected.size() != actual.size()) {
    problem = "output size differs";
    return false;
  }
  double error = 0, energy = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double x = expected[i], y = actual[i];
    if (std::isnan(x) != std::isnan(y)) {
      problem = "NaN mismatch at element " + std::to_string(i);
      return false;
    }
    if (std::isinf(x) || std::isinf(y)) {
      if (x != y) {
        problem = "Inf mismatch at element " + std::to_string(i);
        return false;
      }
      continue;
    }
    if (std::isnan(x)) continue;
    error += (y - x) * (y - x);
    energy += x * x;
  }
  nmse = energy > 0 ? error / energy : error;
  if (nmse > max_nmse) {
    char text[96];
    std::snprintf(text, sizeof text, "NMSE %.3g > %.3g", nmse, max_nmse);
    problem = text;
    return false;
  }
  return true;
}

int run_tests(Backend& backend, const Options& options) {
  std::unique_ptr<Backend> reference;
  if (backend.name() != "cpu") reference = create_backend("cpu");
  int passed = 0, failed = 0;
  for (const auto& c : registry()) {
    if (!options.op.empty() && c.op != options.op) continue;
    const double max_nmse = c.max_nmse > 0 ? c.max_nmse : default_max_nmse(c.out_dtype);
    std::string problem;
    double nmse = 0;
    bool ok = false;
    try {
      std::vector<double> expected;
      if (reference) {
        expected = run_case(*reference, c, problem);
        if (!problem.empty()) problem = "cpu reference " + problem;
      } else {
        expected = c.oracle(host_inputs(c));
      }
      if (problem.empty()) {
        const auto actual = run_case(backend, c, problem);
        ok = problem.empty() && compare(expected, actual, max_nmse, problem, nmse);
      }
    } catch (const std::exception& error) {
      problem = std::string("threw: ") + error.what();
    }
    if (ok) {
      ++passed;
      std::printf("  %-10s %-60s OK   (nmse %.2e)\n", c.op.c_str(), c.label.c_str(), nmse);
    } else {
      ++failed;
      std::printf("  %-10s %-60s FAIL %s\n", c.op.c_str(), c.label.c_str(), problem.c_str());
    }
  }
  std::printf("%s: %d/%d cases passed\n", backend.name().c_str(), passed, passed + failed);
  if (passed + failed == 0) {
    std::printf("no case matched op '%s'\n", options.op.c_str());
    return 1;
  }
  return failed == 0 ? 0 : 1;
}

int run_perf(Backend& backend, const Options& options) {
  for (const auto& c : registry()) {
    if (!options.op.empty() && c.op != options.op) continue;
    const std::vector<Tensor> inputs = place_inputs(backend, c);
    const Tensor out = backend.alloc(c.out_dtype, c.out_shape);
    c.run(backend, out, inputs);  // warm-up (plan caches, page faults)
    backend.synchronize();
    int runs = 0;
    const auto start = std::chrono::steady_clock::now();
    double seconds = 0;
    do {
      c.run(backend, out, inputs);
      backend.synchronize();
      ++runs;
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } while (seconds < 0.2 && runs < 10000);
    const double per_run = seconds / runs;
    if (c.flops > 0) {
      std::printf("  %-10s %-60s %10.1f us  %8.2f GFLOP/s\n", c.op.c_str(), c.label.c_str(), per_run * 1e6,
                  c.flops / per_run * 1e-9);
    } else {
      double bytes = static_cast<double>(out.nbytes());
      for (const auto& t : inputs) bytes += static_cast<double>(t.nbytes());
      std::printf("  %-10s %-60s %10.1f us  %8.2f GB/s\n", c.op.c_str(), c.label.c_str(), per_run * 1e6,
                  bytes / per_run * 1e-9);
    }
  }
  return 0;
}

int check_op_list(const std::vector<std::string>& expected) {
  std::set<std::string> have, listed(expected.begin(), expected.end());
  for (const auto& c : registry()) have.insert(c.op);
  if (have == listed) {
    std::printf("op list matches the %zu ops with cases\n", have.size());
    return 0;
  }
  for (const auto& op : have)
    if (!listed.count(op)) std::printf("op '%s' has cases but is not registered with ctest\n", op.c_str());
  for (const auto& op : listed)
    if (!have.count(op)) std::printf("op '%s' is registered with ctest but has no cases\n", op.c_str());
  return 1;
}

int run(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "-b" || arg == "-o") && i + 1 < argc) {
      (arg == "-b" ? options.backend : options.op) = argv[++i];
    } else if (arg == "test" || arg == "perf") {
      options.mode = arg;
    } else if (arg == "--list-ops") {
      options.list_ops = true;
    } else if (arg == "--expect-ops") {
      while (i + 1 < argc) options.expect_ops.push_back(argv[++i]);
      return check_op_list(options.expect_ops);
    } else {
      std::fprintf(stderr, "usage: %s [test|perf] [-b BACKEND] [-o OP] [--list-ops] [--expect-ops OP...]\n", argv[0]);
      return 2;
    }
  }
  if (options.list_ops) {
    std::set<std::string> ops;
    for (const auto& c : registry()) ops.insert(c.op);
    for (const auto& op : ops) std::printf("%s\n", op.c_str());
    return 0;
  }
  std::unique_ptr<Backend> backend;
  try {
    backend = create_backend(options.backend);
  } catch (const Error& error) {
    if (error.kind() != ErrorKind::unsupported) throw;
    std::printf("SKIPPED: backend %s unavailable: %s\n", options.backend.c_str(), error.what());
    return kExitSkipped;
  }
  return options.mode == "perf" ? run_perf(*backend, options) : run_tests(*backend, options);
}

}  // namespace
}  // namespace inf::ops_test

int main(int argc, char** argv) {
  try {
    return inf::ops_test::run(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "infinode_test_ops: %s\n", error.what());
    return 1;
  }
}
