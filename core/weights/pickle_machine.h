// A restricted pickle interpreter for PyTorch state dicts (protocols 2-5).
//
// It *interprets* the opcodes a state dict uses and never executes anything: GLOBAL, REDUCE,
// BUILD and BINPERSID are handed to PickleHooks, which decide what (if anything) a name means
// and build plain descriptions (a storage reference, a tensor view) instead of Python objects.
// Opcodes that only make sense for arbitrary objects (INST, OBJ, NEWOBJ, EXT*) are refused.
//
// Every length and index read from the stream is checked before use; the stack, memo, MARK
// nesting and number of objects are bounded, so a hostile pickle can neither crash the
// process nor make it allocate more than a small multiple of the pickle's own size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "tensor/dtype.h"

namespace inf::pickle {

struct Object {
  virtual ~Object() = default;
};

struct Tuple;
struct List;
class Dict;
struct Global;
struct StorageRef;
struct TensorRef;

struct None {};
// Text and byte strings point into the pickle bytes, which must outlive every Value: a string
// fetched from the memo a million times then costs nothing.
struct Text {
  std::string_view bytes;  // as stored; not checked to be valid UTF-8
};
struct Bytes {
  std::string_view bytes;
};

// Containers are referenced, not copied, as in Python: a dict fetched from the memo and then
// filled by SETITEMS is the same dict wherever it was stored.
using Value = std::variant<None, bool, int64_t, double, Text, Bytes, const Tuple*, List*, Dict*, const Global*,
                           const StorageRef*, const TensorRef*>;

// "None", "bool", "int", ... for error messages.
const char* kind_name(const Value& value);

struct Tuple : Object {
  std::vector<Value> items;
};

struct List : Object {
  std::vector<Value> items;
};

// An insertion-ordered dict (what OrderedDict and plain dicts both are). Keys are strings or
// ints: the only key types a state dict uses.
class Dict : public Object {
 public:
  const std::vector<std::pair<Value, Value>>& items() const { return items_; }
  // Replaces the value of an existing key in place, like Python. Throws inf::Error for keys
  // that are neither str nor int.
  void set(const Value& key, const Value& value);

 private:
  std::vector<std::pair<Value, Value>> items_;
  std::unordered_map<std::string_view, size_t> text_keys_;
  std::unordered_map<int64_t, size_t> int_keys_;
};

// A module.name that the hooks accepted; `id` is the hooks' own tag for it.
struct Global : Object {
  std::string module;
  std::string name;
  int id = 0;
  std::string qualified_name() const { return module + "." + name; }
};

// torch's persistent id ('storage', torch.FloatStorage, key, location, numel): the bytes of the
// storage live in the archive member data/<key>.
struct StorageRef : Object {
  std::string_view key;
  std::string type_name;        // "torch.FloatStorage"
  std::optional<DType> dtype;   // unset for storage types infinode has no dtype for
  size_t element_size = 0;
  int64_t numel = 0;
};

// A strided view of a storage, as torch._utils._rebuild_tensor_v2 describes it.
struct TensorRef : Object {
  const StorageRef* storage = nullptr;
  int64_t storage_offset = 0;  // in elements
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;  // in elements
};

// Owns every object a run creates. Objects point at each other with raw pointers (possibly in
// cycles), so they are released all at once, without recursion, when the arena goes.
class ObjectArena {
 public:
  explicit ObjectArena(size_t max_objects = 8'000'000) : max_objects_(max_objects) {}

  // Throws inf::Error(invalid_data) once max_objects have been made.
  template <typename T>
  T* make() {
    if (objects_.size() >= max_objects_) throw_too_many();
    auto object = std::make_unique<T>();
    T* raw = object.get();
    objects_.push_back(std::move(object));
    return raw;
  }

 private:
  [[noreturn]] void throw_too_many() const;
  size_t max_objects_;
  std::vector<std::unique_ptr<Object>> objects_;
};

// What GLOBAL, REDUCE, BUILD and BINPERSID mean. To refuse, throw inf::Error with just the
// problem ("pickle refers to 'posix.system', ..."); the machine adds the file name and offset.
class Hooks {
 public:
  virtual ~Hooks() = default;
  virtual Value find_global(ObjectArena& arena, std::string_view module, std::string_view name) = 0;
  virtual Value reduce(ObjectArena& arena, const Value& callable, const Tuple& args) = 0;
  virtual Value persistent_load(ObjectArena& arena, const Value& persistent_id) = 0;
  // BUILD: `target` is the object being built (still on the stack), `state` its __setstate__ argument.
  virtual void build(const Value& target, const Value& state) = 0;
};

struct Limits {
  size_t max_stack = 1'000'000;
  size_t max_memo = 1'000'000;
  size_t max_mark_depth = 1000;
};

// Runs the pickle in `bytes` up to STOP and returns the result. Objects are made in `arena`;
// strings point into `bytes`. Every failure is inf::Error whose message starts with
// `source_name` and ends with "at pickle offset N".
Value run(std::string_view bytes, const std::string& source_name, Hooks& hooks, ObjectArena& arena,
          const Limits& limits = {});

}  // namespace inf::pickle
