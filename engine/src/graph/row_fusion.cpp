#include "graph/row_fusion.h"

#include <algorithm>

namespace skein {
namespace {

// Block rows are a multiple of 16, so that every block starts 64-byte aligned,
// in the arena (first row × width floats) and in the scratch (block rows ×
// offset floats).
constexpr int64_t kBlockAlign = 16;
constexpr int64_t kMaxBlockRows = 512;

bool fusable(const Graph& graph, const Node& node) {
  if (!is_row_local(node.op)) return false;
  if (graph.tensors[node.output].rows != RowKind::Tokens) return false;
  return std::all_of(node.inputs.begin(), node.inputs.end(),
                     [&](int t) { return graph.tensors[t].rows == RowKind::Tokens; });
}

FusedRun make_run(const Graph& graph, int first, int last) {
  FusedRun run;
  run.first = first;
  run.last = last;
  run.local_offset.assign(graph.tensors.size(), -1);
  std::vector<bool> touched(graph.tensors.size(), false);
  for (int n = first; n <= last; ++n) {
    const Node& node = graph.nodes[static_cast<size_t>(n)];
    touched[static_cast<size_t>(node.output)] = true;
    for (int t : node.inputs) touched[static_cast<size_t>(t)] = true;
  }
  int64_t row_floats = 0;
  for (size_t t = 0; t < graph.tensors.size(); ++t) {
    if (touched[t]) row_floats += graph.tensors[t].width;
  }
  run.block_rows = kFusedBlockBytes / (row_floats * int64_t{sizeof(float)});
  run.block_rows =
      std::clamp(run.block_rows / kBlockAlign * kBlockAlign, kBlockAlign, kMaxBlockRows);

  for (size_t t = 0; t < graph.tensors.size(); ++t) {
    const TensorDesc& d = graph.tensors[t];
    if (d.producer >= first && d.producer <= last && d.last_use <= last) {
      run.local_offset[t] = run.local_width;
      run.local_width += d.width;
    }
  }
  return run;
}

}  // namespace

bool is_row_local(OpKind op) {
  switch (op) {
    case OpKind::LayerNorm:
    case OpKind::Linear:
    case OpKind::Gelu:
    case OpKind::Relu:
    case OpKind::Add:
    case OpKind::Mul:
    case OpKind::Sub:
    case OpKind::Concat:
      return true;
    default:
      return false;
  }
}

std::vector<FusedRun> find_fused_runs(const Graph& graph) {
  std::vector<FusedRun> runs;
  const int count = static_cast<int>(graph.nodes.size());
  for (int first = 0; first < count;) {
    if (!fusable(graph, graph.nodes[static_cast<size_t>(first)])) {
      ++first;
      continue;
    }
    int last = first;
    while (last + 1 < count && fusable(graph, graph.nodes[static_cast<size_t>(last + 1)])) ++last;
    if (last > first) {
      FusedRun run = make_run(graph, first, last);
      if (run.local_width > 0) runs.push_back(std::move(run));
    }
    first = last + 1;
  }
  return runs;
}

}  // namespace skein
