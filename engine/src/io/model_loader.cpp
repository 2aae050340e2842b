#include "io/model_loader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <unordered_map>

#include "attention/attention.h"
#include "graph/tokenizer.h"
#include "skein/error.h"

namespace skein {
namespace {

using nlohmann::json;

// Upper bounds that keep every size product far from int64 overflow.
constexpr int64_t kMaxDim = int64_t{1} << 20;
constexpr int64_t kMaxSeqLen = int64_t{1} << 26;

// Builds messages of the form "<file>: <where>: <what>".
class Context {
 public:
  Context(std::string file, std::string where) : file_(std::move(file)), where_(std::move(where)) {}
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(file_ + ": " + where_ + ": " + what);
  }
  Context field(const std::string& name) const { return {file_, where_ + "." + name}; }
  Context element(size_t index) const {
    return {file_, where_ + "[" + std::to_string(index) + "]"};
  }
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::string where_;
};

const json& require(const json& obj, const std::string& key, const Context& ctx) {
  auto it = obj.find(key);
  if (it == obj.end()) ctx.fail("missing field '" + key + "'");
  return *it;
}

int64_t read_int(const json& obj, const std::string& key, const Context& ctx, int64_t lo,
                 int64_t hi) {
  const json& v = require(obj, key, ctx);
  Context here = ctx.field(key);
  if (!v.is_number_integer()) here.fail("expected an integer, got " + v.dump());
  int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(kMaxSeqLen * kMaxDim)
                  ? hi + 1
                  : v.get<int64_t>();
  if (x < lo || x > hi) {
    here.fail("value " + v.dump() + " is outside [" + std::to_string(lo) + ", " +
              std::to_string(hi) + "]");
  }
  return x;
}

std::string read_string(const json& obj, const std::string& key, const Context& ctx) {
  const json& v = require(obj, key, ctx);
  if (!v.is_string() || v.get<std::string>().empty()) {
    ctx.field(key).fail("expected a non-empty string, got " + v.dump());
  }
  return v.get<std::string>();
}

void check_keys(const json& obj, const std::set<std::string>& allowed, const Context& ctx) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (!allowed.count(it.key())) ctx.fail("unknown field '" + it.key() + "'");
  }
}

ModelConfig read_config(const json& doc, const Context& root) {
  const json& c = require(doc, "config", root);
  Context ctx = root.field("config");
  if (!c.is_object()) ctx.fail("expected an object");
  ModelConfig cfg;
  cfg.vocab_size = read_int(c, "vocab_size", ctx, 1, kMaxDim);
  cfg.dim = read_int(c, "dim", ctx, 1, kMaxDim);
  cfg.hidden_dim = read_int(c, "hidden_dim", ctx, 1, kMaxDim);
  cfg.num_heads = read_int(c, "num_heads", ctx, 1, 4096);
  cfg.head_dim = read_int(c, "head_dim", ctx, 1, kMaxDim);
  cfg.num_layers = read_int(c, "num_layers", ctx, 0, 4096);
  cfg.max_seq_len = read_int(c, "max_seq_len", ctx, 1, kMaxSeqLen);
  cfg.num_classes = read_int(c, "num_classes", ctx, 1, kMaxDim);
  cfg.pooling = read_string(c, "pooling", ctx);
  if (cfg.pooling != "mean" && cfg.pooling != "token_mean" && cfg.pooling != "cls") {
    ctx.field("pooling").fail("expected \"mean\", \"token_mean\" or \"cls\", got \"" + cfg.pooling +
                              "\"");
  }
  const json& dual = require(c, "dual", ctx);
  if (!dual.is_boolean()) ctx.field("dual").fail("expected true or false, got " + dual.dump());
  cfg.dual = dual.get<bool>();
  return cfg;
}

struct OpSchema {
  OpKind op;
  int min_inputs;
  int max_inputs;
  std::vector<std::string> weight_roles;
  std::set<std::string> attrs;
};

