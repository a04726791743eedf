// Opcode semantics follow Python's Lib/pickletools.py documentation. The machine is a loop over
// opcodes with a value stack, a MARK stack and a memo; each opcode's handler throws a bare
// problem (inf::Error) and the loop adds the file name and the opcode's offset, so messages are
// uniform whichever layer found the problem.
#include "weights/pickle_machine.h"

#include <cstring>
#include <new>

#include "common/error.h"

namespace inf::pickle {
namespace {

[[noreturn]] void problem(const std::string& text) { throw Error(ErrorKind::invalid_data, text); }

// Real state-dict keys are well under 300 bytes.
constexpr size_t kMaxKeyLength = 1024;

enum Opcode : uint8_t {
  kMark = '(',
  kStop = '.',
  kPop = '0',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kBinInt2 = 'M',
  kNone = 'N',
  kBinFloat = 'G',
  kBinString = 'T',
  kShortBinString = 'U',
  kBinBytes = 'B',
  kShortBinBytes = 'C',
  kBinUnicode = 'X',
  kEmptyList = ']',
  kAppend = 'a',
  kAppends = 'e',
  kList = 'l',
  kEmptyTuple = ')',
  kTuple = 't',
  kEmptyDict = '}',
  kDict = 'd',
  kSetItem = 's',
  kSetItems = 'u',
  kGlobal = 'c',
  kReduce = 'R',
  kBuild = 'b',
  kBinPersId = 'Q',
  kBinGet = 'h',
  kLongBinGet = 'j',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kProto = 0x80,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
  kLong4 = 0x8b,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kShortBinUnicode = 0x8c,
  kBinUnicode8 = 0x8d,
  kBinBytes8 = 0x8e,
  kStackGlobal = 0x93,
  kMemoize = 0x94,
  kFrame = 0x95,
};

std::string describe_opcode(uint8_t opcode) {
  static const char* const kHex = "0123456789abcdef";
  std::string text = "0x";
  text += kHex[opcode >> 4];
  text += kHex[opcode & 0xf];
  if (opcode >= 0x20 && opcode < 0x7f) text += std::string(" ('") + static_cast<char>(opcode) + "')";
  return text;
}

class Machine {
 public:
  Machine(std::string_view bytes, Hooks& hooks, ObjectArena& arena, const Limits& limits)
      : bytes_(bytes), hooks_(hooks), arena_(arena), limits_(limits) {}

  size_t opcode_offset() const { return opcode_offset_; }

  Value run() {
    while (pos_ < bytes_.size()) {
      opcode_offset_ = pos_;
      const uint8_t opcode = read_u8();
      if (opcode == kStop) {
        if (!marks_.empty()) problem("STOP inside an unclosed MARK");
        return pop();
      }
      execute(opcode);
    }
    opcode_offset_ = pos_;
    problem("pickle is truncated: it ends without a STOP opcode");
  }

 private:
  // ---- reading the stream; every read checks the remaining length first ----

  void require(uint64_t length, const char* what) const {
    if (length > bytes_.size() - pos_) {
      problem(std::string("pickle is truncated: ") + what + " needs " + std::to_string(length) + " bytes but only " +
              std::to_string(bytes_.size() - pos_) + " remain");
    }
  }

  uint8_t read_u8() {
    require(1, "an opcode argument");
    return static_cast<uint8_t>(bytes_[pos_++]);
  }

  uint64_t read_le(size_t width) {
    require(width, "an integer argument");
    uint64_t value = 0;
    for (size_t i = 0; i < width; ++i) value |= uint64_t{static_cast<uint8_t>(bytes_[pos_ + i])} << (8 * i);
    pos_ += width;
    return value;
  }

  std::string_view read_bytes(uint64_t length, const char* what) {
    require(length, what);
    const std::string_view view = bytes_.substr(pos_, static_cast<size_t>(length));
    pos_ += static_cast<size_t>(length);
    return view;
  }

  std::string_view read_line() {
    const size_t end = bytes_.find('\n', pos_);
    if (end == std::string_view::npos) problem("pickle is truncated: GLOBAL name has no terminating newline");
    const std::string_view line = bytes_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return line;
  }

