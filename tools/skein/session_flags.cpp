#include "session_flags.h"

#include <string>

#include "skein/error.h"

namespace skein::cli {

int64_t parse_bytes(const std::string& text, const std::string& flag) {
  if (text.empty()) return 0;
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::string suffix = text.substr(used);
  double scale = suffix.empty() || suffix == "B" ? 1
                 : suffix == "K"                 ? 1024.0
                 : suffix == "M"                 ? 1024.0 * 1024
                 : suffix == "G"                 ? 1024.0 * 1024 * 1024
                                                 : -1;
  if (used == 0 || scale < 0 || !(value > 0) || value * scale > 9.0e18) {
    throw Error(flag + " expects a positive size such as 512M or 4G, got '" + text + "'");
  }
  return static_cast<int64_t>(value * scale);
}

void add_session_flags(cxxopts::Options& options) {
  // clang-format off
  options.add_options("session")
      ("t,threads", "threads (0 = all cores)", cxxopts::value<int>()->default_value("0"))
      ("attention", "attention method replacing the model's (e.g. exact)",
       cxxopts::value<std::string>()->default_value(""))
      ("features", "feature count of sampling attention methods (0 = the method's default)",
       cxxopts::value<int64_t>()->default_value("0"))
      ("seed", "seed of randomized attention methods", cxxopts::value<uint64_t>()->default_value("0"))
      ("max-memory", "largest activation arena a run may plan, e.g. 512M or 4G (default: 80% of "
                     "physical memory)", cxxopts::value<std::string>()->default_value(""))
      ("unfused", "run every node over whole tensors, each timed on its own, instead of the "
                  "row-local nodes between attention layers block by block (slower)");
  // clang-format on
}

SessionOptions session_options(const cxxopts::ParseResult& args) {
  SessionOptions o;
  o.threads = args["threads"].as<int>();
  o.attention = args["attention"].as<std::string>();
  o.features = args["features"].as<int64_t>();
  o.seed = args["seed"].as<uint64_t>();
  o.max_memory_bytes = parse_bytes(args["max-memory"].as<std::string>(), "--max-memory");
  o.fuse_rows = !args.count("unfused");
  return o;
}

}  // namespace skein::cli
