#include "skein/session.h"

#include <omp.h>

#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

#include "core/arena.h"
#include "core/memory_stats.h"
#include "graph/executor.h"
#include "graph/model_impl.h"
#include "graph/planner.h"
#include "skein/error.h"

namespace skein {

class SessionImpl {
 public:
  SessionImpl(std::shared_ptr<const Model> model, SessionOptions options)
      : model_(std::move(model)), options_(options) {
    if (!model_) throw Error("Session: model is null");
    if (options_.threads < 0) {
      throw Error("Session: threads must be >= 0 (0 = all cores), got " +
                  std::to_string(options_.threads));
    }
    threads_ = options_.threads > 0 ? options_.threads : omp_get_num_procs();
    if (options_.max_memory_bytes < 0) {
      throw Error("Session: max_memory_bytes must be >= 0 (0 = 80% of physical memory), got " +
                  std::to_string(options_.max_memory_bytes));
    }
    memory_limit_ =
        options_.max_memory_bytes > 0 ? options_.max_memory_bytes : physical_memory_bytes() / 5 * 4;
    attention_ = make_attention(attention_spec());
    if (options_.fuse_rows) fused_runs_ = find_fused_runs(graph_impl().graph);
    reset_profile();
  }

  RunResult run(std::span<const std::span<const int32_t>> sequences, int64_t padded_length) {
    const ModelImpl& m = graph_impl();
    const Graph& graph = m.graph;
    BatchLayout batch = layout(sequences, padded_length);

    std::vector<int64_t> workspace(graph.nodes.size(), 0);
    for (size_t n = 0; n < graph.nodes.size(); ++n) {
      if (graph.nodes[n].op == OpKind::Attention) {
        workspace[n] = static_cast<int64_t>(
            attention_->workspace_bytes(attention_shape(graph.nodes[n], batch.offsets), threads_));
      }
    }
    MemoryPlan plan = plan_memory(graph, batch.rows, workspace, fused_runs_, threads_);
    if (memory_limit_ > 0 && plan.arena_bytes > memory_limit_) {
      throw Error("run needs a " + std::to_string(plan.arena_bytes) +
                  "-byte activation arena for " + std::to_string(batch.rows.tokens) +
                  " tokens, more than the session's limit of " + std::to_string(memory_limit_) +
                  " bytes (max_memory_bytes)");
    }
    arena_.reserve(plan.arena_bytes);

    ExecutionInputs inputs{batch.ids.data(), batch.offsets, batch.rows,
                           static_cast<double>(batch.padded_length), options_.seed};
    omp_set_num_threads(threads_);
    std::vector<int64_t> node_ns(graph.nodes.size());
    execute(graph, plan, arena_.data(), inputs, *attention_, fused_runs_,
            [&](size_t node, int64_t ns) { node_ns[node] = ns; });
    record_profile(plan, batch.rows, batch.offsets, node_ns);

    RunResult result;
    result.logits = read_output(graph.logits, plan, batch.rows);
    result.pooled = read_output(graph.pooled, plan, batch.rows);
    return result;
  }

  Profile profile() const { return profile_; }

  void reset_profile() {
    const Graph& graph = graph_impl().graph;
    profile_ = Profile{};
    for (const Node& node : graph.nodes) {
      NodeProfile p;
      p.name = node.name;
      p.op = op_name(node.op);
      p.layer = node.layer;
      for (const WeightRef& w : node.weights) p.weight_bytes += w.bytes;
      profile_.nodes.push_back(std::move(p));
    }
    for (size_t r = 0; r < fused_runs_.size(); ++r) {
      for (int n = fused_runs_[r].first; n <= fused_runs_[r].last; ++n) {
        profile_.nodes[static_cast<size_t>(n)].fused_run = static_cast<int>(r);
      }
    }
    for (const std::string& layer : graph.layers) {
      LayerProfile l;
      l.layer = layer;
      for (const NodeProfile& p : profile_.nodes) {
        if (p.layer == layer) l.weight_bytes += p.weight_bytes;
      }
      profile_.layers.push_back(std::move(l));
    }
  }

  const SessionOptions& options() const { return options_; }
  int threads() const { return threads_; }
  std::string attention_method() const { return attention_->name(); }
  const Model& model() const { return *model_; }

 private:
  struct BatchLayout {
    std::vector<int32_t> ids;
    std::vector<int64_t> offsets;
    RowCounts rows;
    int64_t padded_length = 0;
  };

  const ModelImpl& graph_impl() const { return model_->impl(); }

  nlohmann::json attention_spec() const {
    nlohmann::json spec = graph_impl().attention;
    if (!options_.attention.empty()) spec = {{"method", options_.attention}};
    if (options_.features < 0) {
      throw Error("Session: features must be >= 0, got " + std::to_string(options_.features));
    }
    if (options_.features > 0) spec["features"] = options_.features;
    return spec;
  }