  // ---- stack, marks and memo ----

  void push(Value value) {
    if (stack_.size() >= limits_.max_stack) {
      problem("pickle stack grows past " + std::to_string(limits_.max_stack) + " items");
    }
    stack_.push_back(value);
  }

  Value pop() {
    if (stack_.size() <= stack_floor()) problem("pickle stack underflow");
    Value value = stack_.back();
    stack_.pop_back();
    return value;
  }

  Value& top() {
    if (stack_.size() <= stack_floor()) problem("pickle stack underflow");
    return stack_.back();
  }

  // Items below the innermost MARK belong to an enclosing construct; plain pops may not reach them.
  size_t stack_floor() const { return marks_.empty() ? 0 : marks_.back(); }

  void push_mark() {
    if (marks_.size() >= limits_.max_mark_depth) {
      problem("pickle nests MARKs deeper than " + std::to_string(limits_.max_mark_depth) + " levels");
    }
    marks_.push_back(stack_.size());
  }

  // Removes and returns the items pushed since the innermost MARK.
  std::vector<Value> pop_to_mark() {
    if (marks_.empty()) problem("pickle uses MARK-terminated opcode without a MARK");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<Value> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }

  void memo_put(uint64_t index) {
    const Value value = top();
    auto it = memo_.find(index);
    if (it != memo_.end()) {
      it->second = value;
      return;
    }
    if (memo_.size() >= limits_.max_memo) problem("pickle memo grows past " + std::to_string(limits_.max_memo) + " entries");
    memo_.emplace(index, value);
  }

  void memo_get(uint64_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) problem("pickle reads memo index " + std::to_string(index) + ", which was never stored");
    push(it->second);
  }

  // ---- values ----

  void push_tuple(std::vector<Value> items) {
    Tuple* tuple = arena_.make<Tuple>();
    tuple->items = std::move(items);
    push(static_cast<const Tuple*>(tuple));
  }

  // LONG1/LONG4: little-endian two's complement of any width; it must fit in int64.
  void push_long(uint64_t length) {
    const std::string_view digits = read_bytes(length, "a LONG integer");
    if (digits.empty()) {
      push(int64_t{0});
      return;
    }
    const bool negative = (static_cast<uint8_t>(digits.back()) & 0x80) != 0;
    const uint8_t extension = negative ? 0xff : 0x00;
    for (size_t i = 8; i < digits.size(); ++i) {
      if (static_cast<uint8_t>(digits[i]) != extension) problem("pickle integer does not fit in 64 bits");
    }
    if (digits.size() > 8 && ((static_cast<uint8_t>(digits[7]) & 0x80) != 0) != negative) {
      problem("pickle integer does not fit in 64 bits");
    }
    uint64_t bits = negative ? ~uint64_t{0} : 0;
    const size_t used = digits.size() < 8 ? digits.size() : 8;
    for (size_t i = 0; i < used; ++i) {
      bits &= ~(uint64_t{0xff} << (8 * i));
      bits |= uint64_t{static_cast<uint8_t>(digits[i])} << (8 * i);
    }
    int64_t value;
    std::memcpy(&value, &bits, sizeof value);
    push(value);
  }

  void push_double_big_endian() {
    const uint64_t little = read_le(8);
    uint64_t big = 0;
    for (int i = 0; i < 8; ++i) big |= ((little >> (8 * i)) & 0xff) << (8 * (7 - i));
    double value;
    std::memcpy(&value, &big, sizeof value);
    push(value);
  }

  List* list_on_top() {
    Value& target = top();
    if (!std::holds_alternative<List*>(target)) {
      problem(std::string("pickle appends to a ") + kind_name(target) + ", not a list");
    }
    return std::get<List*>(target);
  }

  Dict* dict_on_top() {
    Value& target = top();
    if (!std::holds_alternative<Dict*>(target)) {
      problem(std::string("pickle sets an item on a ") + kind_name(target) + ", not a dict");
    }
    return std::get<Dict*>(target);
  }

  void set_items(Dict* dict, const std::vector<Value>& pairs) {
    if (pairs.size() % 2 != 0) problem("pickle SETITEMS/DICT has a key without a value");
    for (size_t i = 0; i < pairs.size(); i += 2) dict->set(pairs[i], pairs[i + 1]);
  }

