// infinode embed: one prompt through the T5 encoder (spec section 3) into a safetensors file of
// its features, the text condition the Infinity transformer reads.
//
// The output holds "features" f32 [L, d_model] (unpadded: the reference keeps feat[:len] of
// its padded batch, which T5's padding mask makes equal) and "ids" i32 [L], with metadata:
// prompt, ids (JSON), truncated, original_length, the weights' source and the T5 config.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "commands.h"
#include "common/error.h"
#include "generation_flags.h"
#include "model/t5/t5_encoder.h"
#include "text/t5_tokenizer.h"
#include "weights/safetensors.h"
#include "weights/weight_store.h"

namespace inf::cli {
namespace {

constexpr const char* kUsage =
    "usage: infinode embed --t5 WEIGHTS (--spm SPIECE_MODEL TEXT | --ids \"0 5 1\") -o FEATURES.safetensors\n"
    "                      [--dtype f32|bf16] [--backend cpu|cuda] [--max-length N]\n"
    "  WEIGHTS: a T5 or T5-encoder checkpoint (HF names; decoder tensors are ignored), or a golden file";

struct EmbedOptions {
  std::string weights, spm, output, ids_text, backend = "cpu";
  std::optional<std::string> text;
  DType dtype = DType::f32;
  int max_length = T5Tokenizer::kDefaultMaxLength;
};

EmbedOptions parse(const Args& args) {
  EmbedOptions options;
  bool have_ids = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw UsageError(arg + " needs a value\n" + kUsage);
      return args[++i];
    };
    if (arg == "-h" || arg == "--help") {
      throw UsageError(kUsage);
    } else if (arg == "--t5") {
      options.weights = value();
    } else if (arg == "--spm") {
      options.spm = value();
    } else if (arg == "--ids") {
      options.ids_text = value();
      have_ids = true;
    } else if (arg == "-o" || arg == "--output") {
      options.output = value();
    } else if (arg == "--backend") {
      options.backend = value();
    } else if (arg == "--dtype") {
      const std::string& name = value();
      const auto dtype = dtype_from_name(name);
      if (!dtype || (*dtype != DType::f32 && *dtype != DType::bf16))
        throw UsageError("--dtype must be f32 or bf16 (T5 overflows f16), not '" + name + "'");
      options.dtype = *dtype;
    } else if (arg == "--max-length") {
      options.max_length = static_cast<int>(parse_int_flag(arg, value(), 1, 1000000));
    } else if (arg == "--") {  // the text follows, even if it starts with '-'
      if (i + 2 != args.size() || options.text) throw UsageError(std::string("one TEXT after --\n") + kUsage);
      options.text = args[++i];
    } else if (!arg.empty() && arg[0] == '-') {
      throw UsageError("unknown option '" + arg + "'\n" + kUsage);
    } else if (!options.text) {
      options.text = arg;
    } else {
      throw UsageError("unexpected argument '" + arg + "' (quote a prompt with spaces)\n" + kUsage);
    }
  }
  if (options.weights.empty()) throw UsageError(std::string("--t5 WEIGHTS is required\n") + kUsage);
  if (options.output.empty()) throw UsageError(std::string("-o FEATURES.safetensors is required\n") + kUsage);
  if (have_ids == (options.text.has_value() || !options.spm.empty()))
    throw UsageError(std::string("give either --spm MODEL and TEXT, or --ids\n") + kUsage);
  if (!have_ids && (options.spm.empty() || !options.text))
    throw UsageError(std::string("--spm MODEL and TEXT go together\n") + kUsage);
  return options;
}

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    char* end = nullptr;
    errno = 0;
    const long long id = std::strtoll(word.c_str(), &end, 10);
    if (*end != '\0' || errno != 0 || id < 0 || id > INT32_MAX)
      throw UsageError("--ids takes non-negative integers separated by spaces, not '" + word + "'");
    ids.push_back(static_cast<int32_t>(id));
  }
  if (ids.empty()) throw UsageError("--ids is empty (an empty prompt is \"1\", just EOS)");
  return ids;
}

// Checkpoints under their own names, or a golden file's "weight.<name>".
WeightStore open_t5_weights(const std::string& path) {
  WeightStore store = WeightStore::open(path);
  const bool plain = store.contains("shared.weight") || store.contains("encoder.embed_tokens.weight");
  if (!plain && (store.contains("weight.shared.weight") || store.contains("weight.encoder.embed_tokens.weight")))
    return store.select("weight");
  return store;
}

std::string json_escape(const std::string& text) {
  std::string out;
  for (const char ch : text) {
    const auto byte = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (byte < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", byte);
      out += escaped;
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace

int run_embed(const Args& args) {
  const EmbedOptions options = parse(args);
  TokenizedPrompt prompt;
  if (options.text) {
    prompt = T5Tokenizer::load(options.spm).encode(*options.text, options.max_length);
  } else {
    prompt.ids = parse_ids(options.ids_text);
    prompt.original_length = static_cast<int64_t>(prompt.ids.size());
  }

  auto backend = create_backend(options.backend);
  const auto start = std::chrono::steady_clock::now();
  const WeightStore weights = open_t5_weights(options.weights);
  const T5Encoder encoder(*backend, weights, options.dtype);
  const auto loaded = std::chrono::steady_clock::now();
  const Tensor features = encoder.encode(prompt.ids);  // [L, d_model]
  const auto encoded = std::chrono::steady_clock::now();

  const auto length = static_cast<int64_t>(prompt.ids.size());
  Tensor ids = Tensor::host(DType::i32, {length});  // [L]
  std::string ids_json = "[";
  for (int64_t t = 0; t < length; ++t) {
    ids.data_as<int32_t>()[t] = prompt.ids[static_cast<size_t>(t)];
    ids_json += (t ? "," : "") + std::to_string(prompt.ids[static_cast<size_t>(t)]);
  }
  ids_json += "]";
  std::map<std::string, std::string> metadata = {
      {"kind", "t5-features"},
      {"ids", ids_json},
      {"truncated", prompt.truncated ? "true" : "false"},
      {"original_length", std::to_string(prompt.original_length)},
      {"t5", weights.source()},
      {"t5_config", encoder.config().describe()},
      {"weight_dtype", std::string(dtype_name(options.dtype))},
  };
  if (options.text) metadata["prompt"] = "\"" + json_escape(*options.text) + "\"";  // JSON string
  write_safetensors(options.output, {{"features", features, DType::f32}, {"ids", ids, DType::i32}}, metadata);

  const auto seconds = [](auto from, auto to) { return std::chrono::duration<double>(to - from).count(); };
  std::printf("%s: features [%lld, %d] from %lld tokens%s (load %.2f s, encode %.3f s on %s, %s weights)\n",
              options.output.c_str(), static_cast<long long>(length), encoder.config().d_model,
              static_cast<long long>(length),
              prompt.truncated ? (" (truncated from " + std::to_string(prompt.original_length) + ")").c_str() : "",
              seconds(start, loaded), seconds(loaded, encoded), backend->name().c_str(),
              std::string(dtype_name(options.dtype)).c_str());
  return 0;
}

}  // namespace inf::cli
