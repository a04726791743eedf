// infinode golden FILE...: runs golden files made by the official implementation (format in
// tests/data/golden/README.md) and compares every expected tensor.
//
// Transformer files are teacher-forced: the stored bits are fed back at every scale, so the
// comparison never depends on sampling. For each expected tensor the runner prints the largest
// absolute error and that error relative to the largest reference magnitude; a tensor passes
// when the relative error is within the tolerance:
//   f32 weights: 1e-5  (the reference's own fp32-vs-fp64 error is ~1e-6 relative; the mixed
//                       logits are amplified by cfg/tau, ~2e-6 relative)
//   bf16 blocks: 3e-2  (bf16 keeps 8 mantissa bits; errors compound over the blocks)
// Integer tensors (bits) must match exactly. VAE files use the same bounds (--dtype sets the
// conv weights' storage), and so do T5 encoder files (--dtype sets the matmul weights' and the
// embedding's storage; activations stay f32).
// A tensor also passes when its max abs error is within 4x the reference's own float32 noise
// on it (the file's "fp32_vs_fp64_max_abs_err" metadata; a clamped output inherits the bound
// of its unclamped twin, since clamping never increases an error): the VAE decoder's outputs
// are clamped to [-1, 1], so a relative bound against max|ref| = 1 would demand more precision
// than the reference itself has (its fp32 error there is 1.2e-5).
// An expected tensor that the run does not produce is a failure too, so a file with new
// intermediates cannot pass unchecked.
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "commands.h"
#include "common/error.h"
#include "model/infinity/transformer.h"
#include "model/t5/t5_encoder.h"
#include "model/vae/bsq_vae.h"
#include "weights/weight_store.h"