const std::unordered_map<std::string, OpSchema>& op_schemas() {
  static const std::unordered_map<std::string, OpSchema> schemas = {
      {"embedding", {OpKind::Embedding, 1, 1, {"token", "position"}, {"cls_id", "ngram_max"}}},
      {"layer_norm", {OpKind::LayerNorm, 1, 1, {"weight", "bias"}, {"eps"}}},
      {"linear", {OpKind::Linear, 1, 1, {"weight", "bias"}, {}}},
      {"attention", {OpKind::Attention, 3, 3, {}, {"num_heads", "head_dim"}}},
      {"gelu", {OpKind::Gelu, 1, 1, {}, {}}},
      {"relu", {OpKind::Relu, 1, 1, {}, {}}},
      {"add", {OpKind::Add, 2, 2, {}, {}}},
      {"mul", {OpKind::Mul, 2, 2, {}, {}}},
      {"sub", {OpKind::Sub, 2, 2, {}, {}}},
      {"concat", {OpKind::Concat, 2, 64, {}, {}}},
      {"mean_pool", {OpKind::MeanPool, 1, 1, {}, {}}},
      {"token_mean_pool", {OpKind::TokenMeanPool, 1, 1, {}, {}}},
      {"cls_pool", {OpKind::ClsPool, 1, 1, {}, {}}},
      {"tower", {OpKind::Tower, 1, 1, {}, {"index"}}},
  };
  return schemas;
}

