// infinode tokenize: prompts to T5 token ids through the model's SentencePiece file.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>

#include "commands.h"
#include "common/error.h"
#include "generation_flags.h"
#include "text/t5_tokenizer.h"

namespace inf::cli {
namespace {

constexpr const char* kUsage =
    "usage: infinode tokenize --spm SPIECE_MODEL (TEXT | --file PROMPTS) [--max-length N] [-v]\n"
    "  prints the ids of each prompt on one line (EOS included); --file reads one prompt a line;\n"
    "  -v adds a line with the pieces";

struct TokenizeOptions {
  std::string model_path, file;
  std::optional<std::string> text;  // empty text is a prompt too
  int max_length = T5Tokenizer::kDefaultMaxLength;
  bool verbose = false;
};

TokenizeOptions parse(const Args& args) {
  TokenizeOptions options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw UsageError(arg + " needs a value\n" + kUsage);
      return args[++i];
    };
    if (arg == "--spm") {
      options.model_path = value();
    } else if (arg == "--file") {
      options.file = value();
    } else if (arg == "--max-length") {
      options.max_length = static_cast<int>(parse_int_flag(arg, value(), 1, 1000000));
    } else if (arg == "-v" || arg == "--verbose") {
      options.verbose = true;
    } else if (arg == "--") {  // what follows is the text, even if it starts with '-'
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
  if (options.model_path.empty()) throw UsageError(std::string("--spm is required\n") + kUsage);
  if (options.text.has_value() == !options.file.empty())
    throw UsageError(std::string("give either TEXT or --file PROMPTS\n") + kUsage);
  return options;
}

void print_prompt(const T5Tokenizer& tokenizer, const std::string& text, const TokenizeOptions& options) {
  const TokenizedPrompt prompt = tokenizer.encode(text, options.max_length);
  std::string line;
  for (const int32_t id : prompt.ids) {
    if (!line.empty()) line += ' ';
    line += std::to_string(id);
  }
  std::printf("%s\n", line.c_str());
  if (options.verbose) {
    line.clear();
    for (const int32_t id : prompt.ids) {
      if (!line.empty()) line += ' ';
      line += tokenizer.piece(id);
    }
    std::printf("%s\n", line.c_str());
  }
}

}  // namespace

int run_tokenize(const Args& args) {
  const TokenizeOptions options = parse(args);
  const T5Tokenizer tokenizer = T5Tokenizer::load(options.model_path);
  if (options.text) {
    print_prompt(tokenizer, *options.text, options);
    return 0;
  }
  // One prompt a line, like spm_encode, so the output lines up with the input's lines.
  std::ifstream in(options.file, std::ios::binary);
  if (!in) fail(ErrorKind::io, options.file, ": cannot open: ", std::strerror(errno));
  std::string line;
  for (long number = 1; std::getline(in, line); ++number) {
    try {
      print_prompt(tokenizer, line, options);
    } catch (const Error& error) {
      throw Error(error.kind(), options.file + " line " + std::to_string(number) + ": " + error.what());
    }
  }
  if (in.bad()) fail(ErrorKind::io, options.file, ": read error");
  return 0;
}

}  // namespace inf::cli
