// skein inspect: a model's config, graph and memory plan.
#include <cstdio>
#include <string>

#include <cxxopts.hpp>

#include "commands.h"
#include "graph/model_impl.h"
#include "graph/planner.h"
#include "skein/skein.h"

namespace skein::cli {

int inspect_command(int argc, char** argv) {
  cxxopts::Options options("skein inspect", "Show a model's config, graph and memory plan.");
  // clang-format off
  options.add_options()
      ("m,model", "model directory", cxxopts::value<std::string>())
      ("n,seq-len", "sequence length for the memory plan (default: max_seq_len)",
       cxxopts::value<int64_t>())
      ("h,help", "show this help");
  // clang-format on
  cxxopts::ParseResult args = options.parse(argc, argv);
  if (args.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return kExitOk;
  }
  if (!args.count("model")) throw Error("missing --model DIR");
  auto model = Model::load(args["model"].as<std::string>());
  const ModelConfig& cfg = model->config();
  int64_t n = args.count("seq-len") ? args["seq-len"].as<int64_t>() : cfg.max_seq_len;
  if (n < 1 || n > cfg.max_seq_len) {
    throw Error("--seq-len " + std::to_string(n) +
                " is outside [1, max_seq_len = " + std::to_string(cfg.max_seq_len) + "]");
  }
  std::printf("%s", model->describe().c_str());

  // Activations only: attention workspaces depend on the method and threads (see skein profile).
  const Graph& graph = model->impl().graph;
  int64_t sequences = cfg.dual ? 2 : 1;
  RowCounts rows{n * sequences, sequences, 1};
  const std::vector<FusedRun> runs = find_fused_runs(graph);
  MemoryPlan plan = plan_memory(graph, rows, std::vector<int64_t>(graph.nodes.size(), 0), runs, 1);
  std::printf("  fused runs (row-local nodes run block by block, docs/PROFILING.md):\n");
  for (size_t r = 0; r < runs.size(); ++r) {
    std::printf(
        "    nodes %d..%d (%s .. %s): blocks of %lld rows, %lld bytes of scratch per thread\n",
        runs[r].first, runs[r].last, graph.nodes[static_cast<size_t>(runs[r].first)].name.c_str(),
        graph.nodes[static_cast<size_t>(runs[r].last)].name.c_str(),
        static_cast<long long>(plan.run_block_rows[r]),
        static_cast<long long>(plan.run_block_rows[r] * runs[r].local_width * 4));
  }
  std::printf(
      "  memory plan for batch 1, n = %lld, 1 thread (activations, without attention "
      "workspace):\n",
      static_cast<long long>(n));
  int64_t sum = 0;
  for (size_t t = 0; t < graph.tensors.size(); ++t) {
    const TensorDesc& d = graph.tensors[t];
    sum += plan.tensor_bytes[t];
    if (plan.tensor_bytes[t] == 0 && d.rows == RowKind::Tokens) {
      std::printf("    %-16s kept in a fused run's blocks, live nodes %d..%d\n", d.name.c_str(),
                  d.producer, d.last_use);
      continue;
    }
    std::printf("    %-16s %10lld bytes at offset %10lld, live nodes %d..%d\n", d.name.c_str(),
                static_cast<long long>(plan.tensor_bytes[t]),
                static_cast<long long>(plan.tensor_offset[t]), d.producer, d.last_use);
  }
  std::printf("  arena: %lld bytes for %lld bytes of tensors (reuse saves %.0f%%)\n",
              static_cast<long long>(plan.arena_bytes), static_cast<long long>(sum),
              sum > 0
                  ? 100.0 * static_cast<double>(sum - plan.arena_bytes) / static_cast<double>(sum)
                  : 0.0);
  return kExitOk;
}

}  // namespace skein::cli
