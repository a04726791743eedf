// torch.save's zip layout: "<folder>/data.pkl" holds the pickled object, whose tensors refer
// through persistent ids to storages stored as raw little-endian bytes in "<folder>/data/<key>";
// "<folder>/byteorder" (torch >= 2.0) says which byte order those are in. The same layout is
// what Hugging Face's pytorch_model.bin files are, so read_pth serves both.
#include "weights/pth_reader.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <unordered_set>

#include "common/error.h"
#include "weights/pickle_machine.h"
#include "weights/zip_archive.h"

namespace inf {
namespace {

using pickle::Value;

[[noreturn]] void problem(const std::string& text) { throw Error(ErrorKind::invalid_data, text); }

bool multiply_overflows(uint64_t a, uint64_t b, uint64_t& product) {
  if (a != 0 && b > UINT64_MAX / a) return true;
  product = a * b;
  return false;
}

bool add_overflows(uint64_t a, uint64_t b, uint64_t& sum) {
  if (b > UINT64_MAX - a) return true;
  sum = a + b;
  return false;
}

// ---------------------------------------------------------------------------------------------
// What the pickle may name. Anything outside this table is refused before it can be used.

enum GlobalId : int {
  kOrderedDict,
  kRebuildTensorV2,
  kRebuildTensor,
  kRebuildParameter,
  kRebuildParameterWithState,
  kRebuildFromTypeV2,
  kTensorClass,
  kParameterClass,
  kStorageType,
};

struct AllowedGlobal {
  const char* module;
  const char* name;
  GlobalId id;
};

constexpr AllowedGlobal kAllowedGlobals[] = {
    {"collections", "OrderedDict", kOrderedDict},
    {"torch._utils", "_rebuild_tensor_v2", kRebuildTensorV2},
    {"torch._utils", "_rebuild_tensor", kRebuildTensor},
    {"torch._utils", "_rebuild_parameter", kRebuildParameter},
    {"torch._utils", "_rebuild_parameter_with_state", kRebuildParameterWithState},
    {"torch._tensor", "_rebuild_from_type_v2", kRebuildFromTypeV2},
    {"torch", "Tensor", kTensorClass},
    {"torch.nn.parameter", "Parameter", kParameterClass},
};

struct StorageType {
  const char* name;  // in module torch
  std::optional<DType> dtype;
  size_t element_size;
};

// Storage types torch writes; the ones without an infinode dtype are recognised so that a
// tensor of them gets an "unsupported dtype" error rather than a "not allowed" one.
const StorageType kStorageTypes[] = {
    {"FloatStorage", DType::f32, 4},    {"BFloat16Storage", DType::bf16, 2}, {"HalfStorage", DType::f16, 2},
    {"ByteStorage", DType::u8, 1},      {"IntStorage", DType::i32, 4},       {"LongStorage", DType::i64, 8},
    {"DoubleStorage", std::nullopt, 8}, {"ShortStorage", std::nullopt, 2},   {"CharStorage", std::nullopt, 1},
    {"BoolStorage", std::nullopt, 1},   {"ComplexFloatStorage", std::nullopt, 8},
    {"ComplexDoubleStorage", std::nullopt, 16},
};

const StorageType* find_storage_type(std::string_view name) {
  for (const StorageType& type : kStorageTypes) {
    if (name == type.name) return &type;
  }
  return nullptr;
}

constexpr size_t kMaxTensorDims = 64;

int64_t expect_int(const Value& value, const char* what) {
  if (const int64_t* number = std::get_if<int64_t>(&value)) return *number;
  problem(std::string(what) + " is a " + pickle::kind_name(value) + ", not an int");
}

std::vector<int64_t> expect_int_tuple(const Value& value, const char* what) {
  const auto* tuple = std::get_if<const pickle::Tuple*>(&value);
  if (tuple == nullptr) problem(std::string(what) + " is a " + pickle::kind_name(value) + ", not a tuple");
  if ((*tuple)->items.size() > kMaxTensorDims) {
    problem(std::string(what) + " has " + std::to_string((*tuple)->items.size()) + " dims, more than " +
            std::to_string(kMaxTensorDims));
  }
  std::vector<int64_t> numbers;
  for (const Value& item : (*tuple)->items) numbers.push_back(expect_int(item, what));
  return numbers;
}

// A tensor must only reach elements of its storage: storage_offset + sum((size-1)*stride) < numel.
void check_view_inside_storage(const pickle::TensorRef& tensor) {
  const pickle::StorageRef& storage = *tensor.storage;
  const std::string where = "tensor on storage '" + std::string(storage.key) + "'";
  if (tensor.sizes.size() != tensor.strides.size()) problem(where + " has different numbers of sizes and strides");
  if (tensor.storage_offset < 0) problem(where + " has a negative storage offset");
  bool empty = false;
  for (size_t axis = 0; axis < tensor.sizes.size(); ++axis) {
    if (tensor.sizes[axis] < 0) problem(where + " has a negative size");
    if (tensor.strides[axis] < 0) problem(where + " has a negative stride (not supported)");
    empty = empty || tensor.sizes[axis] == 0;
  }
  const auto numel = static_cast<uint64_t>(storage.numel);
  uint64_t last = static_cast<uint64_t>(tensor.storage_offset);
  if (empty) {
    if (last > numel) problem(where + ": storage offset is out of range of its storage");
    return;
  }
  for (size_t axis = 0; axis < tensor.sizes.size(); ++axis) {
    uint64_t reach = 0;
    if (multiply_overflows(static_cast<uint64_t>(tensor.sizes[axis] - 1), static_cast<uint64_t>(tensor.strides[axis]),
                           reach) ||
        add_overflows(last, reach, last)) {
      problem(where + ": view is out of range of its storage (index overflows)");
    }
  }
  if (last >= numel) {
    problem(where + ": view reaches element " + std::to_string(last) + ", out of range of its storage of " +
            std::to_string(numel) + " elements");
  }
  // A view with more elements than its storage repeats elements (zero strides, as from expand()),
  // which no saved weight does; refusing it also bounds any copy of the tensor by the file size.
  uint64_t elements = 1;
  for (const int64_t size : tensor.sizes) {
    if (multiply_overflows(elements, static_cast<uint64_t>(size), elements) || elements > numel) {
      problem(where + " has more elements than its storage (an expanded view), which is not supported");
    }
  }
}

class TorchHooks : public pickle::Hooks {
 public:
  Value find_global(pickle::ObjectArena& arena, std::string_view module, std::string_view name) override {
    int id = -1;
    for (const AllowedGlobal& allowed : kAllowedGlobals) {
      if (module == allowed.module && name == allowed.name) id = allowed.id;
    }
    if (id < 0 && module == "torch" && find_storage_type(name) != nullptr) id = kStorageType;
    if (id < 0) {
      problem("pickle refers to '" + std::string(module) + "." + std::string(name) +
              "', which is not allowed (a state dict only needs tensor rebuild functions, storage types and "
              "OrderedDict; refusing to load)");
    }
    pickle::Global* global = arena.make<pickle::Global>();
    global->module = std::string(module);
    global->name = std::string(name);
    global->id = id;
    return static_cast<const pickle::Global*>(global);
  }

