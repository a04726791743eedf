#include "tokens/bit_tokens.h"

#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "weights/safetensors.h"
#include "weights/weight_store.h"

namespace inf {
namespace {

constexpr const char* kFormat = "infinode.bit_tokens";
constexpr const char* kVersion = "1";
constexpr int kMaxScales = 64;

std::string grids_json(const std::vector<ScaleGrid>& grids) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& grid : grids) list.push_back({grid.h, grid.w});
  return list.dump();
}

std::vector<ScaleGrid> parse_grids(const std::string& path, const std::string& text, const char* key) {
  const auto parsed = nlohmann::json::parse(text, nullptr, false);
  INF_CHECK(!parsed.is_discarded() && parsed.is_array() && !parsed.empty() && parsed.size() <= kMaxScales,
            ErrorKind::invalid_data, path, ": metadata \"", key, "\" is not a list of [h, w] pairs");
  std::vector<ScaleGrid> grids;
  for (const auto& pair : parsed) {
    INF_CHECK(pair.is_array() && pair.size() == 2 && pair[0].is_number_integer() && pair[1].is_number_integer(),
              ErrorKind::invalid_data, path, ": metadata \"", key, "\" has an entry that is not [h, w]");
    const auto h = pair[0].get<int64_t>(), w = pair[1].get<int64_t>();
    INF_CHECK(h > 0 && w > 0 && h <= 4096 && w <= 4096, ErrorKind::invalid_data, path, ": metadata \"", key,
              "\" has an absurd grid ", h, "x", w);
    grids.push_back({static_cast<int>(h), static_cast<int>(w)});
  }
  return grids;
}

int parse_int(const std::string& path, const std::map<std::string, std::string>& metadata, const char* key, int lo,
              int hi) {
  const auto found = metadata.find(key);
  INF_CHECK(found != metadata.end(), ErrorKind::invalid_data, path, ": no \"", key, "\" metadata");
  char* end = nullptr;
  const long value = std::strtol(found->second.c_str(), &end, 10);
  INF_CHECK(!found->second.empty() && *end == '\0' && value >= lo && value <= hi, ErrorKind::invalid_data, path,
            ": metadata \"", key, "\" = '", found->second, "' is not an integer in [", lo, ", ", hi, "]");
  return static_cast<int>(value);
}

}  // namespace

void BitTokens::validate(const std::string& what) const {
  INF_CHECK(!bits.empty(), ErrorKind::invalid_data, what, ": no scales of bits");
  INF_CHECK(static_cast<int>(bits.size()) <= schedule.num_scales(), ErrorKind::invalid_data, what, ": ", bits.size(),
            " scales of bits for a ", schedule.num_scales(), "-scale schedule");
  INF_CHECK(spatial_patch >= 1 && spatial_patch <= 4, ErrorKind::invalid_data, what, ": spatial patch ", spatial_patch);
  const int64_t images_count = bits[0].ndim() == 3 ? bits[0].dim(0) : 0, depth = bits[0].ndim() == 3 ? bits[0].dim(2) : 0;
  INF_CHECK(images_count > 0 && depth > 0 && depth % (spatial_patch * spatial_patch) == 0, ErrorKind::invalid_data, what,
            ": scale 0 bits ", bits[0].describe(), " are not [images, tokens, bits] with bits divisible by ",
            spatial_patch * spatial_patch);
  for (size_t k = 0; k < bits.size(); ++k) {
    const Shape expected{images_count, schedule.tokens(static_cast<int>(k)), depth};
    INF_CHECK(bits[k].dtype() == DType::u8 && bits[k].shape() == expected && bits[k].device().is_cpu(),
              ErrorKind::invalid_data, what, ": scale ", k, " bits are ", bits[k].describe(), ", expected u8",
              shape_string(expected), " for grid ", schedule.grids[k].h, "x", schedule.grids[k].w);
    INF_CHECK(bits[k].is_contiguous(), ErrorKind::invalid_data, what, ": scale ", k, " bits are not contiguous");
    const uint8_t* values = bits[k].data_as<uint8_t>();
    for (int64_t i = 0; i < bits[k].numel(); ++i)
      INF_CHECK(values[i] <= 1, ErrorKind::invalid_data, what, ": scale ", k, " holds the value ",
                static_cast<int>(values[i]), "; bits must be 0 or 1");
  }
}

void write_bit_tokens(const std::string& path, const BitTokens& tokens) {
  tokens.validate(path);
  std::map<std::string, std::string> metadata = tokens.extra;
  metadata["format"] = kFormat;
  metadata["version"] = kVersion;
  metadata["schedule"] = grids_json(tokens.schedule.grids);
  metadata["rope_grid"] = grids_json({tokens.schedule.rope_grid}).substr(1);
  metadata["rope_grid"].pop_back();  // "[h, w]" rather than "[[h, w]]"
  metadata["bits_per_token"] = std::to_string(tokens.bits_per_token());
  metadata["spatial_patch"] = std::to_string(tokens.spatial_patch);
  metadata["tokenizer"] = tokens.tokenizer;
  std::vector<TensorToWrite> tensors;
  for (size_t k = 0; k < tokens.bits.size(); ++k)
    tensors.push_back({"bits.s" + std::to_string(k), tokens.bits[k], DType::u8});
  write_safetensors(path, tensors, metadata);
}

