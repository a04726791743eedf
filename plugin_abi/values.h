// The data behind inf_value handles. Values are immutable once made, which is what lets one
// value feed several jobs on several threads without locks, and lets a job keep its inputs by
// reference instead of copying them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "handles.h"
#include "tokens/bit_tokens.h"

namespace inf::abi {

class ValueObject : public HandleObject {
 public:
  explicit ValueObject(inf_value_type type) : type_(type) {}
  inf_value_type type() const { return type_; }

 private:
  const inf_value_type type_;
};

struct TextValue : ValueObject {
  explicit TextValue(std::string utf8) : ValueObject(INF_TYPE_TEXT), text(std::move(utf8)) {}
  const std::string text;
};

struct TokenIdsValue : ValueObject {
  explicit TokenIdsValue(std::vector<int32_t> values) : ValueObject(INF_TYPE_TOKEN_IDS), ids(std::move(values)) {}
  const std::vector<int32_t> ids;
};

struct EmbeddingValue : ValueObject {
  EmbeddingValue(uint32_t token_count, uint32_t channel_count, std::vector<float> values, std::vector<uint32_t> lengths)
      : ValueObject(INF_TYPE_TEXT_EMBEDDING),
        tokens(token_count),
        channels(channel_count),
        data(std::move(values)),
        prompt_tokens(std::move(lengths)) {}
  const uint32_t tokens, channels;
  const std::vector<float> data;             // [tokens, channels], prompts concatenated
  const std::vector<uint32_t> prompt_tokens;  // one length per prompt (>= 1 entry), summing to tokens
};

// Bit tokens plus the C views value_get_bit_tokens hands out (built once, so the pointers stay put).
struct BitTokensValue : ValueObject {
  explicit BitTokensValue(BitTokens value);
  const BitTokens tokens;
  std::vector<inf_grid> grids;
  std::vector<const uint8_t*> scales;
};

// IMAGE and MASK: f32 interleaved, straight alpha, in the transfer it arrived in (masks: 1
// channel, linear). Converting only on the way out keeps a round trip exact.
struct ImageValue : ValueObject {
  ImageValue(inf_value_type type, uint32_t w, uint32_t h, uint32_t c, inf_transfer t, std::vector<float> values)
      : ValueObject(type), width(w), height(h), channels(c), transfer(t), pixels(std::move(values)) {}
  const uint32_t width, height, channels;
  const inf_transfer transfer;
  const std::vector<float> pixels;  // [height, width, channels]
};

const char* value_type_name(inf_value_type type);

// A live value handle's object, of `expected` type unless that is INF_TYPE_NONE. Throws
// ApiError: INVALID_ARGUMENT (NULL), INVALID_HANDLE, TYPE_MISMATCH.
std::shared_ptr<const ValueObject> resolve_value(const inf_value* value, inf_value_type expected, const char* what);

template <typename T>
std::shared_ptr<const T> resolve_value_as(const inf_value* value, inf_value_type expected, const char* what) {
  return std::static_pointer_cast<const T>(resolve_value(value, expected, what));
}

// A new handle (one reference) for a value object.
inf_value* mint_value(std::shared_ptr<const ValueObject> value);

}  // namespace inf::abi
