// find_fused_runs: the stretches of the graph that run block by block over rows.
//
// Outside attention, a layer's nodes (norms, projections, GELU, residual adds)
// each compute one output row from the same row of their inputs. Run one node
// at a time over a long sequence, each reads and writes whole tensors in
// memory: at 1M tokens a 64 → 128 projection moves about 1.3 GB to do 17 GFLOP.
// A fused run instead takes a block of rows through all its nodes while the
// block is in cache; tensors that live only inside the run (the local ones)
// never reach the activation arena at all.
#pragma once

#include <cstdint>
#include <vector>

#include "graph/graph.h"

namespace skein {

/// Ops that compute each output row from the same row of every input.
bool is_row_local(OpKind op);

struct FusedRun {
  int first = 0;  // node indices, inclusive, consecutive in the graph
  int last = 0;
  /// Rows per block at most: sized so that one block of every tensor the run
  /// touches takes about kFusedBlockBytes; a multiple of 16 (the plan may
  /// take fewer for a short batch, MemoryPlan::run_block_rows).
  int64_t block_rows = 0;
  /// Per graph tensor: when it is local to the run (produced and last read
  /// inside it), the floats per block row before it in a thread's block
  /// scratch (its block starts at block_rows × local_offset floats), else -1.
  std::vector<int64_t> local_offset;
  /// Floats per block row of all the local tensors together.
  int64_t local_width = 0;
};

/// Bytes of one block across all the tensors a run touches. Measured at
/// n = 262,144 with the reference dims on 2 threads (docs/PERFORMANCE.md), the
/// layers outside attention took 498–565 ms at 96 KiB, 401–455 at 192, 355–367
/// at 384, 327–351 at 768 and 333–378 at 1536: blocks larger than the 512 KiB
/// L2 still win, the fixed cost per block (kernel calls, tile edges, timing)
/// weighing more than the extra traffic to L3.
inline constexpr int64_t kFusedBlockBytes = int64_t{768} << 10;

/// The maximal stretches of at least two consecutive row-local nodes on token
/// rows that keep at least one tensor local, in graph order.
std::vector<FusedRun> find_fused_runs(const Graph& graph);

}  // namespace skein
