// plan_memory / place_buffers: buffers alive at the same time never share a
// byte, dead buffers' bytes are reused, offsets are aligned.
#include <doctest/doctest.h>

#include <random>

#include "graph/model_impl.h"
#include "graph/planner.h"
#include "model_fixture.h"
#include "skein/skein.h"

using skein::BufferLifetime;

namespace {

void check_no_conflicts(const std::vector<BufferLifetime>& buffers,
                        const std::vector<int64_t>& offsets, int64_t arena) {
  for (size_t i = 0; i < buffers.size(); ++i) {
    CHECK(offsets[i] % skein::kArenaAlignment == 0);
    CHECK(offsets[i] + buffers[i].bytes <= arena);
    for (size_t j = i + 1; j < buffers.size(); ++j) {
      bool same_time = buffers[i].first <= buffers[j].last && buffers[j].first <= buffers[i].last;
      bool same_bytes =
          offsets[i] < offsets[j] + buffers[j].bytes && offsets[j] < offsets[i] + buffers[i].bytes;
      if (buffers[i].bytes > 0 && buffers[j].bytes > 0) CHECK_FALSE((same_time && same_bytes));
    }
  }
}

}  // namespace

TEST_CASE("place_buffers: random lifetimes never overlap, and reuse happens") {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::uniform_int_distribution<int> count_dist(1, 40), time(0, 30), size(0, 5000);
    std::vector<BufferLifetime> buffers(static_cast<size_t>(count_dist(rng)));
    int64_t total = 0;
    for (auto& b : buffers) {
      int a = time(rng), c = time(rng);
      b = {size(rng), std::min(a, c), std::max(a, c)};
      total += (b.bytes + 63) / 64 * 64;
    }
    int64_t arena = 0;
    std::vector<int64_t> offsets = skein::place_buffers(buffers, &arena);
    check_no_conflicts(buffers, offsets, arena);
    CHECK(arena <= total);
  }
}

TEST_CASE("place_buffers: a chain of short-lived buffers reuses two slots") {
  std::vector<BufferLifetime> chain;
  for (int i = 0; i < 10; ++i) chain.push_back({1000, i, i + 1});
  int64_t arena = 0;
  skein::place_buffers(chain, &arena);
  CHECK(arena == 2 * 1024);
}

TEST_CASE("plan_memory on a model: live bytes add up and the arena is smaller than the sum") {
  skein::testing::TinyModel m(3);
  std::string dir = m.write("planner");
  auto model = skein::Model::load(dir);
  const skein::Graph& graph = model->impl().graph;
  skein::RowCounts rows{1000, 2, 2};
  std::vector<int64_t> workspace(graph.nodes.size(), 0);
  workspace[5] = 4096;  // attn-0
  skein::MemoryPlan plan = skein::plan_memory(graph, rows, workspace);

  std::vector<BufferLifetime> buffers;
  int64_t sum = 0;
  for (size_t t = 0; t < graph.tensors.size(); ++t) {
    buffers.push_back({plan.tensor_bytes[t], graph.tensors[t].producer, graph.tensors[t].last_use});
    sum += plan.tensor_bytes[t];
  }
  std::vector<int64_t> offsets = plan.tensor_offset;
  buffers.push_back({4096, 5, 5});
  offsets.push_back(plan.workspace_offset[5]);
  check_no_conflicts(buffers, offsets, plan.arena_bytes);
  CHECK(plan.arena_bytes < sum / 2);
  CHECK(plan.tensor_bytes[0] == 1000 * 8 * 4);
  CHECK(plan.live_bytes[5] >= 4 * 1000 * 8 * 4 + 4096);  // q, k, v, out and workspace
  std::filesystem::remove_all(dir);
}