std::string known_ops() {
  std::set<std::string> names;
  for (const auto& [name, schema] : op_schemas()) names.insert(name);
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// Builds the graph node by node, inferring every tensor's shape and checking
// each weight against the shape its node needs.
class GraphBuilder {
 public:
  GraphBuilder(const ModelConfig& cfg, const SafetensorsFile& weights, std::string json_path)
      : cfg_(cfg), weights_(weights), json_path_(std::move(json_path)) {}

  Graph build(const json& doc) {
    Context root(json_path_, "model");
    const json& nodes = require(doc, "nodes", root);
    if (!nodes.is_array() || nodes.empty()) root.field("nodes").fail("expected a non-empty array");
    for (size_t i = 0; i < nodes.size(); ++i) add_node(nodes[i], static_cast<int>(i));
    resolve_outputs(doc, root);
    check_all_used();
    return std::move(graph_);
  }

 private:
  void add_node(const json& n, int index) {
    Context ctx(json_path_, "node #" + std::to_string(index));
    if (!n.is_object()) ctx.fail("expected an object, got " + n.dump());
    std::string name = read_string(n, "name", ctx);
    ctx = Context(json_path_, "node '" + name + "' (#" + std::to_string(index) + ")");
    check_keys(n, {"name", "op", "layer", "inputs", "outputs", "weights", "attrs"}, ctx);
    if (!node_names_.insert(name).second) ctx.fail("duplicate node name");

    std::string op = read_string(n, "op", ctx);
    auto schema_it = op_schemas().find(op);
    if (schema_it == op_schemas().end()) {
      ctx.field("op").fail("unknown op '" + op + "' (known: " + known_ops() + ")");
    }
    const OpSchema& schema = schema_it->second;

    Node node;
    node.name = name;
    node.op = schema.op;
    node.layer = read_string(n, "layer", ctx);
    if (std::find(graph_.layers.begin(), graph_.layers.end(), node.layer) == graph_.layers.end()) {
      graph_.layers.push_back(node.layer);
    }

    const json& attrs = n.contains("attrs") ? n["attrs"] : json::object();
    if (!attrs.is_object()) ctx.field("attrs").fail("expected an object");
    check_keys(attrs, schema.attrs, ctx.field("attrs"));

    read_inputs(n, schema, node, index, ctx);
    read_weights(n, schema, node, ctx);
    TensorDesc out = infer_output(node, attrs, ctx);
    add_output(n, node, std::move(out), index, ctx);
    graph_.nodes.push_back(std::move(node));
  }

  void read_inputs(const json& n, const OpSchema& schema, Node& node, int index,
                   const Context& ctx) {
    const json& inputs = require(n, "inputs", ctx);
    Context ictx = ctx.field("inputs");
    if (!inputs.is_array()) ictx.fail("expected an array of tensor names");
    auto count = static_cast<int>(inputs.size());
    if (count < schema.min_inputs || count > schema.max_inputs) {
      ictx.fail(
          "op '" + std::string(op_name(schema.op)) + "' takes " +
          (schema.min_inputs == schema.max_inputs
               ? std::to_string(schema.min_inputs)
               : std::to_string(schema.min_inputs) + " to " + std::to_string(schema.max_inputs)) +
          " inputs, got " + std::to_string(count));
    }
    for (const json& in : inputs) {
      if (!in.is_string()) ictx.fail("expected a tensor name, got " + in.dump());
      const std::string& tname = in.get_ref<const std::string&>();
      if (schema.op == OpKind::Embedding) {
        if (tname != "ids") ictx.fail("embedding reads the graph input 'ids', got '" + tname + "'");
        continue;
      }
      auto it = tensor_index_.find(tname);
      if (it == tensor_index_.end()) {
        ictx.fail(tname == "ids" ? "only an embedding node may read 'ids'"
                                 : "tensor '" + tname + "' is not produced by an earlier node");
      }
      node.inputs.push_back(it->second);
      graph_.tensors[it->second].last_use = index;
    }
  }

  void read_weights(const json& n, const OpSchema& schema, Node& node, const Context& ctx) {
    const json& w = n.contains("weights") ? n["weights"] : json::object();
    Context wctx = ctx.field("weights");
    if (!w.is_object()) wctx.fail("expected an object");
    std::set<std::string> roles(schema.weight_roles.begin(), schema.weight_roles.end());
    // Attention may carry the model's learned sequence projection (Linformer's E), an embedding
    // its hashed n-gram table.
    std::vector<std::string> optional;
    if (schema.op == OpKind::Attention) optional = {"E"};
    if (schema.op == OpKind::Embedding) optional = {"ngram"};
    roles.insert(optional.begin(), optional.end());
    check_keys(w, roles, wctx);
    std::vector<std::string> present = schema.weight_roles;
    for (const std::string& role : optional) {
      if (w.contains(role)) present.push_back(role);
    }
    for (const std::string& role : present) {
      std::string tname = read_string(w, role, wctx);
      const TensorInfo* info = weights_.find(tname);
      if (!info) {
        wctx.field(role).fail("tensor '" + tname + "' is not in " + weights_.path());
      }
      if (info->dtype != Dtype::F32) {
        wctx.field(role).fail("tensor '" + tname + "' has dtype " +
                              std::string(dtype_name(info->dtype)) + ", expected F32");
      }
      used_weights_.insert(tname);
      node.weights.push_back(WeightRef{tname, info->shape,
                                       reinterpret_cast<const float*>(info->data),
                                       static_cast<int64_t>(info->nbytes)});
    }
  }

  void expect_shape(const Node& node, size_t role_index, const std::vector<int64_t>& expected,
                    const Context& ctx) const {
    const WeightRef& w = node.weights[role_index];
    if (w.shape != expected) {
      const OpSchema& schema = op_schemas().at(op_name(node.op));
      ctx.field("weights")
          .field(schema.weight_roles[role_index])
          .fail("tensor '" + w.name + "' has shape " + shape_text(w.shape) + ", expected " +
                shape_text(expected));
    }
  }

  const TensorDesc& input(const Node& node, size_t i) const {
    return graph_.tensors[node.inputs[i]];
  }

  static int64_t attr_int(const json& attrs, const std::string& key, const Context& ctx, int64_t lo,
                          int64_t hi) {
    return read_int(attrs, key, ctx.field("attrs"), lo, hi);
  }

  // The optional "ngram" weight [buckets, dim] comes with the attribute ngram_max (2..8).
  void read_ngram_table(Node& node, const json& attrs, const Context& ctx) const {
    if (node.weights.size() < 3) {
      if (attrs.contains("ngram_max")) {
        ctx.field("attrs").field("ngram_max").fail("given without the weight 'ngram'");
      }
      return;
    }
    const WeightRef& table = node.weights[2];
    constexpr int64_t kMaxBuckets = int64_t{1} << 31;
    if (table.shape.size() != 2 || table.shape[0] < 1 || table.shape[0] > kMaxBuckets ||
        table.shape[1] != cfg_.dim) {
      ctx.field("weights").field("ngram").fail(
          "tensor '" + table.name + "' has shape " + shape_text(table.shape) + ", expected [" +
          "buckets, " + std::to_string(cfg_.dim) + "] (1 <= buckets <= 2^31, dim)");
    }
    if (!attrs.contains("ngram_max")) {
      ctx.field("attrs").fail("the weight 'ngram' needs the attribute ngram_max");
    }
    node.ngram_max = static_cast<int>(attr_int(attrs, "ngram_max", ctx, 2, 8));
  }

  TensorDesc infer_output(Node& node, const json& attrs, const Context& ctx) {
    TensorDesc out;
    switch (node.op) {
      case OpKind::Embedding: {
        expect_shape(node, 0, {cfg_.vocab_size, cfg_.dim}, ctx);
        expect_shape(node, 1, {cfg_.max_seq_len, cfg_.dim}, ctx);
        if (attrs.contains("cls_id")) {
          node.cls_id =
              static_cast<int32_t>(attr_int(attrs, "cls_id", ctx, 0, cfg_.vocab_size - 1));
        }
        read_ngram_table(node, attrs, ctx);
        return {"", RowKind::Tokens, cfg_.dim};
      }
      case OpKind::LayerNorm: {
        const TensorDesc& x = input(node, 0);
        expect_shape(node, 0, {x.width}, ctx);
        expect_shape(node, 1, {x.width}, ctx);
        const json& eps = require(attrs, "eps", ctx.field("attrs"));
        if (!eps.is_number() || !(eps.get<double>() > 0) || eps.get<double>() > 1) {
          ctx.field("attrs").field("eps").fail("expected a number in (0, 1], got " + eps.dump());
        }
        node.eps = eps.get<float>();
        return {"", x.rows, x.width};
      }
      case OpKind::Linear: {
        const TensorDesc& x = input(node, 0);
        const WeightRef& w = node.weights[0];
        if (w.shape.size() != 2 || w.shape[1] != x.width) {
          ctx.field("weights").field("weight").fail(
              "tensor '" + w.name + "' has shape " + shape_text(w.shape) + ", expected [out, " +
              std::to_string(x.width) + "] for input '" + x.name + "'");
        }
        int64_t out_features = w.shape[0];
        expect_shape(node, 1, {out_features}, ctx);
        node.linear =
            std::make_unique<ops::Linear>(w.data, node.weights[1].data, x.width, out_features);
        return {"", x.rows, out_features};
      }
      case OpKind::Attention: {
        node.num_heads = static_cast<int>(attr_int(attrs, "num_heads", ctx, 1, 4096));
        node.head_dim = static_cast<int>(attr_int(attrs, "head_dim", ctx, 1, 65536));
        int64_t width = int64_t{node.num_heads} * node.head_dim;
        if (!node.weights.empty()) {  // E: [num_heads, k, max_seq_len]
          const WeightRef& e = node.weights[0];
          if (e.shape.size() != 3 || e.shape[0] != node.num_heads || e.shape[1] < 1 ||
              e.shape[2] != cfg_.max_seq_len) {
            ctx.field("weights").field("E").fail(
                "tensor '" + e.name + "' has shape " + shape_text(e.shape) + ", expected [" +
                std::to_string(node.num_heads) + ", k, " + std::to_string(cfg_.max_seq_len) +
                "] (num_heads, k >= 1, max_seq_len)");
          }
        }
        for (size_t i = 0; i < 3; ++i) {
          const TensorDesc& t = input(node, i);
          if (t.rows != RowKind::Tokens || t.width != width) {
            ctx.field("inputs").fail("tensor '" + t.name + "' is " + row_kind_name(t.rows) + "[" +
                                     std::to_string(t.width) + "], expected tokens[" +
                                     std::to_string(width) + "] (num_heads × head_dim)");
          }
        }
        return {"", RowKind::Tokens, width};
      }
      case OpKind::Gelu:
      case OpKind::Relu:
        return {"", input(node, 0).rows, input(node, 0).width};
      case OpKind::Add:
      case OpKind::Mul:
      case OpKind::Sub:
      case OpKind::Concat: {
        const TensorDesc& a = input(node, 0);
        int64_t width = 0;
        for (size_t i = 0; i < node.inputs.size(); ++i) {
          const TensorDesc& b = input(node, i);
          bool same_width = node.op == OpKind::Concat || b.width == a.width;
          if (b.rows != a.rows || !same_width) {
            ctx.field("inputs").fail("tensor '" + b.name + "' is " + row_kind_name(b.rows) + "[" +
                                     std::to_string(b.width) + "], but '" + a.name + "' is " +
                                     row_kind_name(a.rows) + "[" + std::to_string(a.width) + "]");
          }
          width += b.width;
        }
        return {"", a.rows, node.op == OpKind::Concat ? width : a.width};
      }
      case OpKind::MeanPool:
      case OpKind::TokenMeanPool:
      case OpKind::ClsPool: {
        const TensorDesc& x = input(node, 0);
        if (x.rows != RowKind::Tokens) {
          ctx.field("inputs").fail("tensor '" + x.name + "' is " + row_kind_name(x.rows) +
                                   ", expected tokens");
        }
        return {"", RowKind::Sequences, x.width};
      }
      case OpKind::Tower: {
        const TensorDesc& x = input(node, 0);
        if (!cfg_.dual) ctx.field("op").fail("'tower' needs a dual model (config.dual = true)");
        if (x.rows != RowKind::Sequences) {
          ctx.field("inputs").fail("tensor '" + x.name + "' is " + row_kind_name(x.rows) +
                                   ", expected sequences");
        }
        node.tower_index = static_cast<int>(attr_int(attrs, "index", ctx, 0, 1));
        return {"", RowKind::Items, x.width};
      }
    }
    ctx.fail("unhandled op");
  }

  void add_output(const json& n, Node& node, TensorDesc out, int index, const Context& ctx) {
    const json& outputs = require(n, "outputs", ctx);
    if (!outputs.is_array() || outputs.size() != 1 || !outputs[0].is_string() ||
        outputs[0].get<std::string>().empty()) {
      ctx.field("outputs").fail("expected one tensor name, got " + outputs.dump());
    }
    out.name = outputs[0].get<std::string>();
    if (out.name == "ids" || tensor_index_.count(out.name)) {
      ctx.field("outputs").fail("tensor '" + out.name + "' is already defined");
    }
    out.producer = index;
    node.output = static_cast<int>(graph_.tensors.size());
    tensor_index_[out.name] = node.output;
    graph_.tensors.push_back(std::move(out));
  }

  int resolve_output(const json& outputs, const std::string& key, const Context& ctx) {
    std::string tname = read_string(outputs, key, ctx);
    auto it = tensor_index_.find(tname);
    if (it == tensor_index_.end())
      ctx.field(key).fail("tensor '" + tname + "' is not in the graph");
    TensorDesc& t = graph_.tensors[it->second];
    RowKind expected = cfg_.dual ? RowKind::Items : RowKind::Sequences;
    if (t.rows != expected) {
      ctx.field(key).fail("tensor '" + tname + "' is " + row_kind_name(t.rows) + ", expected " +
                          row_kind_name(expected));
    }
    t.last_use = static_cast<int>(graph_.nodes.size());
    return it->second;
  }

  void resolve_outputs(const json& doc, const Context& root) {
    const json& outputs = require(doc, "outputs", root);
    Context ctx = root.field("outputs");
    if (!outputs.is_object()) ctx.fail("expected an object");
    check_keys(outputs, {"logits", "pooled"}, ctx);
    graph_.logits = resolve_output(outputs, "logits", ctx);
    graph_.pooled = resolve_output(outputs, "pooled", ctx);
    const TensorDesc& logits = graph_.tensors[graph_.logits];
    if (logits.width != cfg_.num_classes) {
      ctx.field("logits").fail("tensor '" + logits.name + "' has width " +
                               std::to_string(logits.width) +
                               ", expected num_classes = " + std::to_string(cfg_.num_classes));
    }
  }

  void check_all_used() const {
    for (const TensorDesc& t : graph_.tensors) {
      if (t.last_use < 0) {
        Context(json_path_, "node '" + graph_.nodes[t.producer].name + "'")
            .fail("its output '" + t.name + "' is never used");
      }
    }
    for (const TensorInfo& info : weights_.tensors()) {
      if (!used_weights_.count(info.name)) {
        throw Error(weights_.path() + ": tensor '" + info.name + "' is not used by any node of " +
                    json_path_);
      }
    }
  }

  const ModelConfig& cfg_;
  const SafetensorsFile& weights_;
  std::string json_path_;
  Graph graph_;
  std::unordered_map<std::string, int> tensor_index_;
  std::set<std::string> node_names_;
  std::set<std::string> used_weights_;
};

json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    return json::parse(buffer.str());
  } catch (const json::parse_error& e) {
    throw Error(path + ": invalid JSON at byte " + std::to_string(e.byte) + ": " + e.what());
  } catch (const json::exception& e) {
    // A number too large for a double (1e400) is out_of_range, not parse_error
    // (found by tests/fuzz/fuzz_model_json).
    throw Error(path + ": invalid JSON: " + e.what());
  }
}

