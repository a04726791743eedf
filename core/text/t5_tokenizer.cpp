#include "text/t5_tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "common/log.h"

namespace inf {
namespace {

std::string hex_byte(unsigned char byte) {
  char text[8];
  std::snprintf(text, sizeof(text), "0x%02X", static_cast<unsigned>(byte));
  return text;
}

std::string code_point(uint32_t code) {
  char text[16];
  std::snprintf(text, sizeof(text), "U+%04X", static_cast<unsigned>(code));
  return text;
}

[[noreturn]] void fail_utf8(size_t offset, const std::string& what) {
  fail(ErrorKind::invalid_argument, "prompt is not valid UTF-8 at byte offset ", offset, ": ", what);
}

// SentencePiece does not check its input (it maps bad bytes to U+FFFD or reads past a truncated
// sequence), and a NUL would cut a prompt short wherever it is handled as a C string, so prompts
// are checked here first with the strict rules of RFC 3629: shortest form only, no surrogates,
// nothing above U+10FFFF.
void check_utf8(std::string_view text) {
  const size_t size = text.size();
  size_t i = 0;
  while (i < size) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead == 0) fail(ErrorKind::invalid_argument, "prompt contains a NUL byte at byte offset ", i);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    uint32_t code = 0;
    if (lead >= 0x80 && lead <= 0xBF) fail_utf8(i, "continuation byte " + hex_byte(lead) + " without a lead byte");
    if (lead == 0xC0 || lead == 0xC1) fail_utf8(i, "overlong encoding (lead byte " + hex_byte(lead) + ")");
    if (lead >= 0xF5) fail_utf8(i, "byte " + hex_byte(lead) + " never occurs in UTF-8");
    if (lead < 0xE0) {
      length = 2;
      code = lead & 0x1Fu;
    } else if (lead < 0xF0) {
      length = 3;
      code = lead & 0x0Fu;
    } else {
      length = 4;
      code = lead & 0x07u;
    }
    for (size_t k = 1; k < length; ++k) {
      if (i + k >= size) fail_utf8(i, "sequence cut short by the end of the text");
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0u) != 0x80u)
        fail_utf8(i, "sequence cut short (byte " + hex_byte(next) + " at offset " + std::to_string(i + k) +
                         " is not a continuation byte)");
      code = (code << 6) | (next & 0x3Fu);
    }
    static const uint32_t kSmallest[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[length]) fail_utf8(i, "overlong encoding of " + code_point(code));
    if (code >= 0xD800 && code <= 0xDFFF) fail_utf8(i, "UTF-16 surrogate " + code_point(code) + " encoded as a character");
    if (code > 0x10FFFF) fail_utf8(i, "code point above U+10FFFF");
    i += length;
  }
}

// SentencePiece's status messages can span lines; errors here are one line.
std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

// "<extra_id_N>" at the start of `text`, N = 0..99 written as HF writes it (no leading zero):
// N, and the length matched; -1 otherwise.
int match_extra_id(std::string_view text, size_t& length) {
  constexpr std::string_view kPrefix = "<extra_id_";
  if (text.compare(0, kPrefix.size(), kPrefix) != 0) return -1;
  size_t at = kPrefix.size();
  int value = 0;
  size_t digits = 0;
  while (at < text.size() && digits < 2 && text[at] >= '0' && text[at] <= '9') {
    value = value * 10 + (text[at] - '0');
    ++at;
    ++digits;
  }
  if (digits == 0 || (digits == 2 && text[at - 2] == '0')) return -1;
  if (at >= text.size() || text[at] != '>') return -1;
  length = at + 1;
  return value;
}

// Truncates to max_length - 1 ids (with a warning) and appends EOS.
void finish_prompt(TokenizedPrompt& result, int max_length, int32_t eos_id) {
  result.original_length = static_cast<int64_t>(result.ids.size()) + 1;
  if (result.original_length > max_length) {
    result.truncated = true;
    result.ids.resize(static_cast<size_t>(max_length - 1));
    log_warn("prompt has ", result.original_length, " tokens (EOS included), more than the limit of ",
             max_length, ": dropped the last ", result.original_length - max_length, " tokens");
  }
  result.ids.push_back(eos_id);
}

}  // namespace

T5Tokenizer::T5Tokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> processor, std::string path)
    : processor_(std::move(processor)), path_(std::move(path)) {
  vocab_size_ = processor_->GetPieceSize();
  eos_id_ = processor_->eos_id();
  for (const int id : {processor_->pad_id(), processor_->eos_id(), processor_->unk_id()}) {
    if (id >= 0) special_pieces_.emplace_back(processor_->IdToPiece(id), id);
  }
}

T5Tokenizer::T5Tokenizer(T5Tokenizer&&) noexcept = default;
T5Tokenizer& T5Tokenizer::operator=(T5Tokenizer&&) noexcept = default;
T5Tokenizer::~T5Tokenizer() = default;