  Value reduce(pickle::ObjectArena& arena, const Value& callable, const pickle::Tuple& args) override {
    const auto* global = std::get_if<const pickle::Global*>(&callable);
    if (global == nullptr) problem(std::string("pickle calls a ") + pickle::kind_name(callable) + ", not a function");
    const std::vector<Value>& items = args.items;
    switch ((*global)->id) {
      case kOrderedDict:
        if (!items.empty()) problem("OrderedDict is called with arguments");
        return arena.make<pickle::Dict>();
      case kRebuildTensorV2:
        // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        if (items.size() != 6 && items.size() != 7) problem("_rebuild_tensor_v2 takes 6 or 7 arguments");
        return make_tensor(arena, items);
      case kRebuildTensor:
        if (items.size() != 4) problem("_rebuild_tensor takes 4 arguments");
        return make_tensor(arena, items);
      case kRebuildParameter:
      case kRebuildParameterWithState:
        // (data, requires_grad, backward_hooks[, state]): a Parameter is its data to us.
        if (items.size() != ((*global)->id == kRebuildParameter ? 3u : 4u)) {
          problem((*global)->name + " has the wrong number of arguments");
        }
        if (!std::holds_alternative<const pickle::TensorRef*>(items[0])) problem((*global)->name + " wraps a non-tensor");
        return items[0];
      case kRebuildFromTypeV2: {
        // (func, new_type, args, state): torch's wrapper for tensors carrying Python attributes.
        if (items.size() != 4) problem("_rebuild_from_type_v2 takes 4 arguments");
        const auto* inner = std::get_if<const pickle::Global*>(&items[0]);
        const auto* inner_args = std::get_if<const pickle::Tuple*>(&items[2]);
        const auto* new_type = std::get_if<const pickle::Global*>(&items[1]);
        if (inner == nullptr || inner_args == nullptr || new_type == nullptr ||
            ((*new_type)->id != kTensorClass && (*new_type)->id != kParameterClass) ||
            ((*inner)->id != kRebuildTensorV2 && (*inner)->id != kRebuildTensor && (*inner)->id != kRebuildParameter)) {
          problem("_rebuild_from_type_v2 wraps something other than a plain tensor rebuild");
        }
        return reduce(arena, items[0], **inner_args);
      }
      default:
        problem("pickle calls '" + (*global)->qualified_name() + "', which cannot be called in a state dict");
    }
  }

