#include "graph/executor.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <vector>

#include "ops/activations.h"
#include "ops/elementwise.h"
#include "ops/embedding.h"
#include "ops/layer_norm.h"
#include "ops/pooling.h"
#include "skein/error.h"

namespace skein {
namespace {

class NodeRunner {
 public:
  NodeRunner(const Graph& graph, const MemoryPlan& plan, std::byte* arena,
             const ExecutionInputs& inputs, const AttentionMethod& attention)
      : graph_(graph), plan_(plan), arena_(arena), in_(inputs), attention_(attention) {}

  void run(size_t index) {
    const Node& node = graph_.nodes[index];
    const TensorDesc& out_desc = graph_.tensors[node.output];
    float* out = tensor(node.output);
    int64_t rows = in_.rows.of(out_desc.rows);
    int64_t count = rows * out_desc.width;
    switch (node.op) {
      case OpKind::Embedding: {
        ops::NgramTable ngrams;
        if (node.weights.size() > 2) {
          ngrams = {node.weights[2].data, node.weights[2].shape[0], node.ngram_max};
        }
        ops::embedding(in_.ids, in_.seq_offsets, node.weights[0].data, node.weights[1].data,
                       out_desc.width, out, ngrams);
        return;
      }
      case OpKind::Attention: {
        AttentionProblem p;
        p.q = input(node, 0);
        p.k = input(node, 1);
        p.v = input(node, 2);
        p.out = out;
        p.seq_offsets = in_.seq_offsets;
        p.shape = attention_shape(node, in_.seq_offsets);
        p.seed = in_.seed;
        p.layer = attention_ordinal_++;
        if (!node.weights.empty()) {  // the optional sequence projection "E"
          p.projection = node.weights[0].data;
          p.projection_len = node.weights[0].shape[2];
        }
        auto ws = std::span<std::byte>(arena_ + plan_.workspace_offset[index],
                                       static_cast<size_t>(plan_.workspace_bytes[index]));
        attention_.run(p, ws);
        return;
      }
      case OpKind::MeanPool:
        ops::mean_pool(input(node, 0), in_.seq_offsets, out_desc.width, in_.padded_length, out);
        return;
      case OpKind::TokenMeanPool:
        ops::token_mean_pool(input(node, 0), in_.seq_offsets, out_desc.width, out);
        return;
      case OpKind::ClsPool:
        ops::cls_pool(input(node, 0), in_.seq_offsets, out_desc.width, out);
        return;
      case OpKind::Tower: {
        const float* x = input(node, 0) + node.tower_index * count;
        std::copy_n(x, count, out);
        return;
      }
      default:
        break;
    }
    std::vector<const float*> inputs;
    for (int t : node.inputs) inputs.push_back(tensor(t));
    run_row_local(node, inputs, out, rows, false);
  }

  // Runs the nodes first..last of `run` block by block over the token rows,
  // the blocks shared out among the threads. Each node's latency is the run's
  // wall time apportioned by the thread time the node took over all blocks.
  void run_fused(const FusedRun& run, size_t run_index, const NodeDone& node_done) {
    const size_t count = static_cast<size_t>(run.last - run.first + 1);
    const int threads = plan_.run_threads;
    const int64_t rows = in_.rows.tokens;
    const int64_t block_rows = plan_.run_block_rows[run_index];
    const int64_t blocks = (rows + block_rows - 1) / block_rows;
    std::vector<int64_t> thread_ns(static_cast<size_t>(threads) * count, 0);
    float* scratch = reinterpret_cast<float*>(arena_ + plan_.run_scratch_offset[run_index]);
    std::exception_ptr error;
    const int team = static_cast<int>(std::min<int64_t>(threads, blocks));
    const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(team)
    {
      const auto thread = static_cast<size_t>(omp_get_thread_num());
      float* own = scratch + static_cast<int64_t>(thread) * block_rows * run.local_width;
      int64_t* ns = thread_ns.data() + thread * count;
      std::vector<const float*> inputs;
      // Static: each thread takes one contiguous range of rows, as the
      // unfused kernels do. With dynamic scheduling the attention that
      // follows measured about 5% slower at n = 65,536 (docs/PERFORMANCE.md).
#pragma omp for schedule(static)
      for (int64_t b = 0; b < blocks; ++b) {
        const int64_t first_row = b * block_rows;
        const int64_t block = std::min(block_rows, rows - first_row);
        try {
          for (size_t i = 0; i < count; ++i) {
            const Node& node = graph_.nodes[static_cast<size_t>(run.first) + i];
            auto block_of = [&](int t) {
              const int64_t local = run.local_offset[static_cast<size_t>(t)];
              return local >= 0 ? own + block_rows * local
                                : tensor(t) + first_row * graph_.tensors[t].width;
            };
            inputs.clear();
            for (int t : node.inputs) inputs.push_back(block_of(t));
            const auto node_start = std::chrono::steady_clock::now();
            run_row_local(node, inputs, block_of(node.output), block, true);
            ns[i] += std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::steady_clock::now() - node_start)
                         .count();
          }
        } catch (...) {
#pragma omp critical(skein_fused_error)
          if (!error) error = std::current_exception();
        }
      }
    }
    if (error) std::rethrow_exception(error);
    const int64_t wall = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::steady_clock::now() - start)
                             .count();
    std::vector<int64_t> node_ns(count, 0);
    int64_t total = 0;
    for (size_t t = 0; t < static_cast<size_t>(threads); ++t) {
      for (size_t i = 0; i < count; ++i) node_ns[i] += thread_ns[t * count + i];
    }
    for (int64_t ns : node_ns) total += ns;
    for (size_t i = 0; i < count; ++i) {
      const double share = total > 0 ? static_cast<double>(node_ns[i]) / static_cast<double>(total)
                                     : 1.0 / static_cast<double>(count);
      node_done(static_cast<size_t>(run.first) + i,
                static_cast<int64_t>(share * static_cast<double>(wall)));
    }
  }

