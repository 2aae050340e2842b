// plan_memory: assigns every activation and kernel workspace an offset in one
// arena from its lifetime, reusing the bytes of buffers that are dead.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "graph/graph.h"
#include "graph/row_fusion.h"

namespace skein {

/// Row counts of one run: how many rows each RowKind has.
struct RowCounts {
  int64_t tokens = 0;
  int64_t sequences = 0;
  int64_t items = 0;

  int64_t of(RowKind kind) const {
    return kind == RowKind::Tokens ? tokens : kind == RowKind::Sequences ? sequences : items;
  }
};

/// Every buffer is 64-byte aligned inside the arena.
inline constexpr int64_t kArenaAlignment = 64;

struct MemoryPlan {
  std::vector<int64_t> tensor_offset;       // per tensor
  std::vector<int64_t> tensor_bytes;        // per tensor
  std::vector<int64_t> workspace_offset;    // per node (valid when workspace_bytes > 0)
  std::vector<int64_t> workspace_bytes;     // per node
  std::vector<int64_t> live_bytes;          // per node: bytes of buffers live while it runs
  std::vector<int64_t> run_scratch_offset;  // per fused run: its threads' block scratch
  std::vector<int64_t> run_block_rows;      // per fused run: rows per block in this plan
  int run_threads = 1;                      // threads the block scratch was sized for
  int64_t arena_bytes = 0;                  // high-water offset: the arena size to allocate
};

/// A buffer to place: `bytes` live from node `first` to node `last` inclusive.
struct BufferLifetime {
  int64_t bytes = 0;
  int first = 0;
  int last = 0;
};

/// Places buffers so that no two with overlapping lifetimes share a byte,
/// largest first, each at the lowest offset that fits. Returns offsets.
std::vector<int64_t> place_buffers(std::span<const BufferLifetime> buffers, int64_t* arena_bytes);

/// Plans a run of `graph` with `rows`; `workspace_bytes` has one entry per node.
/// Tensors local to one of `runs` take no arena bytes (tensor_bytes 0); each
/// run instead gets a block of scratch per thread, live over its nodes and
/// counted as their workspace. Arena tensors a run touches stay live over the
/// whole run, and an output of a run may share the offset of an input that
/// dies in it (same width: in place, row by row).
MemoryPlan plan_memory(const Graph& graph, const RowCounts& rows,
                       std::span<const int64_t> workspace_bytes,
                       std::span<const FusedRun> runs = {}, int threads = 1);

}  // namespace skein
