// The attention methods the engine's registry knows, for commands that sweep
// over all of them (skein approx) or pass per-method parameters (skein profile).
#pragma once

#include <string>
#include <vector>

namespace skein::cli {

/// Every registered method name, in the registry's order (engine/src/attention/registry.cpp).
std::vector<std::string> registered_methods();

/// Whether the method `name` accepts a "features" parameter.
bool takes_features(const std::string& name);

}  // namespace skein::cli