 private:
  // A row-local node on `rows` dense rows at the given pointers. `on_this_thread`:
  // called inside the fused runs' parallel region.
  void run_row_local(const Node& node, std::span<const float* const> in, float* out, int64_t rows,
                     bool on_this_thread) const {
    const int64_t width = graph_.tensors[node.output].width;
    const int64_t count = rows * width;
    switch (node.op) {
      case OpKind::LayerNorm:
        ops::layer_norm(in[0], out, rows, width, node.weights[0].data, node.weights[1].data,
                        node.eps);
        return;
      case OpKind::Linear:
        if (on_this_thread) {
          node.linear->run_rows(in[0], out, rows);
        } else {
          node.linear->run(in[0], out, rows);
        }
        return;
      case OpKind::Gelu:
        ops::gelu(in[0], out, count);
        return;
      case OpKind::Relu:
        ops::relu(in[0], out, count);
        return;
      case OpKind::Add:
        ops::add(in[0], in[1], out, count);
        return;
      case OpKind::Mul:
        ops::mul(in[0], in[1], out, count);
        return;
      case OpKind::Sub:
        ops::sub(in[0], in[1], out, count);
        return;
      case OpKind::Concat: {
        std::vector<int64_t> widths;
        for (int t : node.inputs) widths.push_back(graph_.tensors[t].width);
        ops::concat(in, widths, rows, out);
        return;
      }
      default:
        throw Error("executor: node '" + node.name + "' (" + op_name(node.op) +
                    ") is not row-local");
    }
  }

  float* tensor(int t) const {
    return reinterpret_cast<float*>(arena_ + plan_.tensor_offset[t]);
  }
  const float* input(const Node& node, size_t i) const {
    return tensor(node.inputs[i]);
  }

  const Graph& graph_;
  const MemoryPlan& plan_;
  std::byte* arena_;
  const ExecutionInputs& in_;
  const AttentionMethod& attention_;
  int64_t attention_ordinal_ = 0;
};

}  // namespace

AttentionShape attention_shape(const Node& node, std::span<const int64_t> seq_offsets) {
  AttentionShape s;
  s.num_seqs = static_cast<int64_t>(seq_offsets.size()) - 1;
  s.total_tokens = seq_offsets.back();
  for (size_t i = 0; i + 1 < seq_offsets.size(); ++i) {
    s.max_len = std::max(s.max_len, seq_offsets[i + 1] - seq_offsets[i]);
  }
  s.num_heads = node.num_heads;
  s.head_dim = node.head_dim;
  if (!node.weights.empty()) s.projection_rows = node.weights[0].shape[1];
  return s;
}

void execute(const Graph& graph, const MemoryPlan& plan, std::byte* arena,
             const ExecutionInputs& inputs, const AttentionMethod& attention,
             std::span<const FusedRun> runs, const NodeDone& node_done) {
  NodeRunner runner(graph, plan, arena, inputs, attention);
  size_t next_run = 0;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (next_run < runs.size() && static_cast<size_t>(runs[next_run].first) == i) {
      runner.run_fused(runs[next_run], next_run, node_done);
      i = static_cast<size_t>(runs[next_run].last);
      ++next_run;
      continue;
    }
    auto start = std::chrono::steady_clock::now();
    runner.run(i);
    auto elapsed = std::chrono::steady_clock::now() - start;
    node_done(i, std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
  }
}

}  // namespace skein
