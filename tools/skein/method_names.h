// Per-method parameters of the registry's attention methods, for commands that
// sweep over several methods (skein profile, skein approx).
#pragma once

#include <string>

namespace skein::cli {

/// Whether the method `name` accepts a "features" parameter.
bool takes_features(const std::string& name);

}  // namespace skein::cli