  Value persistent_load(pickle::ObjectArena& arena, const Value& persistent_id) override {
    // ('storage', torch.<Type>Storage, key, location, numel)
    const auto* tuple = std::get_if<const pickle::Tuple*>(&persistent_id);
    const auto& items = tuple != nullptr ? (*tuple)->items : std::vector<Value>{};
    const pickle::Text* tag = items.size() == 5 ? std::get_if<pickle::Text>(&items[0]) : nullptr;
    if (tag == nullptr || tag->bytes != "storage") {
      problem("persistent id is not a ('storage', type, key, location, numel) tuple");
    }
    const auto* type = std::get_if<const pickle::Global*>(&items[1]);
    const auto* key = std::get_if<pickle::Text>(&items[2]);
    if (type == nullptr || (*type)->id != kStorageType) problem("persistent id names no storage type");
    if (key == nullptr) problem("persistent id has no storage key");
    const int64_t numel = expect_int(items[4], "storage size");
    const StorageType& storage_type = *find_storage_type((*type)->name);
    uint64_t bytes = 0;
    if (numel < 0 || multiply_overflows(static_cast<uint64_t>(numel), storage_type.element_size, bytes)) {
      problem("storage '" + std::string(key->bytes) + "' has an impossible size " + std::to_string(numel));
    }
    pickle::StorageRef* storage = arena.make<pickle::StorageRef>();
    storage->key = key->bytes;
    storage->type_name = (*type)->qualified_name();
    storage->dtype = storage_type.dtype;
    storage->element_size = storage_type.element_size;
    storage->numel = numel;
    return static_cast<const pickle::StorageRef*>(storage);
  }

  void build(const Value& target, const Value& state) override {
    // An OrderedDict's state holds attributes such as state_dict()._metadata, and a tensor's its
    // Python attributes; neither carries weights, so the state is dropped.
    (void)state;
    if (!std::holds_alternative<pickle::Dict*>(target) && !std::holds_alternative<const pickle::TensorRef*>(target)) {
      problem(std::string("pickle BUILDs a ") + pickle::kind_name(target) + "; only dicts and tensors are accepted");
    }
  }

