// Node types as the library keeps them: a provider's vtable plus a validated deep copy of its
// descriptor (so a provider may build its descriptor on the stack), and the parameter values of
// one node instance checked against that descriptor.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "infinode.h"

namespace inf::abi {

// A descriptor whose strings and arrays all live in this object.
class OwnedNodeDesc {
 public:
  // Throws ApiError(INVALID_ARGUMENT) naming the first problem: missing strings, an id that is
  // not reverse DNS, unknown port or parameter types, duplicate ids, defaults outside ranges.
  explicit OwnedNodeDesc(const inf_node_desc* source);
  OwnedNodeDesc(const OwnedNodeDesc&) = delete;
  OwnedNodeDesc& operator=(const OwnedNodeDesc&) = delete;

  const inf_node_desc& desc() const { return desc_; }
  const std::string& id() const { return id_; }
  // Index of a parameter, or -1.
  int find_param(std::string_view param_id) const;
  const inf_param_desc& param(size_t index) const { return *params_[index]; }
  const inf_port_desc& input(size_t index) const { return *inputs_[index]; }
  const inf_port_desc& output(size_t index) const { return *outputs_[index]; }

 private:
  const char* keep(const char* text, const char* what, bool required);
  const inf_port_desc* copy_port(const inf_port_desc* source, const std::string& where);
  const inf_param_desc* copy_param(const inf_param_desc* source, const std::string& where);

  std::deque<std::string> strings_;  // deque: growing it never moves the strings we point at
  std::deque<inf_port_desc> ports_;
  std::deque<inf_param_desc> param_storage_;
  std::deque<std::vector<const char*>> choice_lists_;
  std::vector<const inf_port_desc*> inputs_, outputs_;
  std::vector<const inf_param_desc*> params_;
  std::string id_;
  inf_node_desc desc_{};
};

// A registered node type. The engine owns provider_data from registration on and hands it back
// through destroy() when the last user (engine or node) lets go.
class Provider {
 public:
  Provider(const inf_node_provider& vtable, std::unique_ptr<OwnedNodeDesc> desc)
      : vtable_(vtable), desc_(std::move(desc)) {}
  Provider(const Provider&) = delete;
  Provider& operator=(const Provider&) = delete;
  ~Provider();

  const inf_node_provider& vtable() const { return vtable_; }
  const OwnedNodeDesc& desc() const { return *desc_; }
  // Registration failed after all: provider_data stays the caller's, so never destroy it.
  void disown() { vtable_.destroy = nullptr; }

 private:
  inf_node_provider vtable_;
  std::unique_ptr<OwnedNodeDesc> desc_;
};

// Checks a provider's vtable and copies its descriptor. Throws ApiError.
std::shared_ptr<Provider> make_provider(const inf_node_provider& vtable);

// The parameters of a job, frozen when it starts: what run() sees through inf_run_args.
struct ParamSnapshot {
  std::deque<std::string> strings;
  std::vector<inf_param_value> values;
  std::vector<const inf_param_value*> pointers;
};

// One node's parameter values, starting at the defaults. Not synchronised: the node locks.
class ParamSet {
 public:
  explicit ParamSet(const OwnedNodeDesc& desc);

  // Throw ApiError: NOT_FOUND for an unknown id, TYPE_MISMATCH for the wrong setter,
  // INVALID_ARGUMENT for a value outside the range or not among the choices.
  void set_int(std::string_view param_id, int64_t value);
  void set_float(std::string_view param_id, double value);
  void set_bool(std::string_view param_id, int32_t value);
  void set_string(std::string_view param_id, const char* utf8);
  // string_value points into this set: valid until the parameter changes.
  inf_param_value get(std::string_view param_id) const;
  void snapshot(ParamSnapshot& out) const;

 private:
  size_t index_of(std::string_view param_id) const;

  const OwnedNodeDesc& desc_;
  std::vector<inf_param_value> values_;
  std::vector<std::string> strings_;  // STRING values and ENUM choice ids, by parameter index
};

// Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). Returns the byte
// offset of the first bad sequence, or npos.
size_t invalid_utf8_offset(std::string_view text);

}  // namespace inf::abi
