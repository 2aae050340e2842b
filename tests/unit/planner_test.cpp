// plan_memory / place_buffers: buffers alive at the same time never share a
// byte, dead buffers' bytes are reused, offsets are aligned.
#include <doctest/doctest.h>

#include <algorithm>
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

TEST_CASE("fused runs: the layer's row-local stretches, their tensors planned without overlap") {
  skein::testing::TinyModel m(2);
  std::string dir = m.write("planner_fused");
  auto model = skein::Model::load(dir);
  const skein::Graph& graph = model->impl().graph;
  const std::vector<skein::FusedRun> runs = skein::find_fused_runs(graph);
  // Per layer: norm, q, k, v before attention; output projection to the next
  // layer's q, k, v (or the final norm) after it.
  REQUIRE(runs.size() == 3);
  for (const skein::FusedRun& run : runs) {
    CHECK(run.block_rows % 16 == 0);
    for (int n = run.first; n <= run.last; ++n) {
      CHECK(skein::is_row_local(graph.nodes[static_cast<size_t>(n)].op));
    }
    CHECK(graph.nodes[static_cast<size_t>(run.last) + 1].op != skein::OpKind::Linear);
  }
  CHECK(graph.nodes[static_cast<size_t>(runs[0].last) + 1].op == skein::OpKind::Attention);

  // Long enough that the tensors, not the per-thread block scratch, dominate.
  skein::RowCounts rows{100000, 2, 2};
  std::vector<int64_t> workspace(graph.nodes.size(), 0);
  const skein::MemoryPlan plain = skein::plan_memory(graph, rows, workspace);
  const skein::MemoryPlan plan = skein::plan_memory(graph, rows, workspace, runs, 3);
  // Attention holds q, k, v, its output and the residual either way, so the
  // peak stays; fusion adds no more than its block scratch.
  int64_t scratch_bytes = 0;
  for (const skein::FusedRun& run : runs) scratch_bytes += 3 * run.block_rows * run.local_width * 4;
  CHECK(plan.arena_bytes <= plain.arena_bytes + scratch_bytes);
  CHECK(plan.run_threads == 3);
  // Every arena tensor a run touches is live over the whole run, and so is the
  // run's scratch: none of them may share a byte, except an output taking the
  // exact bytes of an input of the same width that the run last reads before
  // it writes the output.
  int in_place = 0;
  for (size_t r = 0; r < runs.size(); ++r) {
    const skein::FusedRun& run = runs[r];
    CHECK(plan.run_block_rows[r] == run.block_rows);
    std::vector<size_t> touched;
    for (size_t t = 0; t < graph.tensors.size(); ++t) {
      const skein::TensorDesc& d = graph.tensors[t];
      if (run.local_offset[t] >= 0) {
        CHECK(plan.tensor_bytes[t] == 0);
        CHECK(d.producer >= run.first);
        CHECK(d.last_use <= run.last);
        continue;
      }
      for (int n = run.first; n <= run.last; ++n) {
        const skein::Node& node = graph.nodes[static_cast<size_t>(n)];
        bool reads = std::find(node.inputs.begin(), node.inputs.end(), static_cast<int>(t)) !=
                     node.inputs.end();
        if (reads || node.output == static_cast<int>(t)) {
          touched.push_back(t);
          break;
        }
      }
    }
    for (size_t i = 0; i < touched.size(); ++i) {
      for (size_t j = i + 1; j < touched.size(); ++j) {
        const size_t a = touched[i], b = touched[j];
        const int64_t a_end = plan.tensor_offset[a] + plan.tensor_bytes[a];
        const int64_t b_end = plan.tensor_offset[b] + plan.tensor_bytes[b];
        if (plan.tensor_offset[a] >= b_end || plan.tensor_offset[b] >= a_end) continue;
        // Shared bytes: must be the in-place case.
        const skein::TensorDesc& da = graph.tensors[a];
        const skein::TensorDesc& db = graph.tensors[b];
        const skein::TensorDesc& in = da.producer < db.producer ? da : db;
        const skein::TensorDesc& out = da.producer < db.producer ? db : da;
        CHECK(plan.tensor_offset[a] == plan.tensor_offset[b]);
        CHECK(in.width == out.width);
        CHECK(in.producer < run.first);
        CHECK(in.last_use < out.producer);
        CHECK(out.producer >= run.first);
        ++in_place;
      }
      const int64_t scratch = plan.run_scratch_offset[r];
      const int64_t scratch_end = scratch + 3 * run.block_rows * run.local_width * 4;
      CHECK((plan.tensor_offset[touched[i]] >= scratch_end ||
             scratch >= plan.tensor_offset[touched[i]] + plan.tensor_bytes[touched[i]]));
    }
    for (int n = run.first; n <= run.last; ++n) {
      CHECK(plan.workspace_bytes[static_cast<size_t>(n)] ==
            3 * run.block_rows * run.local_width * 4);
    }
  }
  // In the middle run the residual stream and the next layer's q take the
  // bytes of the layer's input and of the attention output; in the last, the
  // final norm's output takes one of them.
  CHECK(in_place == 3);
  std::filesystem::remove_all(dir);
}

TEST_CASE("plan_memory: a fused run's input that dies early keeps its bytes until the run ends") {
  // embed -> gelu -> linear -> relu -> pool: the gelu reads the embedding for
  // the last time, the relu writes a wider tensor. Node by node the relu's
  // output could take the embedding's bytes; block by block another thread may
  // still be reading embedding rows of its own block then.
  skein::Graph graph;
  auto tensor = [&](const char* name, skein::RowKind rows, int64_t width, int producer,
                    int last_use) {
    graph.tensors.push_back({name, rows, width, producer, last_use});
  };
  tensor("embed", skein::RowKind::Tokens, 8, 0, 1);
  tensor("gelu", skein::RowKind::Tokens, 8, 1, 2);
  tensor("up", skein::RowKind::Tokens, 16, 2, 3);
  tensor("relu", skein::RowKind::Tokens, 16, 3, 4);
  tensor("pooled", skein::RowKind::Sequences, 16, 4, 5);
  auto node = [&](skein::OpKind op, std::vector<int> inputs, int output) {
    skein::Node n;
    n.name = graph.tensors[static_cast<size_t>(output)].name;
    n.op = op;
    n.inputs = std::move(inputs);
    n.output = output;
    graph.nodes.push_back(std::move(n));
  };
  node(skein::OpKind::Embedding, {}, 0);
  node(skein::OpKind::Gelu, {0}, 1);
  node(skein::OpKind::Linear, {1}, 2);
  node(skein::OpKind::Relu, {2}, 3);
  node(skein::OpKind::TokenMeanPool, {3}, 4);

  const std::vector<skein::FusedRun> runs = skein::find_fused_runs(graph);
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].first == 1);
  CHECK(runs[0].last == 3);
  CHECK(runs[0].local_offset == std::vector<int64_t>{-1, 0, 8, -1, -1});
  CHECK(runs[0].local_width == 24);
  const skein::RowCounts rows{4096, 1, 1};
  const std::vector<int64_t> workspace(graph.nodes.size(), 0);
  const skein::MemoryPlan plan = skein::plan_memory(graph, rows, workspace, runs, 2);
  const int64_t embed_end = plan.tensor_offset[0] + plan.tensor_bytes[0];
  const int64_t relu_end = plan.tensor_offset[3] + plan.tensor_bytes[3];
  CHECK((plan.tensor_offset[3] >= embed_end || plan.tensor_offset[0] >= relu_end));
  CHECK(plan.tensor_bytes[1] == 0);
  CHECK(plan.tensor_bytes[2] == 0);
}