 private:
  static Value make_tensor(pickle::ObjectArena& arena, const std::vector<Value>& items) {
    const auto* storage = std::get_if<const pickle::StorageRef*>(&items[0]);
    if (storage == nullptr) problem("tensor is rebuilt from a " + std::string(pickle::kind_name(items[0])) + ", not a storage");
    if (!(*storage)->dtype) {
      throw Error(ErrorKind::unsupported, "tensor uses " + (*storage)->type_name +
                                              ", an unsupported dtype (infinode has f32, bf16, f16, u8, i32, i64; "
                                              "convert the checkpoint's tensors first)");
    }
    pickle::TensorRef* tensor = arena.make<pickle::TensorRef>();
    tensor->storage = *storage;
    tensor->storage_offset = expect_int(items[1], "tensor storage offset");
    tensor->sizes = expect_int_tuple(items[2], "tensor size");
    tensor->strides = expect_int_tuple(items[3], "tensor stride");
    check_view_inside_storage(*tensor);
    return static_cast<const pickle::TensorRef*>(tensor);
  }
};

// ---------------------------------------------------------------------------------------------
// Python-style text for metadata values.

// repr(float): the shortest digits that round-trip, fixed notation for exponents in [-4, 16).
std::string format_double(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  const std::string scientific(buffer, result.ptr);
  const size_t e_pos = scientific.find('e');
  const int exponent = std::stoi(scientific.substr(e_pos + 1));
  if (exponent < -4 || exponent >= 16) return scientific;
  const bool negative = scientific[0] == '-';
  std::string digits;
  for (size_t i = negative ? 1 : 0; i < e_pos; ++i) {
    if (scientific[i] != '.') digits += scientific[i];
  }
  std::string text = negative ? "-" : "";
  if (exponent < 0) {
    text += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
  } else {
    const auto integer_digits = static_cast<size_t>(exponent) + 1;
    if (digits.size() < integer_digits) digits.append(integer_digits - digits.size(), '0');
    const std::string fraction = digits.substr(integer_digits);
    text += digits.substr(0, integer_digits) + "." + (fraction.empty() ? "0" : fraction);
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// Turning the unpickled object into named tensors and metadata.

class Flattener {
 public:
  Flattener(const std::string& path, std::shared_ptr<const MappedFile> file, const ZipArchive& archive,
            std::string folder)
      : path_(path), file_(std::move(file)), archive_(archive), folder_(std::move(folder)) {}

  WeightFileContents flatten(const Value& root) {
    if (!std::holds_alternative<pickle::Dict*>(root)) {
      fail(ErrorKind::invalid_data, path_, ": top level of the checkpoint is a ", pickle::kind_name(root),
           ", not a dict; infinode loads state dicts (torch.save(model.state_dict(), ...))");
    }
    visit(root, "", 0);
    return std::move(contents_);
  }

 private:
  // Bounds that keep shared or cyclic structures (a dict stored under many keys, a list that
  // contains itself) from multiplying into unbounded work; real checkpoints are far below them.
  static constexpr int kMaxDepth = 1000;
  static constexpr uint64_t kMaxNodes = 10'000'000;
  static constexpr size_t kMaxNameLength = 4096;
  static constexpr uint64_t kMaxOutputBytes = 256ull << 20;

  void count_node(int depth) {
    if (depth > kMaxDepth) {
      fail(ErrorKind::invalid_data, path_, ": checkpoint structure is nested deeper than ", kMaxDepth, " levels");
    }
    if (++nodes_ > kMaxNodes) {
      fail(ErrorKind::invalid_data, path_, ": checkpoint structure has more than ", kMaxNodes, " entries");
    }
  }

  void count_output(size_t bytes) {
    output_bytes_ += bytes;
    if (output_bytes_ > kMaxOutputBytes) {
      fail(ErrorKind::invalid_data, path_, ": checkpoint names and metadata exceed ", kMaxOutputBytes, " bytes");
    }
  }

  std::string child_name(const std::string& prefix, std::string_view key) {
    if (prefix.size() + key.size() + 1 > kMaxNameLength) {
      fail(ErrorKind::invalid_data, path_, ": a key path is longer than ", kMaxNameLength, " bytes");
    }
    count_output(prefix.size() + key.size() + 1);
    return prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
  }

  void claim_name(const std::string& name) {
    if (!names_.insert(name).second) {
      fail(ErrorKind::invalid_data, path_, ": two entries flatten to the same name '", name, "'");
    }
  }

  void visit(const Value& value, const std::string& name, int depth) {
    count_node(depth);
    if (auto* dict = std::get_if<pickle::Dict*>(&value)) {
      for (const auto& [key, item] : (*dict)->items()) {
        const std::string key_text = std::holds_alternative<int64_t>(key) ? std::to_string(std::get<int64_t>(key))
                                                                          : std::string(std::get<pickle::Text>(key).bytes);
        visit(item, child_name(name, key_text), depth + 1);
      }
    } else if (auto* tensor = std::get_if<const pickle::TensorRef*>(&value)) {
      add_tensor(name, **tensor);
    } else if (const std::vector<Value>* items = sequence_items(value)) {
      if (holds_tensors(value, depth)) {
        for (size_t i = 0; i < items->size(); ++i) visit((*items)[i], child_name(name, std::to_string(i)), depth + 1);
      } else {
        add_metadata(name, render(value, depth));
      }
    } else if (std::holds_alternative<const pickle::Global*>(value) ||
               std::holds_alternative<const pickle::StorageRef*>(value)) {
      fail(ErrorKind::invalid_data, path_, ": entry '", name, "' is a bare ", pickle::kind_name(value),
           ", which a state dict does not hold");
    } else {
      const pickle::Text* text = std::get_if<pickle::Text>(&value);
      add_metadata(name, text != nullptr ? std::string(text->bytes) : render(value, depth));
    }
  }

  static const std::vector<Value>* sequence_items(const Value& value) {
    if (auto* list = std::get_if<pickle::List*>(&value)) return &(*list)->items;
    if (auto* tuple = std::get_if<const pickle::Tuple*>(&value)) return &(*tuple)->items;
    return nullptr;
  }

  // Lists of plain values become one metadata string; lists holding tensors or dicts are
  // flattened element by element instead.
  bool holds_tensors(const Value& value, int depth) {
    count_node(depth);
    if (std::holds_alternative<const pickle::TensorRef*>(value) || std::holds_alternative<pickle::Dict*>(value) ||
        std::holds_alternative<const pickle::Global*>(value) || std::holds_alternative<const pickle::StorageRef*>(value)) {
      return true;
    }
    if (const std::vector<Value>* items = sequence_items(value)) {
      for (const Value& item : *items) {
        if (holds_tensors(item, depth + 1)) return true;
      }
    }
    return false;
  }

  std::string render(const Value& value, int depth) {
    count_node(depth);
    std::string text;
    if (const std::vector<Value>* items = sequence_items(value)) {
      const bool is_list = std::holds_alternative<pickle::List*>(value);
      text += is_list ? "[" : "(";
      for (size_t i = 0; i < items->size(); ++i) {
        if (i > 0) text += ", ";
        text += render((*items)[i], depth + 1);
      }
      if (!is_list && items->size() == 1) text += ",";
      text += is_list ? "]" : ")";
    } else if (const auto* text_value = std::get_if<pickle::Text>(&value)) {
      text += '\'';
      for (char c : text_value->bytes) {
        if (c == '\'' || c == '\\') text += '\\';
        text += c;
      }
      text += '\'';
    } else if (const auto* number = std::get_if<int64_t>(&value)) {
      text = std::to_string(*number);
    } else if (const auto* real = std::get_if<double>(&value)) {
      text = format_double(*real);
    } else if (const auto* flag = std::get_if<bool>(&value)) {
      text = *flag ? "True" : "False";
    } else if (const auto* bytes = std::get_if<pickle::Bytes>(&value)) {
      text = "<" + std::to_string(bytes->bytes.size()) + " bytes>";
    } else {
      text = "None";
    }
    count_output(text.size());
    return text;
  }

  void add_metadata(const std::string& name, std::string text) {
    claim_name(name);
    count_output(text.size());
    contents_.metadata.emplace(name, std::move(text));
  }

  void add_tensor(const std::string& name, const pickle::TensorRef& tensor) {
    claim_name(name);
    const pickle::StorageRef& storage = *tensor.storage;
    const std::string member = folder_ + "data/" + std::string(storage.key);
    const ZipEntry* entry = archive_.find(member);
    if (entry == nullptr) {
      fail(ErrorKind::invalid_data, path_, ": tensor '", name, "' uses storage '", storage.key,
           "', but the archive has no member ", member);
    }
    // Both products were checked not to overflow when the storage and the view were read.
    const uint64_t storage_bytes = static_cast<uint64_t>(storage.numel) * storage.element_size;
    if (storage_bytes > entry->size) {
      fail(ErrorKind::invalid_data, path_, ": tensor '", name, "': storage ", member, " claims ", storage.numel,
           " elements (", storage_bytes, " bytes) but holds only ", entry->size, " bytes; storage is out of range");
    }
    TensorRecord record;
    record.name = name;
    record.dtype = *storage.dtype;
    record.shape = tensor.sizes;
    record.strides = tensor.strides;
    record.file = file_;
    record.byte_offset = entry->data_offset + static_cast<uint64_t>(tensor.storage_offset) * storage.element_size;
    record.range_begin = entry->data_offset;
    record.range_end = entry->data_offset + storage_bytes;
    contents_.tensors.push_back(std::move(record));
  }

  const std::string& path_;
  std::shared_ptr<const MappedFile> file_;
  const ZipArchive& archive_;
  std::string folder_;  // "archive/"
  WeightFileContents contents_;
  std::unordered_set<std::string> names_;
  uint64_t nodes_ = 0;
  uint64_t output_bytes_ = 0;
};

// ---------------------------------------------------------------------------------------------

bool starts_with(const MappedFile& file, std::string_view prefix) {
  return file.size() >= prefix.size() && std::memcmp(file.data(), prefix.data(), prefix.size()) == 0;
}

// torch.save before 1.6 (or with _use_new_zipfile_serialization=False) writes a sequence of
// pickles, the first being this magic number as a protocol-2 LONG1.
constexpr std::string_view kLegacyMagic("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 14);

std::string_view entry_bytes(const MappedFile& file, const ZipEntry& entry) {
  return std::string_view(reinterpret_cast<const char*>(file.data()) + entry.data_offset, entry.size);
}

// The top folder is whatever torch.save named it ("archive", or the file's stem in old
// versions), so it is found through the one member called "<folder>/data.pkl".
std::string find_archive_folder(const std::string& path, const ZipArchive& archive) {
  std::string folder;
  for (const ZipEntry& entry : archive.entries()) {
    const std::string_view name = entry.name;
    constexpr std::string_view kSuffix = "/data.pkl";
    if (name.size() <= kSuffix.size() || name.substr(name.size() - kSuffix.size()) != kSuffix) continue;
    const std::string_view candidate = name.substr(0, name.size() - kSuffix.size() + 1);
    if (candidate.find('/') != candidate.size() - 1) continue;  // not at top level
    if (!folder.empty()) fail(ErrorKind::invalid_data, path, ": archive holds more than one data.pkl");
    folder = std::string(candidate);
  }
  if (folder.empty()) {
    fail(ErrorKind::invalid_data, path, ": zip archive has no <folder>/data.pkl member; it is not a PyTorch checkpoint");
  }
  return folder;
}

}  // namespace

WeightFileContents read_pth(const std::string& path) { return read_pth(MappedFile::open(path)); }

WeightFileContents read_pth(std::shared_ptr<const MappedFile> file) {
  const std::string& path = file->path();
  if (file->size() == 0) fail(ErrorKind::invalid_data, path, ": file is empty (0 bytes)");
  if (starts_with(*file, kLegacyMagic)) {
    fail(ErrorKind::unsupported, path,
         ": legacy (pre-1.6, non-zip) PyTorch checkpoint format is not supported; re-save it with torch>=1.6 "
         "(torch.save(torch.load(f), f)) or convert it to safetensors");
  }
  if (!starts_with(*file, "PK\x03\x04")) {
    fail(ErrorKind::invalid_data, path, ": not a PyTorch checkpoint (no zip signature at the start of the file)");
  }

  const ZipArchive archive = ZipArchive::parse(file->data(), file->size(), path);
  const std::string folder = find_archive_folder(path, archive);
  if (const ZipEntry* byteorder = archive.find(folder + "byteorder")) {
    const std::string_view order = entry_bytes(*file, *byteorder);
    if (order != "little") {
      fail(ErrorKind::unsupported, path, ": tensors are stored in '", std::string(order.substr(0, 16)),
           "' byte order; only little-endian checkpoints are supported");
    }
  }

  TorchHooks hooks;
  pickle::ObjectArena arena;
  const Value root = pickle::run(entry_bytes(*file, *archive.find(folder + "data.pkl")), path, hooks, arena);
  Flattener flattener(path, file, archive, folder);
  return flattener.flatten(root);
}

}  // namespace inf