  void execute(uint8_t opcode) {
    switch (opcode) {
      case kProto: {
        const uint8_t version = read_u8();
        if (version > 5) problem("pickle protocol " + std::to_string(version) + " is newer than 5");
        return;
      }
      case kFrame: {
        // Frames only group opcodes for buffered reading; the whole pickle is in memory.
        const uint64_t frame_length = read_le(8);
        require(frame_length, "a FRAME");
        return;
      }
      case kMark: push_mark(); return;
      case kPop: pop(); return;
      case kNone: push(None{}); return;
      case kNewTrue: push(true); return;
      case kNewFalse: push(false); return;
      case kBinInt: push(int64_t{static_cast<int32_t>(static_cast<uint32_t>(read_le(4)))}); return;
      case kBinInt1: push(static_cast<int64_t>(read_le(1))); return;
      case kBinInt2: push(static_cast<int64_t>(read_le(2))); return;
      case kLong1: push_long(read_le(1)); return;
      case kLong4: {
        const int32_t length = static_cast<int32_t>(static_cast<uint32_t>(read_le(4)));
        if (length < 0) problem("pickle LONG4 has a negative length");
        push_long(static_cast<uint64_t>(length));
        return;
      }
      case kBinFloat: push_double_big_endian(); return;
      case kShortBinUnicode: push(Text{read_bytes(read_le(1), "a string")}); return;
      case kBinUnicode: push(Text{read_bytes(read_le(4), "a string")}); return;
      case kBinUnicode8: push(Text{read_bytes(read_le(8), "a string")}); return;
      // Protocol-2 byte strings (Python 2 str) are text to torch's unpickler with encoding="utf-8".
      case kShortBinString: push(Text{read_bytes(read_le(1), "a string")}); return;
      case kBinString: {
        const int32_t length = static_cast<int32_t>(static_cast<uint32_t>(read_le(4)));
        if (length < 0) problem("pickle BINSTRING has a negative length");
        push(Text{read_bytes(static_cast<uint64_t>(length), "a string")});
        return;
      }
      case kShortBinBytes: push(Bytes{read_bytes(read_le(1), "a byte string")}); return;
      case kBinBytes: push(Bytes{read_bytes(read_le(4), "a byte string")}); return;
      case kBinBytes8: push(Bytes{read_bytes(read_le(8), "a byte string")}); return;

      case kEmptyTuple: push_tuple({}); return;
      case kTuple: push_tuple(pop_to_mark()); return;
      case kTuple1: {
        Value a = pop();
        push_tuple({a});
        return;
      }
      case kTuple2: {
        Value b = pop(), a = pop();
        push_tuple({a, b});
        return;
      }
      case kTuple3: {
        Value c = pop(), b = pop(), a = pop();
        push_tuple({a, b, c});
        return;
      }
      case kEmptyList: push(arena_.make<List>()); return;
      case kList: {
        List* list = arena_.make<List>();
        list->items = pop_to_mark();
        push(list);
        return;
      }
      case kAppend: {
        Value item = pop();
        list_on_top()->items.push_back(item);
        return;
      }
      case kAppends: {
        std::vector<Value> items = pop_to_mark();
        List* list = list_on_top();
        list->items.insert(list->items.end(), items.begin(), items.end());
        return;
      }
      case kEmptyDict: push(arena_.make<Dict>()); return;
      case kDict: {
        std::vector<Value> pairs = pop_to_mark();
        Dict* dict = arena_.make<Dict>();
        set_items(dict, pairs);
        push(dict);
        return;
      }
      case kSetItem: {
        Value value = pop(), key = pop();
        dict_on_top()->set(key, value);
        return;
      }
      case kSetItems: {
        std::vector<Value> pairs = pop_to_mark();
        set_items(dict_on_top(), pairs);
        return;
      }

      case kBinPut: memo_put(read_le(1)); return;
      case kLongBinPut: memo_put(read_le(4)); return;
      case kMemoize: memo_put(memo_.size()); return;
      case kBinGet: memo_get(read_le(1)); return;
      case kLongBinGet: memo_get(read_le(4)); return;

      case kGlobal: {
        const std::string_view module = read_line();
        const std::string_view name = read_line();
        push(hooks_.find_global(arena_, module, name));
        return;
      }
      case kStackGlobal: {
        Value name = pop(), module = pop();
        if (!std::holds_alternative<Text>(module) || !std::holds_alternative<Text>(name)) {
          problem("pickle STACK_GLOBAL needs two strings");
        }
        push(hooks_.find_global(arena_, std::get<Text>(module).bytes, std::get<Text>(name).bytes));
        return;
      }
      case kReduce: {
        Value args = pop(), callable = pop();
        if (!std::holds_alternative<const Tuple*>(args)) {
          problem(std::string("pickle REDUCE arguments are a ") + kind_name(args) + ", not a tuple");
        }
        push(hooks_.reduce(arena_, callable, *std::get<const Tuple*>(args)));
        return;
      }
      case kBuild: {
        Value state = pop();
        hooks_.build(top(), state);
        return;
      }
      case kBinPersId: {
        Value persistent_id = pop();
        push(hooks_.persistent_load(arena_, persistent_id));
        return;
      }
      default:
        problem("pickle opcode " + describe_opcode(opcode) +
                " is not allowed: a state dict never needs it, and this reader only interprets state-dict opcodes");
    }
  }

