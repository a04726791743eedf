// org.infinode.tokens.truncate: keeps the coarse scales of bit tokens. The schedule stays whole,
// so a sampler can regenerate the dropped fine scales with a new prompt (image editing).
#include <string>

#include "builtin_nodes.h"
#include "provider_support.h"

namespace inf::nodes {
namespace {

constexpr uint32_t kPortSize = static_cast<uint32_t>(sizeof(inf_port_desc));
constexpr uint32_t kParamSize = static_cast<uint32_t>(sizeof(inf_param_desc));

const inf_port_desc kTokensIn = {kPortSize, INF_TYPE_BIT_TOKENS, "tokens", "Bit tokens",
                                 "Bit tokens of one or more images (from image.encode or a sampler).", 0};
const inf_port_desc kTokensOut = {kPortSize, INF_TYPE_BIT_TOKENS, "tokens", "Truncated bit tokens",
                                  "The first keep_scales scales, with the full schedule.", 0};
const inf_param_desc kKeepScales = {
    kParamSize, INF_PARAM_INT, "keep_scales", "Keep scales",
    "How many coarse scales to keep. Tokens that hold fewer scales are passed on whole.",
    0, 0, nullptr, 1, 64, 4, 0.0, 0.0, 0.0, nullptr};
enum ParamIndex : uint32_t { kKeepScalesIndex = 0 };

const inf_port_desc* const kInputs[] = {&kTokensIn};
const inf_port_desc* const kOutputs[] = {&kTokensOut};
const inf_param_desc* const kParams[] = {&kKeepScales};

const inf_node_desc kDescriptor = {
    static_cast<uint32_t>(sizeof(inf_node_desc)), 1, 0, 0, "org.infinode.tokens.truncate", "Truncate bit tokens",
    "infinode/tokens",
    "Keeps the first keep_scales scales of bit tokens and drops the finer ones. Feed the result to "
    "sampler.edit to regenerate the fine detail with a new prompt while the composition stays.",
    1, 1, 1, kInputs, kOutputs, kParams};

const inf_node_desc* describe(void*) { return &kDescriptor; }

inf_status run(void*, const inf_run_args* args) {
  return run_guarded(args, [args] {
    const inf_api& api = *args->api;
    inf_bit_tokens_desc tokens = INF_BIT_TOKENS_DESC_INIT;
    check_call(api, api.value_get_bit_tokens(args->inputs[0], &tokens), "reading the input bit tokens");
    const int64_t keep = param_at(args, kKeepScalesIndex, INF_PARAM_INT).int_value;
    if (keep >= static_cast<int64_t>(tokens.stored_scales)) {
      const std::string note = "keep_scales " + std::to_string(keep) + " >= the " +
                               std::to_string(tokens.stored_scales) + " scales the tokens hold: all are kept";
      api.run_log(args->context, INF_LOG_INFO, note.c_str());
    } else {
      tokens.stored_scales = static_cast<uint32_t>(keep);
    }
    // The descriptor still points at the input's bits; creating a value copies the kept prefix.
    inf_value* truncated = nullptr;
    check_call(api, api.value_create_bit_tokens(&tokens, &truncated), "creating the truncated bit tokens");
    args->outputs[0] = truncated;
  });
}

}  // namespace

inf_status register_tokens_truncate(const inf_api* api, inf_engine* engine, const std::shared_ptr<SharedModels>&) {
  inf_node_provider provider{};
  provider.struct_size = static_cast<uint32_t>(sizeof(inf_node_provider));
  provider.abi_version = INF_ABI_VERSION;
  provider.describe = describe;
  provider.create_instance = create_stateless_instance;
  provider.run = run;
  provider.destroy_instance = destroy_stateless_instance;
  return api->engine_register_provider(engine, &provider);
}

}  // namespace inf::nodes
