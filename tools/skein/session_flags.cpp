#include "session_flags.h"

#include <string>

namespace skein::cli {

void add_session_flags(cxxopts::Options& options) {
  // clang-format off
  options.add_options("session")
      ("t,threads", "threads (0 = all cores)", cxxopts::value<int>()->default_value("0"))
      ("attention", "attention method replacing the model's (e.g. exact)",
       cxxopts::value<std::string>()->default_value(""))
      ("features", "feature count of sampling attention methods (0 = the method's default)",
       cxxopts::value<int64_t>()->default_value("0"))
      ("seed", "seed of randomized attention methods", cxxopts::value<uint64_t>()->default_value("0"));
  // clang-format on
}

SessionOptions session_options(const cxxopts::ParseResult& args) {
  SessionOptions o;
  o.threads = args["threads"].as<int>();
  o.attention = args["attention"].as<std::string>();
  o.features = args["features"].as<int64_t>();
  o.seed = args["seed"].as<uint64_t>();
  return o;
}

}  // namespace skein::cli
