#include "method_names.h"

#include <nlohmann/json.hpp>

#include "attention/attention.h"
#include "skein/error.h"

namespace skein::cli {

bool takes_features(const std::string& name) {
  try {
    make_attention({{"method", name}, {"features", 1}});
    return true;
  } catch (const Error&) {
    return false;  // no such parameter (or no such method, which a later call names)
  }
}

}  // namespace skein::cli