Tokenizer read_bytes_tokenizer(const json& tok, const ModelConfig& cfg, const Context& root,
                               const Context& tctx) {
  check_keys(tok, {"type", "offset"}, tctx);
  if (cfg.vocab_size < 256) {
    root.field("config")
        .field("vocab_size")
        .fail("value " + std::to_string(cfg.vocab_size) + " cannot hold 256 byte ids");
  }
  return Tokenizer::bytes(
      static_cast<int32_t>(read_int(tok, "offset", tctx, 0, cfg.vocab_size - 256)));
}

Tokenizer read_words_tokenizer(const json& tok, const ModelConfig& cfg, const Context& tctx) {
  check_keys(tok, {"type", "vocab"}, tctx);
  const json& vocab = require(tok, "vocab", tctx);
  Context vctx = tctx.field("vocab");
  if (!vocab.is_array() || vocab.empty()) vctx.fail("expected a non-empty array of strings");
  if (static_cast<int64_t>(vocab.size()) > cfg.vocab_size) {
    vctx.fail(std::to_string(vocab.size()) +
              " tokens, more than config.vocab_size = " + std::to_string(cfg.vocab_size) + " ids");
  }
  std::vector<std::string> words;
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i < vocab.size(); ++i) {
    Context ictx = vctx.element(i);
    if (!vocab[i].is_string()) ictx.fail("expected a string, got " + vocab[i].dump());
    std::string w = vocab[i].get<std::string>();
    const bool blank = std::any_of(w.begin(), w.end(), [](char c) {
      return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
    });
    if (w.empty() || blank) ictx.fail("token " + vocab[i].dump() + " is empty or holds whitespace");
    auto [it, fresh] = seen.emplace(w, i);
    if (!fresh)
      ictx.fail("token " + vocab[i].dump() + " repeats vocab[" + std::to_string(it->second) + "]");
    words.push_back(std::move(w));
  }
  return Tokenizer::words(std::move(words));
}