BitTokens read_bit_tokens(const std::string& path) {
  const WeightStore store = WeightStore::open(path);
  const auto& metadata = store.metadata();
  const auto format = metadata.find("format");
  INF_CHECK(format != metadata.end() && format->second == kFormat, ErrorKind::invalid_data, path,
            ": not an infinode bit-token file (metadata \"format\" is not \"", kFormat, "\")");
  const auto version = metadata.find("version");
  INF_CHECK(version != metadata.end() && version->second == kVersion, ErrorKind::unsupported, path,
            ": bit-token format version '", version == metadata.end() ? "" : version->second,
            "' is not supported (this build reads version ", kVersion, ")");
  const auto schedule = metadata.find("schedule");
  const auto rope = metadata.find("rope_grid");
  INF_CHECK(schedule != metadata.end() && rope != metadata.end(), ErrorKind::invalid_data, path,
            ": no \"schedule\" or \"rope_grid\" metadata");
  const auto rope_grid = parse_grids(path, "[" + rope->second + "]", "rope_grid");
  BitTokens tokens;
  try {
    tokens.schedule = schedule_from_grids(parse_grids(path, schedule->second, "schedule"), rope_grid.at(0));
  } catch (const Error& error) {
    throw Error(ErrorKind::invalid_data, path + ": " + error.what());
  }
  tokens.spatial_patch = parse_int(path, metadata, "spatial_patch", 1, 4);
  const int depth = parse_int(path, metadata, "bits_per_token", 1, 1024);
  const auto tokenizer = metadata.find("tokenizer");
  tokens.tokenizer = tokenizer == metadata.end() ? "" : tokenizer->second;
  for (const auto& [key, value] : metadata)
    if (key != "format" && key != "version" && key != "schedule" && key != "rope_grid" && key != "spatial_patch" &&
        key != "bits_per_token" && key != "tokenizer")
      tokens.extra[key] = value;
  for (int k = 0; store.contains("bits.s" + std::to_string(k)); ++k) {
    INF_CHECK(k < tokens.schedule.num_scales(), ErrorKind::invalid_data, path, ": more scales of bits than the schedule has");
    const Tensor view = store.get("bits.s" + std::to_string(k));
    INF_CHECK(view.dtype() == DType::u8, ErrorKind::invalid_data, path, ": bits.s", k, " is ", view.describe(),
              ", expected u8");
    Tensor copy = Tensor::host(DType::u8, view.shape());  // own the bytes: the file may be replaced later
    if (copy.nbytes() > 0) std::memcpy(copy.data(), view.data(), copy.nbytes());
    tokens.bits.push_back(std::move(copy));
  }
  INF_CHECK(!tokens.bits.empty(), ErrorKind::invalid_data, path, ": no \"bits.s0\" tensor");
  INF_CHECK(tokens.bits_per_token() == depth, ErrorKind::invalid_data, path, ": metadata says ", depth,
            " bits per token but the tensors hold ", tokens.bits_per_token());
  tokens.validate(path);
  return tokens;
}

ScaleSchedule vae_schedule(const ScaleSchedule& token_schedule, int spatial_patch) {
  if (spatial_patch == 1) return token_schedule;
  // The VAE grids carry no RoPE meaning (and may exceed RoPE's 128 limit), so no template check.
  ScaleSchedule scaled = token_schedule;
  for (auto& grid : scaled.grids) grid = {grid.h * spatial_patch, grid.w * spatial_patch};
  scaled.rope_grid = scaled.grids.back();
  scaled.resolution = "custom";
  return scaled;
}

Tensor patchify_bits(const Tensor& vae_bits, int h, int w, int patch) {
  INF_CHECK(patch >= 1 && vae_bits.dtype() == DType::u8 && vae_bits.ndim() == 3 && vae_bits.is_contiguous() &&
                vae_bits.dim(1) == static_cast<int64_t>(h) * w * patch * patch,
            ErrorKind::invalid_argument, "patchify_bits: ", vae_bits.describe(), " is not a ", h * patch, "x",
            w * patch, " grid of bits");
  if (patch == 1) return vae_bits;
  const int64_t batch = vae_bits.dim(0), depth = vae_bits.dim(2), token_bits = depth * patch * patch;
  const int64_t vae_w = static_cast<int64_t>(w) * patch;
  Tensor out = Tensor::host(DType::u8, {batch, static_cast<int64_t>(h) * w, token_bits});  // [B, h*w, p*p*dv]
  const uint8_t* in = vae_bits.data_as<uint8_t>();
  uint8_t* result = out.data_as<uint8_t>();
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        for (int64_t c = 0; c < depth; ++c)
          for (int64_t i = 0; i < patch; ++i)
            for (int64_t j = 0; j < patch; ++j) {
              const int64_t pixel = (patch * y + i) * vae_w + patch * x + j;
              result[((b * h + y) * w + x) * token_bits + (c * patch + i) * patch + j] =
                  in[(b * vae_bits.dim(1) + pixel) * depth + c];
            }
  return out;
}

}  // namespace inf