  // Packs the sequences and applies the embedding's CLS prefix, so that every
  // later node sees exactly the rows the reference computes on real tokens.
  BatchLayout layout(std::span<const std::span<const int32_t>> sequences,
                     int64_t padded_length) const {
    const ModelConfig& cfg = model_->config();
    BatchLayout b;
    b.padded_length = padded_length == 0 ? cfg.max_seq_len : padded_length;
    if (b.padded_length < 1 || b.padded_length > cfg.max_seq_len) {
      throw Error("padded length " + std::to_string(b.padded_length) +
                  " is outside [1, max_seq_len = " + std::to_string(cfg.max_seq_len) + "]");
    }
    if (sequences.empty()) throw Error("run: the batch is empty");
    if (cfg.dual && sequences.size() % 2 != 0) {
      throw Error("run: a dual model takes pairs of sequences, got " +
                  std::to_string(sequences.size()));
    }
    int32_t cls_id = graph_impl().graph.nodes.front().op == OpKind::Embedding
                         ? graph_impl().graph.nodes.front().cls_id
                         : -1;
    b.offsets.push_back(0);
    for (size_t s = 0; s < sequences.size(); ++s) {
      std::span<const int32_t> seq = sequences[s];
      auto len = static_cast<int64_t>(seq.size());
      if (len == 0) throw Error("sequence " + std::to_string(s) + " is empty");
      if (len > b.padded_length) {
        throw Error("sequence " + std::to_string(s) + " has " + std::to_string(len) +
                    " tokens, more than the padded length " + std::to_string(b.padded_length));
      }
      for (int64_t t = 0; t < len; ++t) {
        if (seq[t] < 0 || seq[t] >= cfg.vocab_size) {
          throw Error("sequence " + std::to_string(s) + ", position " + std::to_string(t) +
                      ": token id " + std::to_string(seq[t]) +
                      " is outside [0, vocab_size = " + std::to_string(cfg.vocab_size) + ")");
        }
      }
      if (cls_id >= 0) {
        // The reference prepends CLS and drops the last padded position.
        b.ids.push_back(cls_id);
        len = std::min(len, b.padded_length - 1);
      }
      b.ids.insert(b.ids.end(), seq.begin(), seq.begin() + len);
      b.offsets.push_back(static_cast<int64_t>(b.ids.size()));
    }
    b.rows.tokens = static_cast<int64_t>(b.ids.size());
    b.rows.sequences = static_cast<int64_t>(sequences.size());
    b.rows.items = cfg.dual ? b.rows.sequences / 2 : b.rows.sequences;
    return b;
  }

  void record_profile(const MemoryPlan& plan, const RowCounts& rows,
                      std::span<const int64_t> seq_offsets, const std::vector<int64_t>& node_ns) {
    const Graph& graph = graph_impl().graph;
    profile_.runs += 1;
    profile_.arena_bytes = plan.arena_bytes;
    for (LayerProfile& l : profile_.layers) {
      l.latency_ns.push_back(0);
      l.peak_live_bytes = 0;
      l.peak_workspace_bytes = 0;
      l.flops = 0;
    }
    for (size_t n = 0; n < graph.nodes.size(); ++n) {
      NodeProfile& p = profile_.nodes[n];
      p.latency_ns.push_back(node_ns[n]);
      p.live_bytes = plan.live_bytes[n];
      p.workspace_bytes = plan.workspace_bytes[n];
      p.flops = node_flops(graph.nodes[n], rows, seq_offsets);
      LayerProfile& l = layer_of(graph.nodes[n].layer);
      l.latency_ns.back() += node_ns[n];
      l.peak_live_bytes = std::max(l.peak_live_bytes, p.live_bytes);
      l.peak_workspace_bytes = std::max(l.peak_workspace_bytes, p.workspace_bytes);
      l.flops += p.flops;
    }
    // Read once per run: the kernel timings above stay free of the /proc read.
    int64_t rss = rss_high_water_bytes();
    for (LayerProfile& l : profile_.layers) l.rss_high_water_bytes = rss;
  }

  double node_flops(const Node& node, const RowCounts& rows,
                    std::span<const int64_t> seq_offsets) const {
    const Graph& graph = graph_impl().graph;
    if (node.op == OpKind::Attention) {
      return attention_->flops(seq_offsets, node.num_heads, node.head_dim);
    }
    if (node.op != OpKind::Linear) return 0;
    const TensorDesc& x = graph.tensors[node.inputs[0]];
    const TensorDesc& y = graph.tensors[node.output];
    return 2.0 * static_cast<double>(rows.of(x.rows)) * static_cast<double>(x.width) *
           static_cast<double>(y.width);
  }

  LayerProfile& layer_of(const std::string& layer) {
    for (LayerProfile& l : profile_.layers) {
      if (l.layer == layer) return l;
    }
    throw Error("profile: unknown layer '" + layer + "'");
  }

  Matrix read_output(int tensor, const MemoryPlan& plan, const RowCounts& rows) const {
    const TensorDesc& t = graph_impl().graph.tensors[tensor];
    Matrix m;
    m.rows = rows.of(t.rows);
    m.cols = t.width;
    const auto* src = reinterpret_cast<const float*>(arena_.data() + plan.tensor_offset[tensor]);
    m.data.assign(src, src + m.rows * m.cols);
    return m;
  }

  std::shared_ptr<const Model> model_;
  SessionOptions options_;
  int threads_ = 1;
  int64_t memory_limit_ = 0;  // 0 only when physical memory is unknown
  std::unique_ptr<AttentionMethod> attention_;
  std::vector<FusedRun> fused_runs_;  // empty when options_.fuse_rows is false
  Arena arena_;
  Profile profile_;
};

Session::Session(std::shared_ptr<const Model> model, SessionOptions options)
    : impl_(std::make_unique<SessionImpl>(std::move(model), options)) {}
Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

RunResult Session::run(std::span<const std::span<const int32_t>> sequences, int64_t padded_length) {
  return impl_->run(sequences, padded_length);
}
Profile Session::profile() const {
  return impl_->profile();
}
void Session::reset_profile() {
  impl_->reset_profile();
}
const SessionOptions& Session::options() const {
  return impl_->options();
}
int Session::threads() const {
  return impl_->threads();
}
std::string Session::attention_method() const {
  return impl_->attention_method();
}
const Model& Session::model() const {
  return impl_->model();
}

}  // namespace skein
