#include "graph/planner.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "skein/error.h"

namespace skein {
namespace {

int64_t align_up(int64_t bytes) {
  return (bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
}

bool overlap_in_time(const BufferLifetime& a, const BufferLifetime& b) {
  return a.first <= b.last && b.first <= a.last;
}

// A fused run works on all its nodes at once (one block of rows each, blocks in
// parallel), so every arena tensor it reads or writes stays live from the
// run's first node to its last: a tensor last read by an early node of the run
// must not share bytes with one written by a later node. The exception is in
// place: an output of the run may take the very bytes of an input of the same
// width that dies in the run before the output is written, because a block
// reads its rows of the input before it writes the same rows of the output,
// and no other block touches those rows.
void place_fused_run(const Graph& graph, const FusedRun& run, const std::vector<bool>& local,
                     std::vector<BufferLifetime>& buffers, std::vector<size_t>& owner) {
  std::vector<int> touched;
  for (int n = run.first; n <= run.last; ++n) {
    const Node& node = graph.nodes[static_cast<size_t>(n)];
    for (int t : node.inputs) touched.push_back(t);
    touched.push_back(node.output);
  }
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  std::vector<int> dying;    // produced before the run, last read inside it
  std::vector<int> outputs;  // produced inside the run, read after it
  for (int t : touched) {
    const TensorDesc& d = graph.tensors[static_cast<size_t>(t)];
    if (local[static_cast<size_t>(t)]) continue;
    BufferLifetime& b = buffers[owner[static_cast<size_t>(t)]];
    b.first = std::min(b.first, run.first);
    b.last = std::max(b.last, run.last);
    if (d.producer < run.first && d.last_use <= run.last) dying.push_back(t);
    if (d.producer >= run.first) outputs.push_back(t);
  }
  for (int y : outputs) {
    const TensorDesc& out = graph.tensors[static_cast<size_t>(y)];
    for (int& x : dying) {
      if (x < 0) continue;
      const TensorDesc& in = graph.tensors[static_cast<size_t>(x)];
      if (in.width != out.width || in.rows != out.rows || in.last_use >= out.producer) continue;
      owner[static_cast<size_t>(y)] = owner[static_cast<size_t>(x)];
      BufferLifetime& shared = buffers[owner[static_cast<size_t>(x)]];
      shared.last = std::max(shared.last, buffers[static_cast<size_t>(y)].last);
      buffers[static_cast<size_t>(y)].bytes = 0;
      x = -1;
      break;
    }
  }
}

}  // namespace

std::vector<int64_t> place_buffers(std::span<const BufferLifetime> buffers, int64_t* arena_bytes) {
  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), size_t{0});
  // Largest first packs better; ties by start keep the plan deterministic.
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return buffers[a].bytes > buffers[b].bytes; });

  std::vector<int64_t> offset(buffers.size(), -1);
  std::vector<size_t> placed;
  int64_t high_water = 0;
  for (size_t i : order) {
    int64_t size = align_up(buffers[i].bytes);
    if (size == 0) {
      offset[i] = 0;
      continue;
    }
    // Busy intervals of the placed buffers alive at the same time, by offset.
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (size_t j : placed) {
      if (overlap_in_time(buffers[i], buffers[j])) {
        busy.emplace_back(offset[j], offset[j] + align_up(buffers[j].bytes));
      }
    }
    std::sort(busy.begin(), busy.end());
    int64_t candidate = 0;
    for (const auto& [begin, end] : busy) {
      if (candidate + size <= begin) break;
      candidate = std::max(candidate, end);
    }
    offset[i] = candidate;
    high_water = std::max(high_water, candidate + size);
    placed.push_back(i);
  }
  *arena_bytes = high_water;
  return offset;
}

MemoryPlan plan_memory(const Graph& graph, const RowCounts& rows,
                       std::span<const int64_t> workspace_bytes, std::span<const FusedRun> runs,
                       int threads) {
  if (workspace_bytes.size() != graph.nodes.size()) {
    throw Error("plan_memory: one workspace size per node expected");
  }
  if (threads < 1) throw Error("plan_memory: threads must be >= 1, got " + std::to_string(threads));
  const size_t num_tensors = graph.tensors.size();
  const size_t num_nodes = graph.nodes.size();
  std::vector<bool> local(num_tensors, false);
  for (const FusedRun& run : runs) {
    for (size_t t = 0; t < num_tensors; ++t) local[t] = local[t] || run.local_offset[t] >= 0;
  }
  std::vector<BufferLifetime> buffers;
  std::vector<int64_t> tensor_bytes;
  for (size_t t = 0; t < num_tensors; ++t) {
    const TensorDesc& d = graph.tensors[t];
    tensor_bytes.push_back(local[t] ? 0 : rows.of(d.rows) * d.width * int64_t{sizeof(float)});
    buffers.push_back({tensor_bytes.back(), d.producer, d.last_use});
  }
  // owner[t]: the tensor whose buffer t lives in (itself unless in place).
  std::vector<size_t> owner(num_tensors);
  std::iota(owner.begin(), owner.end(), size_t{0});
  for (const FusedRun& run : runs) place_fused_run(graph, run, local, buffers, owner);
  for (size_t n = 0; n < num_nodes; ++n) {
    buffers.push_back({workspace_bytes[n], static_cast<int>(n), static_cast<int>(n)});
  }
  MemoryPlan plan;
  std::vector<int64_t> scratch_bytes;
  for (const FusedRun& run : runs) {
    // A short batch takes one block of fewer rows, on fewer threads.
    const int64_t tokens = std::max<int64_t>(rows.tokens, 1);
    const int64_t block_rows = std::min(run.block_rows, (tokens + 15) / 16 * 16);
    const int64_t blocks = (tokens + block_rows - 1) / block_rows;
    plan.run_block_rows.push_back(block_rows);
    scratch_bytes.push_back(std::min<int64_t>(threads, blocks) * block_rows * run.local_width *
                            int64_t{sizeof(float)});
    buffers.push_back({scratch_bytes.back(), run.first, run.last});
  }

  std::vector<int64_t> offsets = place_buffers(buffers, &plan.arena_bytes);
  for (size_t t = 0; t < num_tensors; ++t) plan.tensor_offset.push_back(offsets[owner[t]]);
  plan.tensor_bytes = tensor_bytes;
  plan.workspace_offset.assign(offsets.begin() + static_cast<ptrdiff_t>(num_tensors),
                               offsets.begin() + static_cast<ptrdiff_t>(num_tensors + num_nodes));
  plan.run_scratch_offset.assign(offsets.begin() + static_cast<ptrdiff_t>(num_tensors + num_nodes),
                                 offsets.end());
  plan.run_threads = threads;
  plan.workspace_bytes.assign(workspace_bytes.begin(), workspace_bytes.end());
  for (size_t r = 0; r < runs.size(); ++r) {
    for (int n = runs[r].first; n <= runs[r].last; ++n) {
      plan.workspace_bytes[static_cast<size_t>(n)] += scratch_bytes[r];
    }
  }

  plan.live_bytes.assign(num_nodes, 0);
  for (const BufferLifetime& b : buffers) {
    for (int n = b.first; n <= std::min(b.last, static_cast<int>(num_nodes) - 1); ++n) {
      plan.live_bytes[static_cast<size_t>(n)] += align_up(b.bytes);
    }
  }
  return plan;
}

}  // namespace skein