Tokenizer read_tokenizer(const json& doc, const ModelConfig& cfg, const Context& root) {
  const json& tok = require(doc, "tokenizer", root);
  Context tctx = root.field("tokenizer");
  if (!tok.is_object()) tctx.fail("expected an object");
  std::string type = read_string(tok, "type", tctx);
  if (type == "bytes") return read_bytes_tokenizer(tok, cfg, root, tctx);
  if (type == "words") return read_words_tokenizer(tok, cfg, tctx);
  tctx.field("type").fail("unknown tokenizer '" + type + "' (known: bytes, words)");
}

}  // namespace

std::unique_ptr<ModelImpl> build_model(const json& doc, const std::string& json_path,
                                       SafetensorsFile weights) {
  Context root(json_path, "model");
  if (!doc.is_object()) root.fail("expected a JSON object");
  std::string format = read_string(doc, "format", root);
  if (format != "skein") root.field("format").fail("expected \"skein\", got \"" + format + "\"");
  int64_t version = read_int(doc, "format_version", root, 1, std::numeric_limits<int32_t>::max());
  if (version > kModelFormatVersion) {
    root.field("format_version")
        .fail("version " + std::to_string(version) + " is newer than this engine reads (" +
              std::to_string(kModelFormatVersion) + "); upgrade skein or re-export the model");
  }
  check_keys(doc,
             {"format", "format_version", "name", "config", "tokenizer", "attention", "labels",
              "outputs", "nodes"},
             root);

  auto impl = std::make_unique<ModelImpl>(std::move(weights));
  impl->config = read_config(doc, root);
  const ModelConfig& cfg = impl->config;
  if (doc.contains("name")) impl->name = read_string(doc, "name", root);

  impl->tokenizer = read_tokenizer(doc, cfg, root);

  impl->attention = require(doc, "attention", root);
  try {
    make_attention(impl->attention);
  } catch (const Error& e) {
    root.field("attention").fail(e.what());
  }

  if (doc.contains("labels")) {
    const json& labels = doc["labels"];
    Context lctx = root.field("labels");
    if (!labels.is_array() || static_cast<int64_t>(labels.size()) != cfg.num_classes) {
      lctx.fail("expected an array of num_classes = " + std::to_string(cfg.num_classes) +
                " strings");
    }
    for (const json& l : labels) {
      if (!l.is_string()) lctx.fail("expected a string, got " + l.dump());
      impl->labels.push_back(l.get<std::string>());
    }
  }

  impl->graph = GraphBuilder(cfg, impl->weights, json_path).build(doc);
  return impl;
}

std::unique_ptr<ModelImpl> load_model(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw Error(
        dir + ": not a model directory (" +
        (std::filesystem::exists(dir, ec) ? "not a directory" : "no such file or directory") + ")");
  }
  std::string json_path = dir + "/model.json";
  json doc = read_json_file(json_path);
  auto impl = build_model(doc, json_path, SafetensorsFile::open(dir + "/model.safetensors"));
  impl->path = dir;
  return impl;
}

}  // namespace skein
