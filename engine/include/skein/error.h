// skein::Error: the one exception type the library throws for bad input,
// bad models and impossible requests. Its message is a single line that names
// what is wrong and where (file, node, field, value).
#pragma once

#include <stdexcept>
#include <string>

#include "skein/export.h"

namespace skein {

/// Thrown for every user-facing failure: malformed or missing model files,
/// invalid inputs, options that cannot be honoured. `what()` is one line.
class SKEIN_API Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace skein
