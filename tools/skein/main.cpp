// skein: classify text files, run token batches, inspect models.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include <cxxopts.hpp>

#include "commands.h"
#include "skein/skein.h"

namespace {

const char* kUsage =
    "skein — CPU inference for long-sequence Transformer encoders\n"
    "\n"
    "usage: skein <command> [options]\n"
    "\n"
    "commands:\n"
    "  classify   classify text files (or - for stdin) with a model\n"
    "  run        run a batch of token ids from a safetensors file, write logits and pooled\n"
    "  inspect    show a model's config, graph and memory plan\n"
    "  profile    per-layer latency and memory over sequence lengths and attention methods\n"
    "  attention  run one attention method on q, k, v from a safetensors file (kernel level)\n"
    "  approx     approximation error of every attention method against exact attention\n"
    "\n"
    "`skein <command> --help` lists a command's options.\n"
    "exit codes: 0 success; 1 some input files failed (the rest were processed); 2 error\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? skein::cli::kExitError : skein::cli::kExitOk;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("skein %s\n", skein::version());
    return skein::cli::kExitOk;
  }
  std::string command = argv[1];
  try {
    if (command == "classify") return skein::cli::classify_command(argc - 1, argv + 1);
    if (command == "run") return skein::cli::run_command(argc - 1, argv + 1);
    if (command == "inspect") return skein::cli::inspect_command(argc - 1, argv + 1);
    if (command == "attention") return skein::cli::attention_command(argc - 1, argv + 1);
    if (command == "profile") return skein::cli::profile_command(argc - 1, argv + 1);
    if (command == "approx") return skein::cli::approx_command(argc - 1, argv + 1);
    std::fprintf(stderr, "skein: unknown command '%s' (try skein --help)\n", command.c_str());
  } catch (const cxxopts::exceptions::exception& e) {
    std::fprintf(stderr, "skein %s: %s (try skein %s --help)\n", command.c_str(), e.what(),
                 command.c_str());
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "skein %s: out of memory\n", command.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "skein %s: %s\n", command.c_str(), e.what());
  }
  return skein::cli::kExitError;
}
