#include "graph/executor.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "ops/activations.h"
#include "ops/elementwise.h"
#include "ops/embedding.h"
#include "ops/layer_norm.h"
#include "ops/pooling.h"

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
      case OpKind::Embedding:
        ops::embedding(in_.ids, in_.seq_offsets, node.weights[0].data, node.weights[1].data,
                       out_desc.width, out);
        break;
      case OpKind::LayerNorm:
        ops::layer_norm(input(node, 0), out, rows, out_desc.width, node.weights[0].data,
                        node.weights[1].data, node.eps);
        break;
      case OpKind::Linear:
        node.linear->run(input(node, 0), out, rows);
        break;
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
        break;
      }
      case OpKind::Gelu:
        ops::gelu(input(node, 0), out, count);
        break;
      case OpKind::Relu:
        ops::relu(input(node, 0), out, count);
        break;
      case OpKind::Add:
        ops::add(input(node, 0), input(node, 1), out, count);
        break;
      case OpKind::Mul:
        ops::mul(input(node, 0), input(node, 1), out, count);
        break;
      case OpKind::Sub:
        ops::sub(input(node, 0), input(node, 1), out, count);
        break;
      case OpKind::Concat: {
        std::vector<const float*> parts;
        std::vector<int64_t> widths;
        for (int t : node.inputs) {
          parts.push_back(tensor(t));
          widths.push_back(graph_.tensors[t].width);
        }
        ops::concat(parts, widths, rows, out);
        break;
      }
      case OpKind::MeanPool:
        ops::mean_pool(input(node, 0), in_.seq_offsets, out_desc.width, in_.padded_length, out);
        break;
      case OpKind::TokenMeanPool:
        ops::token_mean_pool(input(node, 0), in_.seq_offsets, out_desc.width, out);
        break;
      case OpKind::ClsPool:
        ops::cls_pool(input(node, 0), in_.seq_offsets, out_desc.width, out);
        break;
      case OpKind::Tower: {
        const float* x = input(node, 0) + node.tower_index * count;
        std::copy_n(x, count, out);
        break;
      }
    }
  }

 private:
  float* tensor(int t) const { return reinterpret_cast<float*>(arena_ + plan_.tensor_offset[t]); }
  const float* input(const Node& node, size_t i) const { return tensor(node.inputs[i]); }

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
             const NodeDone& node_done) {
  NodeRunner runner(graph, plan, arena, inputs, attention);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    auto start = std::chrono::steady_clock::now();
    runner.run(i);
    auto elapsed = std::chrono::steady_clock::now() - start;
    node_done(i, std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
  }
}

}  // namespace skein