  std::string_view bytes_;
  Hooks& hooks_;
  ObjectArena& arena_;
  const Limits& limits_;
  size_t pos_ = 0;
  size_t opcode_offset_ = 0;
  std::vector<Value> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value> memo_;
};

}  // namespace

const char* kind_name(const Value& value) {
  struct Namer {
    const char* operator()(None) const { return "None"; }
    const char* operator()(bool) const { return "bool"; }
    const char* operator()(int64_t) const { return "int"; }
    const char* operator()(double) const { return "float"; }
    const char* operator()(Text) const { return "str"; }
    const char* operator()(Bytes) const { return "bytes"; }
    const char* operator()(const Tuple*) const { return "tuple"; }
    const char* operator()(List*) const { return "list"; }
    const char* operator()(Dict*) const { return "dict"; }
    const char* operator()(const Global*) const { return "global"; }
    const char* operator()(const StorageRef*) const { return "storage"; }
    const char* operator()(const TensorRef*) const { return "tensor"; }
  };
  return std::visit(Namer{}, value);
}

void Dict::set(const Value& key, const Value& value) {
  size_t* slot = nullptr;
  size_t next = items_.size();
  if (const Text* text = std::get_if<Text>(&key)) {
    // Keys become tensor names; the bound also keeps hashing a long key fetched from the memo
    // over and over from turning a small pickle into seconds of work.
    if (text->bytes.size() > kMaxKeyLength) {
      problem("dict key is " + std::to_string(text->bytes.size()) + " bytes long, more than the " +
              std::to_string(kMaxKeyLength) + " a state dict key needs");
    }
    slot = &text_keys_.try_emplace(text->bytes, next).first->second;
  } else if (const int64_t* number = std::get_if<int64_t>(&key)) {
    slot = &int_keys_.try_emplace(*number, next).first->second;
  } else {
    problem(std::string("dict key is a ") + kind_name(key) + "; a state dict only has str or int keys");
  }
  if (*slot == next) {
    items_.emplace_back(key, value);
  } else {
    items_[*slot].second = value;
  }
}

void ObjectArena::throw_too_many() const {
  problem("pickle creates more than " + std::to_string(max_objects_) + " objects");
}

Value run(std::string_view bytes, const std::string& source_name, Hooks& hooks, ObjectArena& arena,
          const Limits& limits) {
  Machine machine(bytes, hooks, arena, limits);
  try {
    return machine.run();
  } catch (const Error& error) {
    fail(error.kind(), source_name, ": ", error.what(), " at pickle offset ", machine.opcode_offset());
  } catch (const std::bad_alloc&) {
    fail(ErrorKind::out_of_memory, source_name, ": out of memory while reading the pickle at offset ",
         machine.opcode_offset());
  }
}

}  // namespace inf::pickle