namespace inf::cli {
namespace {

struct GoldenOptions {
  std::string backend = "cpu";
  DType block_dtype = DType::f32;
  double tolerance = 0;  // 0 = the default for the dtype
  bool verbose = false;
};

struct Comparison {
  double max_abs = 0, max_ref = 0;
  bool shape_ok = true;
  std::string note;
};

// Walks two host tensors of the same shape in row-major order (any strides, any dtype).
Comparison compare_tensors(const Tensor& actual, const Tensor& expected) {
  Comparison result;
  if (actual.shape() != expected.shape()) {
    result.shape_ok = false;
    result.note = "shape " + shape_string(actual.shape()) + " vs expected " + shape_string(expected.shape());
    return result;
  }
  Tensor a = Tensor::host(DType::f32, actual.shape()), e = Tensor::host(DType::f32, expected.shape());
  auto cpu = create_backend("cpu");
  cpu->convert(a, actual);
  cpu->convert(e, expected);
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double x = a.data_as<float>()[i], y = e.data_as<float>()[i];
    const double error = std::isnan(x) != std::isnan(y) ? INFINITY : std::fabs(x - y);
    result.max_abs = std::max(result.max_abs, error);
    result.max_ref = std::max(result.max_ref, std::fabs(y));
  }
  return result;
}

nlohmann::json golden_config(const WeightStore& store) {
  const auto found = store.metadata().find("config");
  INF_CHECK(found != store.metadata().end(), ErrorKind::invalid_data, store.source(), ": no \"config\" metadata");
  auto config = nlohmann::json::parse(found->second, nullptr, false);
  INF_CHECK(!config.is_discarded() && config.is_object(), ErrorKind::invalid_data, store.source(),
            ": \"config\" metadata is not a JSON object");
  return config;
}

template <typename T>
T config_value(const nlohmann::json& config, const char* key, const std::string& source) {
  const auto found = config.find(key);
  INF_CHECK(found != config.end(), ErrorKind::invalid_data, source, ": config has no \"", key, "\"");
  try {
    return found->get<T>();
  } catch (const std::exception&) {
    fail(ErrorKind::invalid_data, source, ": config \"", key, "\" has the wrong type");
  }
}

// Host tensor `name` of the golden file as f32 (or its own dtype for integers).
Tensor host_copy(const WeightStore& store, const std::string& name) {
  const Tensor view = store.get(name);
  Tensor copy = Tensor::host(view.dtype(), view.shape());
  create_backend("cpu")->convert(copy, view);
  return copy;
}

// Runs one transformer golden file; returns the produced tensors by golden name.
std::map<std::string, Tensor> run_transformer(const WeightStore& store, const GoldenOptions& options) {
  const std::string& source = store.source();
  const nlohmann::json config = golden_config(store);
  // Switches the engine implements only in the released models' setting (spec 5.8, 6): a file
  // made with another setting must fail loudly rather than be compared against other maths.
  const std::pair<const char*, int> required[] = {{"cfg_insertion_layer", 0},
                                                  {"use_bit_label", 1},
                                                  {"add_lvl_embeding_only_first_block", 1},
                                                  {"rope2d_normalized_by_hw", 2}};
  for (const auto& [key, value] : required)
    INF_CHECK(!config.contains(key) || config[key] == value, ErrorKind::unsupported, source, ": config ", key, " = ",
              config[key].dump(), " is not supported (the released models use ", value, ")");
  std::vector<ScaleGrid> grids;
  for (const auto& pair : config_value<std::vector<std::vector<int>>>(config, "schedule", source)) {
    INF_CHECK(pair.size() == 2, ErrorKind::invalid_data, source, ": schedule entries must be [h, w]");
    grids.push_back({pair[0], pair[1]});
  }
  const auto rope_grid = config_value<std::vector<int>>(config, "rope_final_grid_1M", source);
  INF_CHECK(rope_grid.size() == 2, ErrorKind::invalid_data, source, ": rope_final_grid_1M must be [h, w]");

  auto backend = create_backend(options.backend);
  const WeightStore weights = store.select("weight");
  InfinityOptions model_options;
  model_options.block_weight_dtype = options.block_dtype;
  InfinityTransformer transformer(*backend, weights, model_options);

  GenerateRequest request;
  request.schedule = schedule_from_grids(grids, {rope_grid[0], rope_grid[1]});
  request.prompts.features = host_copy(store, "input.text_features");
  const Tensor lengths = host_copy(store, "input.text_lens");
  INF_CHECK(lengths.dtype() == DType::i32 && lengths.ndim() == 1, ErrorKind::invalid_data, source,
            ": input.text_lens must be i32 [B]");
  request.prompts.lengths.assign(lengths.data_as<int32_t>(), lengths.data_as<int32_t>() + lengths.numel());
  request.spatial_patch = config.value("apply_spatial_patchify", 0) != 0 ? 2 : 1;
  request.cfg = config_value<std::vector<float>>(config, "cfg", source);
  request.tau = config_value<std::vector<float>>(config, "tau", source);
  for (int k = 0; k < request.schedule.num_scales(); ++k)
    request.forced_bits.push_back(host_copy(store, "input.bits.s" + std::to_string(k)));

  std::map<std::string, Tensor> produced;
  transformer.set_trace([&](const std::string& name, const Tensor& value) {
    Tensor host = value;
    if (!value.device().is_cpu() || !value.is_contiguous()) {
      Tensor packed = backend->alloc(value.dtype(), value.shape());
      backend->convert(packed, value);
      host = Tensor::host(value.dtype(), value.shape());
      backend->download(host, packed);
      backend->synchronize();
    } else {
      host = Tensor::host(value.dtype(), value.shape());
      create_backend("cpu")->convert(host, value);
    }
    produced["expect." + name] = host;
  });
  transformer.generate(request);
  return produced;
}

// Runs one BSQ-VAE golden file: encoder, quantizer and decoder on the test image, and the
// decoder alone on the latent of given bits.
std::map<std::string, Tensor> run_vae(const WeightStore& store, const GoldenOptions& options) {
  const std::string& source = store.source();
  const nlohmann::json config = golden_config(store);
  std::vector<ScaleGrid> grids;
  for (const auto& pair : config_value<std::vector<std::vector<int>>>(config, "schedule", source)) {
    INF_CHECK(pair.size() == 2, ErrorKind::invalid_data, source, ": schedule entries must be [h, w]");
    grids.push_back({pair[0], pair[1]});
  }
  INF_CHECK(!grids.empty(), ErrorKind::invalid_data, source, ": empty schedule");
  const ScaleGrid last = grids.back();
  const ScaleSchedule schedule = schedule_from_grids(grids, last);

  auto backend = create_backend(options.backend);
  const BsqVae vae(*backend, store.select("weight"), options.block_dtype);
  std::map<std::string, Tensor> produced;
  if (store.contains("input.image")) {
    const Tensor latent = vae.encode(host_copy(store, "input.image"));
    produced["expect.encoder_features"] = latent;
    VaeTokens tokens = vae.quantize(latent, schedule);
    for (size_t k = 0; k < tokens.bits.size(); ++k) produced["expect.bits.s" + std::to_string(k)] = tokens.bits[k];
    produced["expect.summed_codes"] = tokens.summed_codes;
    const VaeImage image = vae.decode(tokens.summed_codes);
    produced["expect.decoded"] = image.pixels;
    produced["expect.decoded_noclamp"] = image.unclamped;
  }
  if (store.contains("input.decoder_latent")) {
    std::vector<Tensor> bits;
    for (int k = 0; store.contains("input.decoder_bits.s" + std::to_string(k)); ++k)
      bits.push_back(host_copy(store, "input.decoder_bits.s" + std::to_string(k)));
    // The latent the reference built from the bits must be what our code builds from them.
    if (!bits.empty()) produced["input.decoder_latent"] = summed_codes_from_bits(bits, schedule);
    const VaeImage image = vae.decode(host_copy(store, "input.decoder_latent"));
    produced["expect.decoder_out"] = image.pixels;
    produced["expect.decoder_out_noclamp"] = image.unclamped;
  }
  return produced;
}

// Runs one T5 encoder golden file: every prompt's ids through the encoder, unpadded.
std::map<std::string, Tensor> run_t5(const WeightStore& store, const GoldenOptions& options) {
  const std::string& source = store.source();
  const nlohmann::json config = golden_config(store);
  // gated-gelu is Flan-T5's (gelu_new: tanh); HF's plain "gelu" is the erf GELU and "relu" has no
  // backend op, so other FFNs must fail rather than be compared against other maths.
  const auto ffn = config_value<std::string>(config, "feed_forward_proj", source);
  INF_CHECK(ffn == "gated-gelu", ErrorKind::unsupported, source, ": feed_forward_proj '", ffn,
            "' is not supported (Flan-T5 uses gated-gelu)");
  const WeightStore weights = store.select("weight");
  T5Config t5 = T5Config::from_weights(weights, config_value<int>(config, "relative_attention_max_distance", source));
  t5.eps = config_value<float>(config, "layer_norm_epsilon", source);
  auto backend = create_backend(options.backend);
  const T5Encoder encoder(*backend, weights, t5, options.block_dtype);

  std::map<std::string, Tensor> produced;
  for (int i = 0; store.contains("input.ids.p" + std::to_string(i)); ++i) {
    const Tensor ids = host_copy(store, "input.ids.p" + std::to_string(i));
    INF_CHECK(ids.dtype() == DType::i32 && ids.ndim() == 1, ErrorKind::invalid_data, source, ": input.ids.p", i,
              " must be i32 [L]");
    produced["expect.features.p" + std::to_string(i)] =
        encoder.encode(std::vector<int32_t>(ids.data_as<int32_t>(), ids.data_as<int32_t>() + ids.numel()));
  }
  return produced;
}

bool run_file(const std::string& path, const GoldenOptions& options) {
  const WeightStore store = WeightStore::open(path);
  const auto kind = store.metadata().find("kind");
  INF_CHECK(kind != store.metadata().end(), ErrorKind::invalid_data, path, ": no \"kind\" metadata; not a golden file");
  std::map<std::string, Tensor> produced;
  if (kind->second == "infinity-transformer") {
    produced = run_transformer(store, options);
  } else if (kind->second == "bsq-vae") {
    produced = run_vae(store, options);
  } else if (kind->second == "t5-encoder") {
    produced = run_t5(store, options);
  } else {
    fail(ErrorKind::unsupported, path, ": golden kind '", kind->second, "' is not supported yet");
  }

  const double tolerance = options.tolerance > 0 ? options.tolerance : options.block_dtype == DType::f32 ? 1e-5 : 3e-2;
  int checked = 0, failed = 0;
  double worst = 0;
  // The reference's own fp32-vs-fp64 error per tensor, when the file records it.
  std::map<std::string, double> reference_noise;
  if (const auto noise = store.metadata().find("fp32_vs_fp64_max_abs_err"); noise != store.metadata().end()) {
    const auto parsed = nlohmann::json::parse(noise->second, nullptr, false);
    if (parsed.is_object())
      for (const auto& [key, value] : parsed.items())
        if (value.is_number()) reference_noise[key] = value.get<double>();
  }
  auto noise_of = [&](const std::string& name) {
    for (const std::string& key : {name, name + "_noclamp"})
      if (const auto found = reference_noise.find(key); found != reference_noise.end()) return found->second;
    return 0.0;
  };

  // Every expected tensor must be produced; produced inputs (derived checks) are compared too.
  std::vector<std::string> names;
  for (const auto& name : store.names())
    if (name.compare(0, 7, "expect.") == 0 || (produced.count(name) && name.compare(0, 6, "input.") == 0))
      names.push_back(name);
  for (const auto& name : names) {
    const std::string short_name = name.compare(0, 7, "expect.") == 0 ? name.substr(7) : name;
    ++checked;
    const auto found = produced.find(name);
    if (found == produced.end()) {
      ++failed;
      std::printf("  FAIL %-28s not produced by this run\n", short_name.c_str());
      continue;
    }
    const Tensor expected = store.get(name);
    const Comparison c = compare_tensors(found->second, expected);
    // Bits (integers) must match exactly; floats within the relative tolerance.
    const double limit = dtype_is_float(expected.dtype()) ? tolerance : 0.0;
    const double relative = c.max_ref > 0 ? c.max_abs / c.max_ref : c.max_abs;
    const bool within_noise = limit > 0 && c.max_abs <= 4.0 * noise_of(name);
    const bool ok = c.shape_ok && (relative <= limit || within_noise);
    worst = std::max(worst, c.shape_ok ? relative : INFINITY);
    if (!ok) ++failed;
    if (!ok || options.verbose)
      std::printf("  %s %-28s max_abs %.3e  rel %.3e%s%s%s\n", ok ? "ok  " : "FAIL", short_name.c_str(), c.max_abs,
                  relative, within_noise && relative > limit ? "  (within 4x the reference's fp32 error)" : "",
                  c.note.empty() ? "" : "  ", c.note.c_str());
  }
  std::printf("%s: %d/%d tensors within relative tolerance %.0e (worst %.3e) on %s, %s blocks\n", path.c_str(),
              checked - failed, checked, tolerance, worst, options.backend.c_str(),
              std::string(dtype_name(options.block_dtype)).c_str());
  return failed == 0 && checked > 0;
}

}  // namespace

int run_golden(const Args& args) {
  GoldenOptions options;
  std::vector<std::string> files;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--backend" && i + 1 < args.size()) {
      options.backend = args[++i];
    } else if (arg == "--dtype" && i + 1 < args.size()) {
      const auto dtype = dtype_from_name(args[++i]);
      if (!dtype || !dtype_is_float(*dtype)) throw UsageError("--dtype must be f32, bf16 or f16");
      options.block_dtype = *dtype;
    } else if (arg == "--tolerance" && i + 1 < args.size()) {
      options.tolerance = std::atof(args[++i].c_str());
      if (!(options.tolerance > 0)) throw UsageError("--tolerance must be a positive number");
    } else if (arg == "-v" || arg == "--verbose") {
      options.verbose = true;
    } else if (!arg.empty() && arg[0] == '-') {
      throw UsageError("unknown option '" + arg + "'");
    } else {
      files.push_back(arg);
    }
  }
  if (files.empty())
    throw UsageError("usage: infinode golden FILE... [--backend cpu|cuda] [--dtype f32|bf16] [--tolerance R] [-v]");
  bool all_ok = true;
  for (const auto& file : files) all_ok = run_file(file, options) && all_ok;
  return all_ok ? 0 : 1;
}

}  // namespace inf::cli
