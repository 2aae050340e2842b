// make_attention(): the table of attention methods by name. A new method is
// one line in kMethods plus its own file.
#include <memory>
#include <string>
#include <string_view>

#include <skein/error.h>
#include <nlohmann/json.hpp>

#include "attention/attention.h"
#include "attention/exact.h"
#include "attention/skeinformer.h"
#include "attention/vmean.h"

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

std::unique_ptr<AttentionMethod> create_vmean(const nlohmann::json& spec) {
  for (const auto& [key, value] : spec.items()) {
    if (key != "method") throw_unknown_parameter("vmean", key, "none");
  }
  return std::make_unique<VMeanAttention>();
}

// The Skeinformer family: one optional parameter, "features" (a positive integer).
template <SkeinVariant kVariant>
std::unique_ptr<AttentionMethod> create_skein(const nlohmann::json& spec) {
  const std::string method = skein_variant_name(kVariant);
  int64_t features = SkeinformerAttention::kDefaultFeatures;
  for (const auto& [key, value] : spec.items()) {
    if (key == "method") continue;
    if (key != "features") throw_unknown_parameter(method, key, "features");
    const bool positive_integer = (value.is_number_unsigned() && value.template get<uint64_t>() >= 1 &&
                                   value.template get<uint64_t>() <= (uint64_t{1} << 40)) ||
                                  (value.is_number_integer() && value.template get<int64_t>() >= 1);
    if (!positive_integer) {
      throw Error("attention method \"" + method +
                  "\": \"features\" must be a positive integer, got " + value.dump());
    }
    features = value.template get<int64_t>();
  }
  return std::make_unique<SkeinformerAttention>(kVariant, features);
}

constexpr MethodEntry kMethods[] = {
    {"exact", &create_exact},
    {"skeinformer", &create_skein<SkeinVariant::kSkeinformer>},
    {"skein-uniform", &create_skein<SkeinVariant::kUniform>},
    {"skein-nonorm", &create_skein<SkeinVariant::kNoNorm>},
    {"skein-simplenorm", &create_skein<SkeinVariant::kSimpleNorm>},
    {"skein-nopilot", &create_skein<SkeinVariant::kNoPilot>},
    {"vmean", &create_vmean},
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