T5Tokenizer T5Tokenizer::load(const std::string& spiece_model_path) {
  // SentencePiece's own message for a missing file repeats the path and an errno number; the
  // OS's reason reads better.
  if (!std::ifstream(spiece_model_path, std::ios::binary))
    fail(ErrorKind::io, spiece_model_path, ": cannot open the SentencePiece model: ", std::strerror(errno));
  std::error_code ignored;
  INF_CHECK(!std::filesystem::is_directory(spiece_model_path, ignored), ErrorKind::io, spiece_model_path,
            ": is a directory, not a SentencePiece model");
  auto processor = std::make_unique<sentencepiece::SentencePieceProcessor>();
  sentencepiece::util::Status status;
  try {
    status = processor->Load(spiece_model_path);
  } catch (const std::exception& error) {  // the library's file reading can throw
    fail(ErrorKind::io, spiece_model_path, ": cannot read the SentencePiece model: ", error.what());
  }
  if (!status.ok())
    fail(ErrorKind::invalid_data, spiece_model_path, ": not a valid SentencePiece model (sentencepiece: ",
         one_line(status.message()), ")");
  INF_CHECK(processor->GetPieceSize() > 0, ErrorKind::invalid_data, spiece_model_path,
            ": the SentencePiece model has no pieces");
  // T5 ends every sequence with EOS; a model without one is not a T5 tokenizer.
  INF_CHECK(processor->eos_id() >= 0, ErrorKind::invalid_data, spiece_model_path,
            ": the SentencePiece model has no EOS piece, so it is not a T5 tokenizer");
  return T5Tokenizer(std::move(processor), spiece_model_path);
}

int32_t T5Tokenizer::extra_id(int n) const {
  INF_CHECK(n >= 0 && n < kExtraIds, ErrorKind::invalid_argument, "<extra_id_", n, "> does not exist (0..",
            kExtraIds - 1, ")");
  return vocab_size_ + kExtraIds - 1 - n;
}

void T5Tokenizer::append_pieces(std::string_view text, std::vector<int32_t>& ids) const {
  if (text.empty()) return;
  std::vector<int> pieces;
  const auto status = processor_->Encode(text, &pieces);
  INF_CHECK(status.ok(), ErrorKind::internal, path_, ": SentencePiece could not encode a prompt: ",
            one_line(status.message()));
  ids.insert(ids.end(), pieces.begin(), pieces.end());
}

TokenizedPrompt T5Tokenizer::encode(std::string_view utf8_text, int max_length) const {
  INF_CHECK(max_length >= 1, ErrorKind::invalid_argument, "max_length is ", max_length,
            "; it must leave room for EOS (at least 1)");
  INF_CHECK(utf8_text.size() <= kMaxPromptBytes, ErrorKind::invalid_argument, "prompt is ", utf8_text.size(),
            " bytes, more than the limit of ", kMaxPromptBytes, " bytes (1 MiB)");
  check_utf8(utf8_text);

  // Special tokens written in the text are cut out first and the text between them is encoded
  // on its own, as HF does with its added tokens. Each piece of text then gets SentencePiece's
  // dummy "▁" prefix, which is HF's legacy=True behaviour after a special token.
  TokenizedPrompt result;
  size_t start = 0;
  for (size_t at = utf8_text.find('<'); at != std::string_view::npos; at = utf8_text.find('<', at + 1)) {
    const std::string_view rest = utf8_text.substr(at);
    size_t length = 0;
    int32_t id = -1;
    const int n = match_extra_id(rest, length);
    if (n >= 0) {
      id = extra_id(n);
    } else {
      for (const auto& [text, special_id] : special_pieces_) {
        if (rest.compare(0, text.size(), text) == 0) {
          id = special_id;
          length = text.size();
          break;
        }
      }
    }
    if (id < 0) continue;
    append_pieces(utf8_text.substr(start, at - start), result.ids);
    result.ids.push_back(id);
    start = at + length;
    at = start - 1;  // the next search starts right after the token
  }
  append_pieces(utf8_text.substr(start), result.ids);

  finish_prompt(result, max_length, eos_id_);
  return result;
}

TokenizedPrompt byte_tokenize(std::string_view utf8_text, int max_length) {
  INF_CHECK(max_length >= 1, ErrorKind::invalid_argument, "max_length is ", max_length,
            "; it must leave room for EOS (at least 1)");
  INF_CHECK(utf8_text.size() <= T5Tokenizer::kMaxPromptBytes, ErrorKind::invalid_argument, "prompt is ",
            utf8_text.size(), " bytes, more than the limit of ", T5Tokenizer::kMaxPromptBytes, " bytes (1 MiB)");
  check_utf8(utf8_text);
  TokenizedPrompt result;
  for (const char byte : utf8_text) result.ids.push_back(static_cast<int32_t>(static_cast<unsigned char>(byte)) + 3);
  finish_prompt(result, max_length, 1);
  return result;
}

std::string T5Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string text;
  std::vector<int> run;  // consecutive SentencePiece ids, detokenised together
  auto flush = [&] {
    if (run.empty()) return;
    std::string part;
    const auto status = processor_->Decode(run, &part);
    INF_CHECK(status.ok(), ErrorKind::internal, path_, ": SentencePiece could not decode ids: ",
              one_line(status.message()));
    text += part;
    run.clear();
  };
  for (const int32_t id : ids) {
    INF_CHECK(id >= 0 && id < embedding_rows(), ErrorKind::invalid_argument, "token id ", id,
              " is out of range [0, ", embedding_rows(), ")");
    if (id < vocab_size_) {
      run.push_back(id);
    } else {
      flush();
      text += piece(id);
    }
  }
  flush();
  return text;
}

std::string T5Tokenizer::piece(int32_t id) const {
  INF_CHECK(id >= 0 && id < embedding_rows(), ErrorKind::invalid_argument, "token id ", id,
            " is out of range [0, ", embedding_rows(), ")");
  if (id < vocab_size_) return processor_->IdToPiece(id);
  return "<extra_id_" + std::to_string(vocab_size_ + kExtraIds - 1 - id) + ">";
}

}  // namespace inf
