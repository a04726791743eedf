#include "values.h"

#include <cmath>
#include <cstring>

#include "api_functions.h"
#include "guard.h"
#include "node_registry.h"
#include "tensor/tensor.h"

namespace inf::abi {
namespace {

constexpr uint32_t kMaxEmbeddingSide = 1u << 16;
constexpr int64_t kMaxEmbeddingFloats = int64_t{1} << 28;
constexpr uint32_t kMaxScales = 64;
constexpr uint32_t kMaxGridSide = 4096;
constexpr uint32_t kMaxImagesPerValue = 1024;
constexpr uint32_t kMaxBitsPerToken = 1024;
constexpr int64_t kMaxBitBytes = int64_t{1} << 32;  // all scales together

ScaleSchedule checked_schedule(const inf_bit_tokens_desc& desc) {
  if (desc.schedule_scales == 0 || desc.schedule_scales > kMaxScales)
    api_fail(INF_STATUS_INVALID_ARGUMENT, "bit tokens: schedule_scales is ", desc.schedule_scales, ", expected 1..", kMaxScales);
  if (desc.grids == nullptr) api_fail(INF_STATUS_INVALID_ARGUMENT, "bit tokens: grids is NULL");
  std::vector<ScaleGrid> grids;
  for (uint32_t k = 0; k < desc.schedule_scales; ++k) {
    const inf_grid grid = desc.grids[k];
    if (grid.height == 0 || grid.width == 0 || grid.height > kMaxGridSide || grid.width > kMaxGridSide)
      api_fail(INF_STATUS_INVALID_ARGUMENT, "bit tokens: scale ", k, " grid ", grid.height, "x", grid.width,
               " is outside 1..", kMaxGridSide);
    grids.push_back({static_cast<int>(grid.height), static_cast<int>(grid.width)});
  }
  if (desc.rope_grid.height > kMaxGridSide || desc.rope_grid.width > kMaxGridSide)
    api_fail(INF_STATUS_INVALID_ARGUMENT, "bit tokens: rope_grid ", desc.rope_grid.height, "x", desc.rope_grid.width,
             " is too large");
  const ScaleGrid rope{static_cast<int>(desc.rope_grid.height), static_cast<int>(desc.rope_grid.width)};
  try {
    return schedule_from_grids(std::move(grids), rope);
  } catch (const Error& error) {
    api_fail(INF_STATUS_INVALID_ARGUMENT, "bit tokens: ", error.what());
  }
}

BitTokens bit_tokens_from_desc(const inf_bit_tokens_desc& desc) {
  BitTokens tokens;
  tokens.schedule = checked_schedule(desc);
  if (desc.images == 0 || desc.images > kMaxImagesPerValue)
    api_fail(INF_STATUS_INVALID_ARGUMENT, "bit tokens: images is ", desc.images, ", expected 1..", kMaxImagesPerValue);
  if (desc.bits_per_token == 0 || desc.bits_per_token > kMaxBitsPerToken)
    api_fail(INF_STATUS_INVALID_ARGUMENT, "bit tokens: bits_per_token is ", desc.bits_per_token, ", expected 1..", kMaxBitsPerToken);
  if (desc.spatial_patch == 0 || desc.spatial_patch > 4)
    api_fail(INF_STATUS_INVALID_ARGUMENT, "bit tokens: spatial_patch is ", desc.spatial_patch, ", expected 1..4");
  if (desc.stored_scales == 0 || desc.stored_scales > desc.schedule_scales)
    api_fail(INF_STATUS_INVALID_ARGUMENT, "bit tokens: stored_scales is ", desc.stored_scales, ", expected 1..",
             desc.schedule_scales);
  if (desc.bits == nullptr) api_fail(INF_STATUS_INVALID_ARGUMENT, "bit tokens: bits is NULL");
  tokens.spatial_patch = static_cast<int>(desc.spatial_patch);
  tokens.tokenizer = desc.tokenizer == nullptr ? "" : std::string(desc.tokenizer, strnlen(desc.tokenizer, 4096));
  int64_t total_bytes = 0;
  for (uint32_t k = 0; k < desc.stored_scales; ++k) {
    if (desc.bits[k] == nullptr) api_fail(INF_STATUS_INVALID_ARGUMENT, "bit tokens: bits[", k, "] is NULL");
    const Shape shape{desc.images, tokens.schedule.tokens(static_cast<int>(k)), desc.bits_per_token};  // [B, h*w, d]
    total_bytes += shape_numel(shape);
    if (total_bytes > kMaxBitBytes) api_fail(INF_STATUS_INVALID_ARGUMENT, "bit tokens: more than ", kMaxBitBytes, " bytes of bits");
    Tensor scale = Tensor::host(DType::u8, shape);
    std::memcpy(scale.data(), desc.bits[k], scale.nbytes());
    tokens.bits.push_back(std::move(scale));
  }
  try {
    tokens.validate("bit tokens");
  } catch (const Error& error) {
    api_fail(INF_STATUS_INVALID_ARGUMENT, error.what());
  }
  return tokens;
}

template <typename Body>
inf_status create_value(inf_value** out_value, Body&& make) noexcept {
  return guarded(nullptr, [&] {
    require_out(out_value, "out_value");
    *out_value = nullptr;
    std::shared_ptr<const ValueObject> value = make();
    *out_value = mint_value(std::move(value));
    return INF_STATUS_OK;
  });
}

}  // namespace

BitTokensValue::BitTokensValue(BitTokens value) : ValueObject(INF_TYPE_BIT_TOKENS), tokens(std::move(value)) {
  for (const ScaleGrid& grid : tokens.schedule.grids)
    grids.push_back({static_cast<uint32_t>(grid.h), static_cast<uint32_t>(grid.w)});
  for (const Tensor& scale : tokens.bits) scales.push_back(scale.data_as<uint8_t>());
}

const char* value_type_name(inf_value_type type) {
  switch (type) {
    case INF_TYPE_NONE: return "NONE";
    case INF_TYPE_TEXT: return "TEXT";
    case INF_TYPE_TOKEN_IDS: return "TOKEN_IDS";
    case INF_TYPE_TEXT_EMBEDDING: return "TEXT_EMBEDDING";
    case INF_TYPE_BIT_TOKENS: return "BIT_TOKENS";
    case INF_TYPE_IMAGE: return "IMAGE";
    case INF_TYPE_MASK: return "MASK";
    case INF_TYPE_FORCE32: break;
  }
  return "UNKNOWN";
}

std::shared_ptr<const ValueObject> resolve_value(const inf_value* value, inf_value_type expected, const char* what) {
  auto object = resolve<const ValueObject>(value, HandleKind::value, what);
  if (expected != INF_TYPE_NONE && object->type() != expected)
    api_fail(INF_STATUS_TYPE_MISMATCH, what, " holds ", value_type_name(object->type()), ", not ", value_type_name(expected));
  return object;
}

inf_value* mint_value(std::shared_ptr<const ValueObject> value) {
  return as_handle<inf_value>(mint_handle(HandleKind::value, std::const_pointer_cast<ValueObject>(std::move(value))));
}

inf_status value_retain(inf_value* value) noexcept {
  return guarded(value, [&] {
    retain_handle(handle_id(value), HandleKind::value, "value");
    return INF_STATUS_OK;
  });
}

inf_status value_release(inf_value* value) noexcept {
  return guarded(value, [&] {
    release_handle(handle_id(value), HandleKind::value, "value");
    return INF_STATUS_OK;
  });
}

const char* value_last_error(inf_value* value) noexcept {
  try {
    return handle_error_message(handle_id(value));
  } catch (...) {
    return "";
  }
}

inf_status value_type(inf_value* value, inf_value_type* out_type) noexcept {
  return guarded(value, [&] {
    const auto object = resolve_value(value, INF_TYPE_NONE, "value");
    require_out(out_type, "out_type");
    *out_type = object->type();
    return INF_STATUS_OK;
  });
}

inf_status value_create_text(const char* utf8, size_t length, inf_value** out_value) noexcept {
  return create_value(out_value, [&] {
    if (utf8 == nullptr) api_fail(INF_STATUS_INVALID_ARGUMENT, "utf8 is NULL");
    if (length == INF_TEXT_NUL_TERMINATED) length = strnlen(utf8, INF_TEXT_MAX_BYTES + 1);
    if (length > INF_TEXT_MAX_BYTES)
      api_fail(INF_STATUS_INVALID_ARGUMENT, "text of ", length, " bytes is longer than the ", INF_TEXT_MAX_BYTES, " allowed");
    const std::string_view text(utf8, length);
    if (text.find('\0') != std::string_view::npos)
      api_fail(INF_STATUS_INVALID_ARGUMENT, "text holds a NUL byte at offset ", text.find('\0'));
    const size_t bad = invalid_utf8_offset(text);
    if (bad != std::string_view::npos) api_fail(INF_STATUS_INVALID_ARGUMENT, "text is not valid UTF-8 at byte ", bad);
    return std::make_shared<const TextValue>(std::string(text));
  });
}

inf_status value_get_text(inf_value* value, const char** out_utf8, size_t* out_length) noexcept {
  return guarded(value, [&] {
    const auto text = resolve_value_as<TextValue>(value, INF_TYPE_TEXT, "value");
    require_out(out_utf8, "out_utf8");
    *out_utf8 = text->text.c_str();  // the object lives at least as long as this handle
    if (out_length != nullptr) *out_length = text->text.size();
    return INF_STATUS_OK;
  });
}

inf_status value_create_token_ids(const int32_t* ids, size_t count, inf_value** out_value) noexcept {
  return create_value(out_value, [&] {
    if (ids == nullptr) api_fail(INF_STATUS_INVALID_ARGUMENT, "ids is NULL");
    if (count == 0 || count > INF_TOKEN_IDS_MAX)
      api_fail(INF_STATUS_INVALID_ARGUMENT, "count is ", count, ", expected 1..", INF_TOKEN_IDS_MAX);
    for (size_t k = 0; k < count; ++k)
      if (ids[k] < 0) api_fail(INF_STATUS_INVALID_ARGUMENT, "token id ", k, " is negative (", ids[k], ")");
    return std::make_shared<const TokenIdsValue>(std::vector<int32_t>(ids, ids + count));
  });
}

inf_status value_get_token_ids(inf_value* value, const int32_t** out_ids, size_t* out_count) noexcept {
  return guarded(value, [&] {
    const auto tokens = resolve_value_as<TokenIdsValue>(value, INF_TYPE_TOKEN_IDS, "value");
    require_out(out_ids, "out_ids");
    require_out(out_count, "out_count");
    *out_ids = tokens->ids.data();
    *out_count = tokens->ids.size();
    return INF_STATUS_OK;
  });
}

inf_status value_create_text_embedding(const inf_text_embedding_desc* desc, inf_value** out_value) noexcept {
  return create_value(out_value, [&] {
    const inf_text_embedding_desc embedding = read_struct(desc, "desc");
    if (embedding.tokens == 0 || embedding.channels == 0 || embedding.tokens > kMaxEmbeddingSide ||
        embedding.channels > kMaxEmbeddingSide)
      api_fail(INF_STATUS_INVALID_ARGUMENT, "embedding of ", embedding.tokens, "x", embedding.channels,
               " is outside 1..", kMaxEmbeddingSide, " per side");
    const int64_t count = int64_t{embedding.tokens} * embedding.channels;
    if (count > kMaxEmbeddingFloats) api_fail(INF_STATUS_INVALID_ARGUMENT, "embedding has more than ", kMaxEmbeddingFloats, " floats");
    if (embedding.data == nullptr) api_fail(INF_STATUS_INVALID_ARGUMENT, "desc->data is NULL");
    std::vector<uint32_t> lengths{embedding.tokens};
    if (embedding.prompts > 1) {
      if (embedding.prompts > embedding.tokens)
        api_fail(INF_STATUS_INVALID_ARGUMENT, "desc->prompts ", embedding.prompts, " exceeds the ", embedding.tokens,
                 " tokens (every prompt has at least one)");
      if (embedding.prompt_tokens == nullptr)
        api_fail(INF_STATUS_INVALID_ARGUMENT, "desc->prompt_tokens is NULL for ", embedding.prompts, " prompts");
      lengths.assign(embedding.prompt_tokens, embedding.prompt_tokens + embedding.prompts);
      uint64_t sum = 0;
      for (size_t p = 0; p < lengths.size(); ++p) {
        if (lengths[p] == 0) api_fail(INF_STATUS_INVALID_ARGUMENT, "desc->prompt_tokens[", p, "] is 0");
        sum += lengths[p];
      }
      if (sum != embedding.tokens)
        api_fail(INF_STATUS_INVALID_ARGUMENT, "desc->prompt_tokens sum to ", sum, ", not desc->tokens = ", embedding.tokens);
    }
    std::vector<float> data(embedding.data, embedding.data + count);
    for (int64_t k = 0; k < count; ++k)
      if (!std::isfinite(data[static_cast<size_t>(k)]))
        api_fail(INF_STATUS_INVALID_ARGUMENT, "embedding value [", k / embedding.channels, ", ", k % embedding.channels,
                 "] is not finite");
    return std::make_shared<const EmbeddingValue>(embedding.tokens, embedding.channels, std::move(data),
                                                  std::move(lengths));
  });
}

inf_status value_get_text_embedding(inf_value* value, inf_text_embedding_desc* out_desc) noexcept {
  return guarded(value, [&] {
    const auto embedding = resolve_value_as<EmbeddingValue>(value, INF_TYPE_TEXT_EMBEDDING, "value");
    const uint32_t size = check_out_struct(out_desc, "out_desc");
    inf_text_embedding_desc filled = INF_TEXT_EMBEDDING_DESC_INIT;
    filled.tokens = embedding->tokens;
    filled.channels = embedding->channels;
    filled.data = embedding->data.data();
    filled.prompts = static_cast<uint32_t>(embedding->prompt_tokens.size());
    filled.prompt_tokens = embedding->prompt_tokens.data();
    write_struct(out_desc, size, filled);
    return INF_STATUS_OK;
  });
}

inf_status value_create_bit_tokens(const inf_bit_tokens_desc* desc, inf_value** out_value) noexcept {
  return create_value(out_value, [&] {
    return std::make_shared<const BitTokensValue>(bit_tokens_from_desc(read_struct(desc, "desc")));
  });
}

inf_status value_get_bit_tokens(inf_value* value, inf_bit_tokens_desc* out_desc) noexcept {
  return guarded(value, [&] {
    const auto bits = resolve_value_as<BitTokensValue>(value, INF_TYPE_BIT_TOKENS, "value");
    const uint32_t size = check_out_struct(out_desc, "out_desc");
    const BitTokens& tokens = bits->tokens;
    inf_bit_tokens_desc filled = INF_BIT_TOKENS_DESC_INIT;
    filled.images = static_cast<uint32_t>(tokens.images());
    filled.bits_per_token = static_cast<uint32_t>(tokens.bits_per_token());
    filled.spatial_patch = static_cast<uint32_t>(tokens.spatial_patch);
    filled.schedule_scales = static_cast<uint32_t>(bits->grids.size());
    filled.stored_scales = static_cast<uint32_t>(bits->scales.size());
    filled.grids = bits->grids.data();
    filled.rope_grid = {static_cast<uint32_t>(tokens.schedule.rope_grid.h), static_cast<uint32_t>(tokens.schedule.rope_grid.w)};
    filled.bits = bits->scales.data();
    filled.tokenizer = tokens.tokenizer.c_str();
    write_struct(out_desc, size, filled);
    return INF_STATUS_OK;
  });
}

inf_status value_load_bit_tokens(const char* path, inf_value** out_value) noexcept {
  return create_value(out_value, [&] {
    return std::make_shared<const BitTokensValue>(read_bit_tokens(required_string(path, "path")));
  });
}

inf_status value_save_bit_tokens(inf_value* value, const char* path) noexcept {
  return guarded(value, [&] {
    const auto bits = resolve_value_as<BitTokensValue>(value, INF_TYPE_BIT_TOKENS, "value");
    write_bit_tokens(required_string(path, "path"), bits->tokens);
    return INF_STATUS_OK;
  });
}

}  // namespace inf::abi
