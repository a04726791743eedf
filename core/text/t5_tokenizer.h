// The Flan-T5 tokenizer: the model's SentencePiece file (spiece.model) run by the SentencePiece
// library, wrapped in the conventions of HF's T5TokenizerFast (legacy=True), which the Infinity
// reference uses (docs: infinity-spec.md §3):
//   - ids are SentencePiece's pieces followed by EOS (id 1); no BOS; pad 0 and unk 2;
//   - `<extra_id_N>` (N = 0..99) written in the text is the sentinel id vocab + 99 - N (HF appends
//     100 of them after the 32000 pieces, <extra_id_0> last, so Flan-T5 has 32128 embedding rows);
//     `</s>`, `<pad>` and `<unk>` written in the text are their special ids too, as in HF;
//   - at most max_length tokens, EOS included: longer prompts keep their first max_length - 1
//     pieces, then EOS, and a warning says how many were dropped.
// Normalisation (NFKC, whitespace) is the model's own, done by SentencePiece.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace inf {

struct TokenizedPrompt {
  std::vector<int32_t> ids;     // pieces, then EOS
  bool truncated = false;
  int64_t original_length = 0;  // tokens before truncation, EOS included
};

class T5Tokenizer {
 public:
  static constexpr int kExtraIds = 100;                    // <extra_id_0> .. <extra_id_99>
  static constexpr size_t kMaxPromptBytes = size_t{1} << 20;  // larger prompts are refused
  static constexpr int kDefaultMaxLength = 512;            // Flan-T5's model_max_length

  // Throws inf::Error naming the path when the file is missing or not a usable model.
  static T5Tokenizer load(const std::string& spiece_model_path);

  T5Tokenizer(T5Tokenizer&&) noexcept;
  T5Tokenizer& operator=(T5Tokenizer&&) noexcept;
  ~T5Tokenizer();

  // Throws inf::Error(invalid_argument) for invalid UTF-8, NUL bytes, prompts over
  // kMaxPromptBytes and max_length < 1. Empty text gives [EOS].
  TokenizedPrompt encode(std::string_view utf8_text, int max_length = kDefaultMaxLength) const;

  // Text of the ids: SentencePiece's detokenisation (control pieces such as EOS and pad give
  // nothing), sentinels as "<extra_id_N>". Throws for ids outside [0, embedding_rows()).
  std::string decode(const std::vector<int32_t>& ids) const;
  // One id's piece as the vocabulary spells it ("▁cat", "</s>", "<extra_id_3>").
  std::string piece(int32_t id) const;

  int vocab_size() const { return vocab_size_; }                   // pieces in the model
  int embedding_rows() const { return vocab_size_ + kExtraIds; }   // pieces + sentinels
  int32_t eos_id() const { return eos_id_; }
  int32_t extra_id(int n) const;  // id of <extra_id_n>: vocab_size + 99 - n
  const std::string& path() const { return path_; }

 private:
  T5Tokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> processor, std::string path);
  void append_pieces(std::string_view text, std::vector<int32_t>& ids) const;

  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  std::string path_;
  int vocab_size_ = 0;
  int32_t eos_id_ = -1;
  // The model's control/unknown pieces as text ("</s>", "<pad>", "<unk>") with their ids: HF
  // splits them out of the prompt like the sentinels.
  std::vector<std::pair<std::string, int32_t>> special_pieces_;
};

// The built-in byte tokenizer of random pipelines (model_manifest.h), for running the whole
// pipeline without a SentencePiece file: UTF-8 byte b becomes id b + 3 (past pad 0, EOS 1 and
// unk 2), then EOS; the text is checked and truncated as T5Tokenizer::encode does.
TokenizedPrompt byte_tokenize(std::string_view utf8_text, int max_length = T5Tokenizer::kDefaultMaxLength);

}  // namespace inf
