// make_attention(): the table of attention methods by name. A new method is
// one line in kMethods plus its own file.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <skein/error.h>
#include <nlohmann/json.hpp>

#include "attention/attention.h"
#include "attention/bigbird.h"
#include "attention/exact.h"
#include "attention/informer.h"
#include "attention/linformer.h"
#include "attention/nystrom.h"
#include "attention/performer.h"
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
    const bool positive_integer =
        (value.is_number_unsigned() && value.template get<uint64_t>() >= 1 &&
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

// A positive integer "features" value of `method`.
int64_t read_features(const std::string& method, const nlohmann::json& value) {
  const bool positive_integer = (value.is_number_unsigned() && value.get<uint64_t>() >= 1 &&
                                 value.get<uint64_t>() <= (uint64_t{1} << 40)) ||
                                (value.is_number_integer() && value.get<int64_t>() >= 1);
  if (!positive_integer) {
    throw Error("attention method \"" + method +
                "\": \"features\" must be a positive integer, got " + value.dump());
  }
  return value.get<int64_t>();
}

std::unique_ptr<AttentionMethod> create_nystrom(const nlohmann::json& spec) {
  int64_t features = NystromAttention::kDefaultFeatures;
  for (const auto& [key, value] : spec.items()) {
    if (key == "method") continue;
    // "num_landmarks": the LRA config's name, as exported models carry it.
    if (key != "features" && key != "num_landmarks") {
      throw_unknown_parameter("nystrom", key, "features, num_landmarks");
    }
    features = read_features("nystrom", value);
  }
  return std::make_unique<NystromAttention>(features);
}

// "features", the boolean "paper_code_scaling" (see performer.h), and the LRA
// config's "rp_dim" and "kernel_type" as exported models carry them.
std::unique_ptr<AttentionMethod> create_performer(const nlohmann::json& spec) {
  int64_t features = PerformerAttention::kDefaultFeatures;
  bool paper_code_scaling = false;
  for (const auto& [key, value] : spec.items()) {
    if (key == "method") continue;
    if (key == "features" || key == "rp_dim") {  // rp_dim: the LRA config's name
      features = read_features("performer", value);
    } else if (key == "kernel_type") {  // LRA: only the softmax kernel "exp" is FAVOR+
      if (value != "exp") {
        throw Error("attention method \"performer\": kernel_type " + value.dump() +
                    " is not supported (only \"exp\", FAVOR+ positive features)");
      }
    } else if (key == "paper_code_scaling") {
      if (!value.is_boolean()) {
        throw Error(
            "attention method \"performer\": \"paper_code_scaling\" must be true or false, got " +
            value.dump());
      }
      paper_code_scaling = value.get<bool>();
    } else {
      throw_unknown_parameter("performer", key,
                              "features, paper_code_scaling, rp_dim, kernel_type");
    }
  }
  return std::make_unique<PerformerAttention>(features, paper_code_scaling);
}

// A non-negative integer parameter of `method`.
int64_t read_count(const std::string& method, const std::string& key, const nlohmann::json& value) {
  if (!value.is_number_integer() || value.get<int64_t>() < 0) {
    throw Error("attention method \"" + method + "\": \"" + key +
                "\" must be a non-negative integer, got " + value.dump());
  }
  return value.get<int64_t>();
}

// "block" (>= 1) and "random_blocks" (>= 0).
std::unique_ptr<AttentionMethod> create_bigbird(const nlohmann::json& spec) {
  int64_t block = BigBirdAttention::kDefaultBlock;
  int64_t random_blocks = BigBirdAttention::kDefaultRandomBlocks;
  for (const auto& [key, value] : spec.items()) {
    if (key == "method") continue;
    if (key == "block" || key == "block_size") {  // block_size, num_random_blocks: LRA names
      block = read_count("bigbird", key, value);
    } else if (key == "random_blocks" || key == "num_random_blocks") {
      random_blocks = read_count("bigbird", key, value);
    } else {
      throw_unknown_parameter("bigbird", key,
                              "block, random_blocks, block_size, num_random_blocks");
    }
  }
  return std::make_unique<BigBirdAttention>(block, random_blocks);
}

// The Informer pair: one optional parameter, "features".
template <bool kMask>
std::unique_ptr<AttentionMethod> create_informer(const nlohmann::json& spec) {
  const std::string method = kMask ? "informer-mask" : "informer";
  int64_t features = InformerAttention::kDefaultFeatures;
  for (const auto& [key, value] : spec.items()) {
    if (key == "method") continue;
    if (key != "features") throw_unknown_parameter(method, key, "features");
    features = read_features(method, value);
  }
  return std::make_unique<InformerAttention>(features, kMask);
}

// "features" (= k, used when the model has no E), or "linformer_k", the LRA
// config's name that exported Linformer models carry.
std::unique_ptr<AttentionMethod> create_linformer(const nlohmann::json& spec) {
  int64_t features = LinformerAttention::kDefaultFeatures;
  for (const auto& [key, value] : spec.items()) {
    if (key == "method") continue;
    if (key != "features" && key != "linformer_k") {
      throw_unknown_parameter("linformer", key, "features, linformer_k");
    }
    features = read_features("linformer", value);
  }
  return std::make_unique<LinformerAttention>(features);
}

constexpr MethodEntry kMethods[] = {
    {"exact", &create_exact},
    {"skeinformer", &create_skein<SkeinVariant::kSkeinformer>},
    {"skein-uniform", &create_skein<SkeinVariant::kUniform>},
    {"skein-nonorm", &create_skein<SkeinVariant::kNoNorm>},
    {"skein-simplenorm", &create_skein<SkeinVariant::kSimpleNorm>},
    {"skein-nopilot", &create_skein<SkeinVariant::kNoPilot>},
    {"vmean", &create_vmean},
    {"nystrom", &create_nystrom},
    {"performer", &create_performer},
    {"bigbird", &create_bigbird},
    {"informer", &create_informer<false>},
    {"informer-mask", &create_informer<true>},
    {"linformer", &create_linformer},
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

std::vector<std::string> attention_method_names() {
  std::vector<std::string> names;
  for (const MethodEntry& entry : kMethods) names.emplace_back(entry.name);
  return names;
}

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
