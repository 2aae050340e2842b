#include "graph/planner.h"

#include <algorithm>
#include <numeric>

#include "skein/error.h"

namespace skein {
namespace {

int64_t align_up(int64_t bytes) {
  return (bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
}

bool overlap_in_time(const BufferLifetime& a, const BufferLifetime& b) {
  return a.first <= b.last && b.first <= a.last;
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
                       std::span<const int64_t> workspace_bytes) {
  if (workspace_bytes.size() != graph.nodes.size()) {
    throw Error("plan_memory: one workspace size per node expected");
  }
  std::vector<BufferLifetime> buffers;
  for (const TensorDesc& t : graph.tensors) {
    int64_t bytes = rows.of(t.rows) * t.width * int64_t{sizeof(float)};
    buffers.push_back({bytes, t.producer, t.last_use});
  }
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    buffers.push_back({workspace_bytes[n], static_cast<int>(n), static_cast<int>(n)});
  }

  MemoryPlan plan;
  std::vector<int64_t> offsets = place_buffers(buffers, &plan.arena_bytes);
  size_t num_tensors = graph.tensors.size();
  plan.tensor_offset.assign(offsets.begin(), offsets.begin() + num_tensors);
  plan.workspace_offset.assign(offsets.begin() + num_tensors, offsets.end());
  for (size_t t = 0; t < num_tensors; ++t) plan.tensor_bytes.push_back(buffers[t].bytes);
  plan.workspace_bytes.assign(workspace_bytes.begin(), workspace_bytes.end());

  plan.live_bytes.assign(graph.nodes.size(), 0);
  for (const BufferLifetime& b : buffers) {
    for (int n = b.first; n <= std::min(b.last, static_cast<int>(graph.nodes.size()) - 1); ++n) {
      plan.live_bytes[n] += align_up(b.bytes);
    }
  }
  return plan;
}

}  // namespace skein
