#include "node_registry.h"

#include <cmath>
#include <cstring>
#include <set>

#include "guard.h"

namespace inf::abi {
namespace {

constexpr uint32_t kMaxPorts = 64;
constexpr uint32_t kMaxParams = 256;
constexpr uint32_t kMaxChoices = 256;
constexpr size_t kMaxIdLength = 128;

bool is_known_type(inf_value_type type) { return type >= INF_TYPE_TEXT && type <= INF_TYPE_MASK; }

// Port and parameter ids are identifiers, so hosts can use them as keys, widget names or
// Python keyword arguments.
bool is_identifier(const std::string& id) {
  if (id.empty() || id.size() > kMaxIdLength || (id[0] >= '0' && id[0] <= '9')) return false;
  for (const char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

// "org.infinode.tokens.truncate": lower-case labels of [a-z0-9_-], at least two of them.
bool is_reverse_dns(const std::string& id) {
  if (id.empty() || id.size() > kMaxIdLength || id.front() == '.' || id.back() == '.') return false;
  if (id.find('.') == std::string::npos || id.find("..") != std::string::npos) return false;
  for (const char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

}  // namespace

size_t invalid_utf8_offset(std::string_view text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = bytes[i];
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    uint32_t code = 0, minimum = 0;
    if ((lead & 0xE0) == 0xC0) {
      length = 2, code = lead & 0x1Fu, minimum = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3, code = lead & 0x0Fu, minimum = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4, code = lead & 0x07u, minimum = 0x10000;
    } else {
      return i;  // a continuation byte or 0xF8..0xFF where a sequence should start
    }
    if (i + length > text.size()) return i;
    for (size_t k = 1; k < length; ++k) {
      if ((bytes[i + k] & 0xC0) != 0x80) return i;
      code = (code << 6) | (bytes[i + k] & 0x3Fu);
    }
    if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return i;
    i += length;
  }
  return std::string_view::npos;
}

const char* OwnedNodeDesc::keep(const char* text, const char* what, bool required) {
  if (text == nullptr) {
    if (required) api_fail(INF_STATUS_INVALID_ARGUMENT, what, " is NULL");
    text = "";
  }
  const size_t length = strnlen(text, INF_TEXT_MAX_BYTES + 1);
  if (length > INF_TEXT_MAX_BYTES) api_fail(INF_STATUS_INVALID_ARGUMENT, what, " is longer than ", INF_TEXT_MAX_BYTES, " bytes");
  const std::string_view view(text, length);
  if (invalid_utf8_offset(view) != std::string_view::npos)
    api_fail(INF_STATUS_INVALID_ARGUMENT, what, " is not valid UTF-8");
  if (required && length == 0) api_fail(INF_STATUS_INVALID_ARGUMENT, what, " is empty");
  strings_.emplace_back(view);
  return strings_.back().c_str();
}

const inf_port_desc* OwnedNodeDesc::copy_port(const inf_port_desc* source, const std::string& where) {
  const inf_port_desc port = read_struct(source, where.c_str());
  inf_port_desc copy = port;
  copy.id = keep(port.id, (where + ".id").c_str(), true);
  if (!is_identifier(copy.id))
    api_fail(INF_STATUS_INVALID_ARGUMENT, where, ".id '", copy.id, "' is not an identifier ([a-z_][a-z0-9_]*)");
  copy.display_name = keep(port.display_name, (where + ".display_name").c_str(), true);
  copy.description = keep(port.description, (where + ".description").c_str(), false);
  if (!is_known_type(port.type))
    api_fail(INF_STATUS_INVALID_ARGUMENT, where, " has the unknown value type ", static_cast<int64_t>(port.type));
  ports_.push_back(copy);
  return &ports_.back();
}

const inf_param_desc* OwnedNodeDesc::copy_param(const inf_param_desc* source, const std::string& where) {
  const inf_param_desc param = read_struct(source, where.c_str());
  inf_param_desc copy = param;
  copy.id = keep(param.id, (where + ".id").c_str(), true);
  if (!is_identifier(copy.id))
    api_fail(INF_STATUS_INVALID_ARGUMENT, where, ".id '", copy.id, "' is not an identifier ([a-z_][a-z0-9_]*)");
  copy.display_name = keep(param.display_name, (where + ".display_name").c_str(), true);
  copy.description = keep(param.description, (where + ".description").c_str(), false);
  copy.string_default = keep(param.string_default, (where + ".string_default").c_str(), false);
  copy.choices = nullptr;
  switch (param.type) {
    case INF_PARAM_INT:
      if (!(param.int_min <= param.int_default && param.int_default <= param.int_max))
        api_fail(INF_STATUS_INVALID_ARGUMENT, where, " default ", param.int_default, " is outside [", param.int_min,
                 ", ", param.int_max, "]");
      break;
    case INF_PARAM_FLOAT:
      if (!(param.float_min <= param.float_default && param.float_default <= param.float_max))
        api_fail(INF_STATUS_INVALID_ARGUMENT, where, " default ", param.float_default, " is outside [",
                 param.float_min, ", ", param.float_max, "] (or a bound is NaN)");
      break;
    case INF_PARAM_BOOL:
      if (param.int_default != 0 && param.int_default != 1)
        api_fail(INF_STATUS_INVALID_ARGUMENT, where, " default must be 0 or 1, got ", param.int_default);
      copy.int_min = 0, copy.int_max = 1;
      break;
    case INF_PARAM_STRING: break;
    case INF_PARAM_ENUM: {
      if (param.choice_count == 0 || param.choice_count > kMaxChoices || param.choices == nullptr)
        api_fail(INF_STATUS_INVALID_ARGUMENT, where, " needs 1 to ", kMaxChoices, " choices");
      std::vector<const char*> choices;
      std::set<std::string> seen;
      for (uint32_t k = 0; k < param.choice_count; ++k) {
        const std::string what = where + ".choices[" + std::to_string(k) + "]";
        choices.push_back(keep(param.choices[k], what.c_str(), true));
        if (!seen.insert(choices.back()).second) api_fail(INF_STATUS_INVALID_ARGUMENT, what, " is a duplicate");
      }
      if (param.int_default < 0 || param.int_default >= static_cast<int64_t>(param.choice_count))
        api_fail(INF_STATUS_INVALID_ARGUMENT, where, " default index ", param.int_default, " is not a choice");
      choice_lists_.push_back(std::move(choices));
      copy.choices = choice_lists_.back().data();
      copy.int_min = 0, copy.int_max = static_cast<int64_t>(param.choice_count) - 1;
      break;
    }
    default: api_fail(INF_STATUS_INVALID_ARGUMENT, where, " has the unknown type ", static_cast<int64_t>(param.type));
  }
  if (param.type != INF_PARAM_ENUM) copy.choice_count = 0;
  param_storage_.push_back(copy);
  return &param_storage_.back();
}

OwnedNodeDesc::OwnedNodeDesc(const inf_node_desc* source) {
  const inf_node_desc node = read_struct(source, "node descriptor");
  desc_ = node;
  desc_.id = keep(node.id, "node descriptor id", true);
  id_ = desc_.id;
  if (!is_reverse_dns(id_))
    api_fail(INF_STATUS_INVALID_ARGUMENT, "node id '", id_,
             "' is not reverse DNS (lower-case labels joined by dots, e.g. org.example.blur)");
  const std::string where = "node " + id_;
  desc_.display_name = keep(node.display_name, (where + " display_name").c_str(), true);
  desc_.category = keep(node.category, (where + " category").c_str(), false);
  desc_.description = keep(node.description, (where + " description").c_str(), false);
  if (node.input_count > kMaxPorts || node.output_count > kMaxPorts || node.param_count > kMaxParams)
    api_fail(INF_STATUS_INVALID_ARGUMENT, where, " has more than ", kMaxPorts, " ports or ", kMaxParams, " parameters");
  if ((node.input_count > 0 && node.inputs == nullptr) || (node.output_count > 0 && node.outputs == nullptr) ||
      (node.param_count > 0 && node.params == nullptr))
    api_fail(INF_STATUS_INVALID_ARGUMENT, where, " has a NULL port or parameter array with a nonzero count");
  std::set<std::string> seen;
  for (uint32_t k = 0; k < node.input_count; ++k) {
    inputs_.push_back(copy_port(node.inputs[k], where + " input " + std::to_string(k)));
    if (!seen.insert(inputs_.back()->id).second) api_fail(INF_STATUS_INVALID_ARGUMENT, where, " has two inputs named ", inputs_.back()->id);
  }
  seen.clear();
  for (uint32_t k = 0; k < node.output_count; ++k) {
    outputs_.push_back(copy_port(node.outputs[k], where + " output " + std::to_string(k)));
    if (!seen.insert(outputs_.back()->id).second) api_fail(INF_STATUS_INVALID_ARGUMENT, where, " has two outputs named ", outputs_.back()->id);
    if ((outputs_.back()->flags & INF_PORT_FLAG_OPTIONAL) != 0)
      api_fail(INF_STATUS_INVALID_ARGUMENT, where, " output ", outputs_.back()->id, " is marked optional; outputs are always produced");
  }
  seen.clear();
  for (uint32_t k = 0; k < node.param_count; ++k) {
    params_.push_back(copy_param(node.params[k], where + " parameter " + std::to_string(k)));
    if (!seen.insert(params_.back()->id).second) api_fail(INF_STATUS_INVALID_ARGUMENT, where, " has two parameters named ", params_.back()->id);
  }
  desc_.inputs = inputs_.data();
  desc_.outputs = outputs_.data();
  desc_.params = params_.data();
}

int OwnedNodeDesc::find_param(std::string_view param_id) const {
  for (size_t k = 0; k < params_.size(); ++k)
    if (param_id == params_[k]->id) return static_cast<int>(k);
  return -1;
}

Provider::~Provider() {
  if (vtable_.destroy != nullptr) vtable_.destroy(vtable_.provider_data);
}

std::shared_ptr<Provider> make_provider(const inf_node_provider& vtable) {
  if (INF_VERSION_MAJOR(vtable.abi_version) != INF_ABI_MAJOR || INF_VERSION_MINOR(vtable.abi_version) > INF_ABI_MINOR)
    api_fail(INF_STATUS_UNSUPPORTED, "provider ABI ", INF_VERSION_MAJOR(vtable.abi_version), ".",
             INF_VERSION_MINOR(vtable.abi_version), " cannot be served by this library (ABI ", INF_ABI_MAJOR, ".",
             INF_ABI_MINOR, ")");
  if (vtable.describe == nullptr || vtable.create_instance == nullptr || vtable.run == nullptr ||
      vtable.destroy_instance == nullptr)
    api_fail(INF_STATUS_INVALID_ARGUMENT, "provider lacks describe, create_instance, run or destroy_instance");
  auto desc = std::make_unique<OwnedNodeDesc>(vtable.describe(vtable.provider_data));
  return std::make_shared<Provider>(vtable, std::move(desc));
}

ParamSet::ParamSet(const OwnedNodeDesc& desc) : desc_(desc) {
  const size_t count = desc.desc().param_count;
  values_.resize(count);
  strings_.resize(count);
  for (size_t k = 0; k < count; ++k) {
    const inf_param_desc& param = desc.param(k);
    inf_param_value& value = values_[k];
    value.struct_size = static_cast<uint32_t>(sizeof(inf_param_value));
    value.type = param.type;
    value.int_value = param.type == INF_PARAM_FLOAT || param.type == INF_PARAM_STRING ? 0 : param.int_default;
    value.float_value = param.type == INF_PARAM_FLOAT ? param.float_default : 0.0;
    if (param.type == INF_PARAM_STRING) strings_[k] = param.string_default;
    if (param.type == INF_PARAM_ENUM) strings_[k] = param.choices[param.int_default];
  }
}

size_t ParamSet::index_of(std::string_view param_id) const {
  const int index = desc_.find_param(param_id);
  if (index < 0) api_fail(INF_STATUS_NOT_FOUND, "node ", desc_.id(), " has no parameter '", param_id, "'");
  return static_cast<size_t>(index);
}

namespace {
[[noreturn]] void wrong_setter(const inf_param_desc& param, const char* setter) {
  static const char* const kNames[] = {"?", "int", "float", "bool", "string", "enum"};
  api_fail(INF_STATUS_TYPE_MISMATCH, "parameter ", param.id, " is ", kNames[param.type], ", not settable with ", setter);
}
}  // namespace

void ParamSet::set_int(std::string_view param_id, int64_t value) {
  const size_t k = index_of(param_id);
  const inf_param_desc& param = desc_.param(k);
  if (param.type != INF_PARAM_INT && param.type != INF_PARAM_ENUM) wrong_setter(param, "node_set_int");
  if (value < param.int_min || value > param.int_max)
    api_fail(INF_STATUS_INVALID_ARGUMENT, "parameter ", param.id, " = ", value, " is outside [", param.int_min, ", ",
             param.int_max, "]");
  values_[k].int_value = value;
  if (param.type == INF_PARAM_ENUM) strings_[k] = param.choices[value];
}

void ParamSet::set_float(std::string_view param_id, double value) {
  const size_t k = index_of(param_id);
  const inf_param_desc& param = desc_.param(k);
  if (param.type != INF_PARAM_FLOAT) wrong_setter(param, "node_set_float");
  if (!(value >= param.float_min && value <= param.float_max))
    api_fail(INF_STATUS_INVALID_ARGUMENT, "parameter ", param.id, " = ", value, " is outside [", param.float_min,
             ", ", param.float_max, "]");
  values_[k].float_value = value;
}

void ParamSet::set_bool(std::string_view param_id, int32_t value) {
  const size_t k = index_of(param_id);
  const inf_param_desc& param = desc_.param(k);
  if (param.type != INF_PARAM_BOOL) wrong_setter(param, "node_set_bool");
  values_[k].int_value = value != 0 ? 1 : 0;
}

void ParamSet::set_string(std::string_view param_id, const char* utf8) {
  const size_t k = index_of(param_id);
  const inf_param_desc& param = desc_.param(k);
  if (param.type != INF_PARAM_STRING && param.type != INF_PARAM_ENUM) wrong_setter(param, "node_set_string");
  if (utf8 == nullptr) api_fail(INF_STATUS_INVALID_ARGUMENT, "the value for parameter ", param.id, " is NULL");
  const size_t length = strnlen(utf8, INF_TEXT_MAX_BYTES + 1);
  if (length > INF_TEXT_MAX_BYTES)
    api_fail(INF_STATUS_INVALID_ARGUMENT, "the value for parameter ", param.id, " is longer than ", INF_TEXT_MAX_BYTES, " bytes");
  const std::string_view text(utf8, length);
  const size_t bad = invalid_utf8_offset(text);
  if (bad != std::string_view::npos)
    api_fail(INF_STATUS_INVALID_ARGUMENT, "the value for parameter ", param.id, " is not valid UTF-8 (byte ", bad, ")");
  if (param.type == INF_PARAM_STRING) {
    strings_[k] = text;
    return;
  }
  std::string choices;
  for (uint32_t c = 0; c < param.choice_count; ++c) {
    if (text == param.choices[c]) {
      values_[k].int_value = c;
      strings_[k] = text;
      return;
    }
    choices += (c ? ", " : "") + std::string(param.choices[c]);
  }
  api_fail(INF_STATUS_INVALID_ARGUMENT, "parameter ", param.id, " has no choice '", text, "' (choices: ", choices, ")");
}

inf_param_value ParamSet::get(std::string_view param_id) const {
  const size_t k = index_of(param_id);
  inf_param_value value = values_[k];
  const inf_param_type type = desc_.param(k).type;
  value.string_value = type == INF_PARAM_STRING || type == INF_PARAM_ENUM ? strings_[k].c_str() : nullptr;
  return value;
}

void ParamSet::snapshot(ParamSnapshot& out) const {
  out.values = values_;
  for (size_t k = 0; k < values_.size(); ++k) {
    const inf_param_type type = desc_.param(k).type;
    if (type == INF_PARAM_STRING || type == INF_PARAM_ENUM) {
      out.strings.push_back(strings_[k]);
      out.values[k].string_value = out.strings.back().c_str();
    }
  }
  for (const auto& value : out.values) out.pointers.push_back(&value);
}

}  // namespace inf::abi
