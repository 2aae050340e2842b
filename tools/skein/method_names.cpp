#include "method_names.h"

#include <string_view>

#include <nlohmann/json.hpp>

#include "attention/attention.h"
#include "skein/error.h"

namespace skein::cli {

std::vector<std::string> registered_methods() {
  // The registry lists its methods only in its error message for an unknown
  // name ("... (known methods: a, b, c)"); read the list from there, so a
  // method added to the registry appears here without another edit.
  constexpr std::string_view kMarker = "(known methods: ";
  std::string message;
  try {
    make_attention({{"method", ""}});
  } catch (const Error& e) {
    message = e.what();
  }
  const size_t start = message.rfind(kMarker);
  const size_t end = message.rfind(')');
  if (start == std::string::npos || end == std::string::npos || end < start) {
    throw Error("cannot read the attention methods from the registry's message: " + message);
  }
  std::vector<std::string> names;
  const std::string list = message.substr(start + kMarker.size(), end - start - kMarker.size());
  size_t at = 0;
  while (at <= list.size()) {
    const size_t comma = std::min(list.find(", ", at), list.size());
    if (comma > at) names.push_back(list.substr(at, comma - at));
    at = comma + 2;
  }
  if (names.empty()) throw Error("the registry lists no attention methods: " + message);
  return names;
}

bool takes_features(const std::string& name) {
  try {
    make_attention({{"method", name}, {"features", 1}});
    return true;
  } catch (const Error&) {
    return false;  // no such parameter (or no such method, which a later call names)
  }
}

}  // namespace skein::cli
