// execute: runs a planned graph on one batch, node by node or, for the fused
// runs, block by block over rows, timing each node.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "attention/attention.h"
#include "graph/graph.h"
#include "graph/planner.h"

namespace skein {

struct ExecutionInputs {
  const int32_t* ids = nullptr;          // packed ids, rows.tokens entries
  std::span<const int64_t> seq_offsets;  // rows.sequences + 1 token offsets
  RowCounts rows;
  double padded_length = 0;  // MEAN pooling divisor
  uint64_t seed = 0;         // for randomized attention methods
};

/// Called after each node with its index and kernel wall time in nanoseconds
/// (for a node of a fused run: its share of the run's wall time).
using NodeDone = std::function<void(size_t node, int64_t elapsed_ns)>;

/// The shape of an attention node's call on a batch with `seq_offsets`.
AttentionShape attention_shape(const Node& node, std::span<const int64_t> seq_offsets);

/// Runs every node of `graph` in order with buffers at `arena` + plan offsets;
/// the nodes of each of `runs` (planned into `plan`) block by block over rows.
void execute(const Graph& graph, const MemoryPlan& plan, std::byte* arena,
             const ExecutionInputs& inputs, const AttentionMethod& attention,
             std::span<const FusedRun> runs, const NodeDone& node_done);

}  // namespace skein
