#include "io/synthetic_model.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "io/safetensors.h"
#include "skein/error.h"

namespace skein {
namespace {

using nlohmann::json;

class GraphWriter {
 public:
  GraphWriter(SyntheticModel& model, uint32_t seed) : model_(model), rng_(seed) {}

  std::string weight(const std::string& name, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = normal_(rng_);
    model_.shapes[name] = std::move(shape);
    model_.values[name] = std::move(v);
    return name;
  }

  void node(const std::string& name, const std::string& op, const std::string& layer, json inputs,
            const std::string& output, json weights = json::object(), json attrs = json::object()) {
    nodes_.push_back({{"name", name},
                      {"op", op},
                      {"layer", layer},
                      {"inputs", std::move(inputs)},
                      {"outputs", {output}},
                      {"weights", std::move(weights)},
                      {"attrs", std::move(attrs)}});
  }

  void linear(const std::string& name, const std::string& layer, const std::string& in,
              const std::string& out, int64_t fan_in, int64_t fan_out) {
    node(name, "linear", layer, {in}, out,
         {{"weight", weight(out + ".weight", {fan_out, fan_in})},
          {"bias", weight(out + ".bias", {fan_out})}});
  }

  void layer_norm(const std::string& name, const std::string& layer, const std::string& in,
                  const std::string& out, int64_t width) {
    node(name, "layer_norm", layer, {in}, out,
         {{"weight", weight(out + ".weight", {width})}, {"bias", weight(out + ".bias", {width})}},
         {{"eps", 1e-5}});
  }

  json take_nodes() { return std::move(nodes_); }

 private:
  SyntheticModel& model_;
  std::mt19937 rng_;
  std::normal_distribution<float> normal_{0.0f, 0.5f};
  json nodes_ = json::array();
};

// The fixed encodings of "Attention Is All You Need": sin on even, cos on odd features.
void fill_sinusoidal(std::vector<float>& table, int64_t rows, int64_t dim) {
  for (int64_t t = 0; t < rows; ++t) {
    for (int64_t c = 0; c < dim; ++c) {
      double freq = std::pow(10000.0, -static_cast<double>(c / 2 * 2) / static_cast<double>(dim));
      double angle = static_cast<double>(t) * freq;
      table[t * dim + c] = static_cast<float>(c % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  }
}

}  // namespace

SyntheticModel make_synthetic_model(const ModelConfig& cfg, uint32_t seed,
                                    bool sinusoidal_positions) {
  if (cfg.dual) throw Error("synthetic models are single-tower");
  SyntheticModel m;
  GraphWriter g(m, seed);
  const int64_t dim = cfg.dim, hidden = cfg.hidden_dim, attn = cfg.num_heads * cfg.head_dim;
  json embed_attrs = json::object();
  if (cfg.pooling == "cls") embed_attrs["cls_id"] = cfg.vocab_size - 1;
  std::string pos = g.weight("embed.position", {cfg.max_seq_len, dim});
  if (sinusoidal_positions) fill_sinusoidal(m.values[pos], cfg.max_seq_len, dim);
  g.node("embed", "embedding", "embed", {"ids"}, "x0",
         {{"token", g.weight("embed.token", {cfg.vocab_size, dim})}, {"position", pos}},
         embed_attrs);
  std::string x = "x0";
  for (int64_t l = 0; l < cfg.num_layers; ++l) {
    std::string L = std::to_string(l);
    auto t = [&](const std::string& s) { return s + "-" + L; };
    g.layer_norm(t("attn_norm"), L, x, t("attn_norm"), dim);
    for (const char* proj : {"q", "k", "v"})
      g.linear(t(proj), L, t("attn_norm"), t(proj), dim, attn);
    g.node(t("attn"), "attention", L, {t("q"), t("k"), t("v")}, t("attn"), json::object(),
           {{"num_heads", cfg.num_heads}, {"head_dim", cfg.head_dim}});
    g.linear(t("attn_out"), L, t("attn"), t("attn_out"), attn, dim);
    g.node(t("attn_res"), "add", L, {t("attn_out"), x}, t("attn_res"));
    g.layer_norm(t("ffn_norm"), L, t("attn_res"), t("ffn_norm"), dim);
    g.linear(t("ffn_up"), L, t("ffn_norm"), t("ffn_up"), dim, hidden);
    g.node(t("gelu"), "gelu", L, {t("ffn_up")}, t("gelu"));
    g.linear(t("ffn_down"), L, t("gelu"), t("ffn_down"), hidden, dim);
    g.node(t("ffn_res"), "add", L, {t("ffn_down"), t("attn_res")}, t("ffn_res"));
    x = t("ffn_res");
  }
  g.layer_norm("norm-final", "final", x, "norm-final", dim);
  g.node("pool-final", cfg.pooling + "_pool", "final", {"norm-final"}, "pooled");
  g.linear("head_up", "head", "pooled", "head_up", dim, hidden);
  g.node("head_relu", "relu", "head", {"head_up"}, "head_relu");
  g.linear("head_out", "head", "head_relu", "logits", hidden, cfg.num_classes);

  json labels = json::array();
  for (int64_t c = 0; c < cfg.num_classes; ++c) labels.push_back("class_" + std::to_string(c));
  m.doc = {{"format", "skein"},
           {"format_version", 1},
           {"name", "synthetic"},
           {"config",
            {{"vocab_size", cfg.vocab_size},
             {"dim", dim},
             {"hidden_dim", hidden},
             {"num_heads", cfg.num_heads},
             {"head_dim", cfg.head_dim},
             {"num_layers", cfg.num_layers},
             {"max_seq_len", cfg.max_seq_len},
             {"pooling", cfg.pooling},
             {"num_classes", cfg.num_classes},
             {"dual", false}}},
           {"tokenizer", {{"type", "bytes"}, {"offset", 1}}},
           {"attention", {{"method", "exact"}}},
           {"labels", labels},
           {"outputs", {{"logits", "logits"}, {"pooled", "pooled"}}},
           {"nodes", g.take_nodes()}};
  return m;
}

void SyntheticModel::write(const std::string& dir) const {
  std::filesystem::create_directories(dir);
  std::ofstream json_file(dir + "/model.json");
  json_file << doc.dump(1);
  if (!json_file) throw Error(dir + "/model.json: cannot write");
  std::vector<TensorToWrite> tensors;
  for (const auto& [name, v] : values)
    tensors.push_back({name, Dtype::F32, shapes.at(name), v.data()});
  write_safetensors(dir + "/model.safetensors", tensors);
}

}  // namespace skein
