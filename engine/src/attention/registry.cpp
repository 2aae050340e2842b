// make_attention(): the table of attention methods by name. A new method is
// one line in kMethods plus its own file.
#include <memory>
#include <string>
#include <string_view>

#include <skein/error.h>
#include <nlohmann/json.hpp>

#include "attention/attention.h"
#include "attention/exact.h"

namespace skein {
namespace {

struct MethodEntry {
  std::string_view name;
  // Builds the method from its whole spec ("method" included); throws
  // skein::Error on a bad or unknown parameter.
  std::unique_ptr<AttentionMethod> (*create)(const nlohmann::json& spec);
};

std::string known_methods();

// `accepted` lists the method's parameters, for the message.
[[noreturn]] void throw_unknown_parameter(std::string_view method, const std::string& parameter,
                                          std::string_view accepted) {
  throw Error("attention method \"" + std::string(method) + "\": unknown parameter \"" + parameter +
              "\" (it accepts: " + std::string(accepted) + "; known methods: " + known_methods() +
              ")");
}

std::unique_ptr<AttentionMethod> create_exact(const nlohmann::json& spec) {
  for (const auto& [key, value] : spec.items()) {
    if (key != "method") throw_unknown_parameter("exact", key, "none");
  }
  return std::make_unique<ExactAttention>();
}

constexpr MethodEntry kMethods[] = {
    {"exact", &create_exact},
};

std::string known_methods() {
  std::string names;
  for (const MethodEntry& entry : kMethods) {
    if (!names.empty()) names += ", ";
    names += entry.name;
  }
  return names;
}

}  // namespace

std::unique_ptr<AttentionMethod> make_attention(const nlohmann::json& spec) {
  if (!spec.is_object() || !spec.contains("method") || !spec["method"].is_string()) {
    throw Error("attention spec must be an object with a string \"method\", got " + spec.dump() +
                " (known methods: " + known_methods() + ")");
  }
  const auto method = spec["method"].get<std::string>();
  for (const MethodEntry& entry : kMethods) {
    if (entry.name == method) return entry.create(spec);
  }
  throw Error("unknown attention method \"" + method + "\" (known methods: " + known_methods() +
              ")");
}

}  // namespace skein
