// A tiny reference-layout model written to a temporary directory, so that
// loader, planner and session tests need no Python. Tests mutate its JSON or
// weights to make corrupt variants.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"

namespace skein::testing {

struct TinyModel {
  nlohmann::json doc;
  std::map<std::string, std::vector<int64_t>> shapes;
  std::map<std::string, std::vector<float>> values;

  // dims: vocab 258, dim 8, hidden 16, 2 heads of 4, `layers` layers, max_seq_len 32.
  explicit TinyModel(int layers = 1, const std::string& pooling = "mean", uint32_t seed = 1) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 0.5f);
    auto weight = [&](const std::string& name, std::vector<int64_t> shape) {
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      std::vector<float> v(static_cast<size_t>(n));
      for (float& x : v) x = normal(rng);
      shapes[name] = shape;
      values[name] = std::move(v);
      return name;
    };
    using nlohmann::json;
    json nodes = json::array();
    auto node = [&](std::string name, std::string op, std::string layer, json inputs,
                    std::string output, json weights = json::object(),
                    json attrs = json::object()) {
      nodes.push_back({{"name", name},
                       {"op", op},
                       {"layer", layer},
                       {"inputs", inputs},
                       {"outputs", {output}},
                       {"weights", weights},
                       {"attrs", attrs}});
    };
    json embed_attrs = json::object();
    if (pooling == "cls") embed_attrs["cls_id"] = 257;
    node("embed", "embedding", "embed", {"ids"}, "x0",
         {{"token", weight("tok", {258, 8})}, {"position", weight("pos", {32, 8})}}, embed_attrs);
    std::string x = "x0";
    for (int l = 0; l < layers; ++l) {
      std::string L = std::to_string(l);
      auto p = [&](const std::string& s) { return "l" + L + "." + s; };
      auto linear = [&](const std::string& name, const std::string& in, int64_t fan_in,
                        int64_t fan_out) {
        node(name + "-" + L, "linear", L, {in}, p(name),
             {{"weight", weight(p(name) + ".w", {fan_out, fan_in})},
              {"bias", weight(p(name) + ".b", {fan_out})}});
      };
      node("attn_norm-" + L, "layer_norm", L, {x}, p("n1"),
           {{"weight", weight(p("n1.w"), {8})}, {"bias", weight(p("n1.b"), {8})}}, {{"eps", 1e-5}});
      linear("q", p("n1"), 8, 8);
      linear("k", p("n1"), 8, 8);
      linear("v", p("n1"), 8, 8);
      node("attn-" + L, "attention", L, {p("q"), p("k"), p("v")}, p("att"), json::object(),
           {{"num_heads", 2}, {"head_dim", 4}});
      linear("o", p("att"), 8, 8);
      node("attn_res-" + L, "add", L, {p("o"), x}, p("r1"));
      node("ffn_norm-" + L, "layer_norm", L, {p("r1")}, p("n2"),
           {{"weight", weight(p("n2.w"), {8})}, {"bias", weight(p("n2.b"), {8})}}, {{"eps", 1e-5}});
      linear("up", p("n2"), 8, 16);
      node("gelu-" + L, "gelu", L, {p("up")}, p("g"));
      linear("down", p("g"), 16, 8);
      node("ffn_res-" + L, "add", L, {p("down"), p("r1")}, p("r2"));
      x = p("r2");
    }
    node("norm-final", "layer_norm", "final", {x}, "xn",
         {{"weight", weight("norm.w", {8})}, {"bias", weight("norm.b", {8})}}, {{"eps", 1e-5}});
    node("pool-final", pooling == "cls" ? "cls_pool" : "mean_pool", "final", {"xn"}, "pooled");
    node("head_up", "linear", "head", {"pooled"}, "h1",
         {{"weight", weight("head0.w", {16, 8})}, {"bias", weight("head0.b", {16})}});
    node("head_relu", "relu", "head", {"h1"}, "h2");
    node("head_out", "linear", "head", {"h2"}, "logits",
         {{"weight", weight("head2.w", {3, 16})}, {"bias", weight("head2.b", {3})}});
    doc = {{"format", "skein"},
           {"format_version", 1},
           {"name", "tiny"},
           {"config",
            {{"vocab_size", 258},
             {"dim", 8},
             {"hidden_dim", 16},
             {"num_heads", 2},
             {"head_dim", 4},
             {"num_layers", layers},
             {"max_seq_len", 32},
             {"pooling", pooling},
             {"num_classes", 3},
             {"dual", false}}},
           {"tokenizer", {{"type", "bytes"}, {"offset", 1}}},
           {"attention", {{"method", "exact"}}},
           {"labels", {"a", "b", "c"}},
           {"outputs", {{"logits", "logits"}, {"pooled", "pooled"}}},
           {"nodes", nodes}};
  }

  /// Writes model.json and model.safetensors into a fresh directory; returns its path.
  std::string write(const std::string& tag) const {
    auto dir = std::filesystem::temp_directory_path() /
               ("skein_test_" + std::to_string(::getpid()) + "_" + tag);
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "model.json") << doc.dump(1);
    std::vector<TensorToWrite> tensors;
    for (const auto& [name, v] : values) {
      tensors.push_back({name, Dtype::F32, shapes.at(name), v.data()});
    }
    write_safetensors((dir / "model.safetensors").string(), tensors);
    return dir.string();
  }
};

}  // namespace skein::testing
