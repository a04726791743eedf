#include "sampler_params.h"

#include <optional>

#include "provider_support.h"

namespace inf::nodes {
namespace {

constexpr uint32_t kParamSize = static_cast<uint32_t>(sizeof(inf_param_desc));
constexpr int64_t kMaxSeed = int64_t{1} << 53;  // every seed a double (JSON, Python floats) holds exactly

// The released models' sampling settings (the reference's defaults for Infinity-2B).
constexpr double kFallbackCfg = 3.0, kFallbackTau = 0.5, kFallbackTopP = 0.97;

double resolved(double value, const std::optional<double>& model_default, double fallback) {
  if (value >= 0) return value;
  return model_default ? *model_default : fallback;
}

}  // namespace

const inf_param_desc kSeedParam = {
    kParamSize, INF_PARAM_INT, "seed", "Seed",
    "Same seed, same bits: image i of a run draws its random numbers from (seed, i) alone.",
    0, 0, nullptr, 0, kMaxSeed, 0, 0.0, 0.0, 0.0, nullptr};
const inf_param_desc kCfgParam = {
    kParamSize, INF_PARAM_FLOAT, "cfg", "CFG scale",
    "Classifier-free guidance on the logits. -1: the model's default (3).",
    0, 0, nullptr, 0, 0, 0, -1.0, 50.0, -1.0, nullptr};
const inf_param_desc kTauParam = {
    kParamSize, INF_PARAM_FLOAT, "tau", "Temperature",
    "Logit temperature (> 0); lower is more deterministic. -1: the model's default (0.5).",
    0, 0, nullptr, 0, 0, 0, -1.0, 10.0, -1.0, nullptr};
const inf_param_desc kTopKParam = {
    kParamSize, INF_PARAM_INT, "top_k", "Top-k",
    "Top-k over a bit's two classes: 1 = greedy bits; 0 or >= 2 = off. -1: the model's default (off).",
    INF_PARAM_FLAG_ADVANCED, 0, nullptr, -1, 900, -1, 0.0, 0.0, 0.0, nullptr};
const inf_param_desc kTopPParam = {
    kParamSize, INF_PARAM_FLOAT, "top_p", "Top-p",
    "Nucleus filter per bit: a bit whose less likely value has probability <= 1 - top_p is decided. "
    "-1: the model's default (0.97); 0 = off.",
    INF_PARAM_FLAG_ADVANCED, 0, nullptr, 0, 0, 0, -1.0, 1.0, -1.0, nullptr};

void apply_sampling_params(const inf_run_args* args, const SamplingParamIndices& at, const ModelDefaults& defaults,
                           GenerateRequest& request) {
  const double cfg = resolved(param_at(args, at.cfg, INF_PARAM_FLOAT).float_value, defaults.cfg, kFallbackCfg);
  const double tau = resolved(param_at(args, at.tau, INF_PARAM_FLOAT).float_value, defaults.tau, kFallbackTau);
  const double top_p = resolved(param_at(args, at.top_p, INF_PARAM_FLOAT).float_value, defaults.top_p, kFallbackTopP);
  if (!(tau > 0))
    node_fail(INF_STATUS_INVALID_ARGUMENT, "tau must be > 0 (or -1 for the model's default), not ", tau);
  request.cfg = {static_cast<float>(cfg)};
  request.tau = {static_cast<float>(tau)};
  request.sampling.top_p = static_cast<float>(top_p);
  const int64_t top_k = param_at(args, at.top_k, INF_PARAM_INT).int_value;
  request.sampling.top_k = static_cast<int>(top_k >= 0 ? top_k : defaults.top_k.value_or(0));
  request.sampling.seed = static_cast<uint64_t>(param_at(args, at.seed, INF_PARAM_INT).int_value);
}

}  // namespace inf::nodes
