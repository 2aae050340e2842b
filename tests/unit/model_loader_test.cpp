// model.json / graph loader: a valid model loads; each hand-made defect is
// rejected with a message naming the file, node and field.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "model_fixture.h"
#include "skein/skein.h"

using skein::testing::TinyModel;

namespace {

// Applies `mutate` to a fresh tiny model, writes it and expects load() to fail
// with a message containing `expected`.
void expect_rejected(const std::string& tag, const std::function<void(TinyModel&)>& mutate,
                     const std::string& expected) {
  TinyModel m;
  mutate(m);
  std::string dir = m.write(tag);
  CAPTURE(tag);
  CHECK_THROWS_WITH_AS(skein::Model::load(dir), doctest::Contains(expected.c_str()), skein::Error);
  std::filesystem::remove_all(dir);
}

nlohmann::json& node_named(TinyModel& m, const std::string& name) {
  for (auto& n : m.doc["nodes"]) {
    if (n["name"] == name) return n;
  }
  throw std::runtime_error("test bug: no node " + name);
}

}  // namespace

TEST_CASE("a valid tiny model loads and describes itself") {
  TinyModel m(2);
  std::string dir = m.write("valid");
  auto model = skein::Model::load(dir);
  CHECK(model->config().dim == 8);
  CHECK(model->config().num_layers == 2);
  CHECK(model->label(1) == "class_1");
  CHECK(model->label(7) == "7");
  int64_t params = 0;
  for (const auto& [name, v] : m.values) params += static_cast<int64_t>(v.size());
  CHECK(model->parameter_count() == params);
  std::string text = model->describe();
  CHECK(text.find("attn-1 = attention(q-1, k-1, v-1)") != std::string::npos);
  std::vector<uint8_t> bytes = {0, 'a', 255};
  CHECK(model->tokenize(bytes) == std::vector<int32_t>{1, 'a' + 1, 256});
  std::filesystem::remove_all(dir);
}

TEST_CASE("an embedding with a hashed n-gram table loads, and the table counts as parameters") {
  TinyModel m(1);
  m.values["embed.ngram"] = std::vector<float>(5 * 8, 0.5f);
  m.shapes["embed.ngram"] = {5, 8};
  node_named(m, "embed")["weights"]["ngram"] = "embed.ngram";
  node_named(m, "embed")["attrs"]["ngram_max"] = 4;
  std::string dir = m.write("ngram");
  auto model = skein::Model::load(dir);
  int64_t params = 0;
  for (const auto& [name, v] : m.values) params += static_cast<int64_t>(v.size());
  CHECK(model->parameter_count() == params);
  std::filesystem::remove_all(dir);
}

TEST_CASE("model.json defects are rejected with file, node and field") {
  expect_rejected(
      "version", [](TinyModel& m) { m.doc["format_version"] = 2; },
      "model.json: model.format_version: version 2 is newer than this engine reads (1)");
  expect_rejected(
      "format", [](TinyModel& m) { m.doc["format"] = "onnx"; }, "model.format: expected \"skein\"");
  expect_rejected(
      "unknown_op", [](TinyModel& m) { node_named(m, "gelu-0")["op"] = "swish"; },
      "node 'gelu-0' (#10).op: unknown op 'swish'");
  expect_rejected(
      "missing_weight", [](TinyModel& m) { node_named(m, "q-0")["weights"]["weight"] = "nope"; },
      "node 'q-0' (#2).weights.weight: tensor 'nope' is not in");
  expect_rejected(
      "wrong_shape",
      [](TinyModel& m) { node_named(m, "head_out")["weights"]["bias"] = "head_up.bias"; },
      "node 'head_out' (#17).weights.bias: tensor 'head_up.bias' has shape [16], expected [3]");
  expect_rejected(
      "dangling_input", [](TinyModel& m) { node_named(m, "gelu-0")["inputs"] = {"ghost"}; },
      "node 'gelu-0' (#10).inputs: tensor 'ghost' is not produced by an earlier node");
  expect_rejected(
      "cycle", [](TinyModel& m) { node_named(m, "gelu-0")["inputs"] = {"ffn_down-0"}; },
      "tensor 'ffn_down-0' is not produced by an earlier node");
  expect_rejected(
      "duplicate_node", [](TinyModel& m) { node_named(m, "gelu-0")["name"] = "q-0"; },
      "node 'q-0' (#10): duplicate node name");
  expect_rejected(
      "redefined_tensor", [](TinyModel& m) { node_named(m, "gelu-0")["outputs"] = {"ffn_up-0"}; },
      "node 'gelu-0' (#10).outputs: tensor 'ffn_up-0' is already defined");
  expect_rejected(
      "arity",
      [](TinyModel& m) {
        node_named(m, "gelu-0")["inputs"] = {"ffn_up-0", "ffn_up-0"};
      },
      "node 'gelu-0' (#10).inputs: op 'gelu' takes 1 inputs, got 2");
  expect_rejected(
      "unused_output",
      [](TinyModel& m) {
        node_named(m, "attn_res-0")["inputs"] = {"x0", "x0"};
      },
      "node 'attn_out-0': its output 'attn_out-0' is never used");
  expect_rejected(
      "extra_weight",
      [](TinyModel& m) {
        m.values["stray"] = {1.0f};
        m.shapes["stray"] = {1};
      },
      "model.safetensors: tensor 'stray' is not used by any node");
  expect_rejected(
      "bad_config", [](TinyModel& m) { m.doc["config"]["dim"] = -3; },
      "model.config.dim: value -3 is outside [1, 1048576]");
  expect_rejected(
      "missing_config", [](TinyModel& m) { m.doc["config"].erase("max_seq_len"); },
      "model.config: missing field 'max_seq_len'");
  expect_rejected(
      "pooling", [](TinyModel& m) { m.doc["config"]["pooling"] = "max"; },
      "model.config.pooling: expected \"mean\", \"token_mean\" or \"cls\", got \"max\"");
  expect_rejected(
      "tokenizer", [](TinyModel& m) { m.doc["tokenizer"]["type"] = "bpe"; },
      "model.tokenizer.type: unknown tokenizer 'bpe'");
  expect_rejected(
      "attention", [](TinyModel& m) { m.doc["attention"]["method"] = "magic"; },
      "model.attention:");
  expect_rejected(
      "logits_width", [](TinyModel& m) { m.doc["config"]["num_classes"] = 4; },
      "model.labels: expected an array of num_classes = 4 strings");
  expect_rejected(
      "logits_width_no_labels",
      [](TinyModel& m) {
        m.doc["config"]["num_classes"] = 4;
        m.doc.erase("labels");
      },
      "model.outputs.logits: tensor 'logits' has width 3, expected num_classes = 4");
  expect_rejected(
      "attention_width", [](TinyModel& m) { node_named(m, "attn-0")["attrs"]["head_dim"] = 3; },
      "node 'attn-0' (#5).inputs: tensor 'q-0' is tokens[8], expected tokens[6]");
  expect_rejected(
      "unknown_attr", [](TinyModel& m) { node_named(m, "gelu-0")["attrs"]["approx"] = "tanh"; },
      "node 'gelu-0' (#10).attrs: unknown field 'approx'");
  expect_rejected(
      "eps", [](TinyModel& m) { node_named(m, "norm-final")["attrs"]["eps"] = "small"; },
      "node 'norm-final' (#13).attrs.eps: expected a number in (0, 1], got \"small\"");
  expect_rejected(
      "ids_misuse", [](TinyModel& m) { node_named(m, "gelu-0")["inputs"] = {"ids"}; },
      "only an embedding node may read 'ids'");
  auto add_ngram_table = [](TinyModel& m, int64_t buckets, int64_t width) {
    m.values["embed.ngram"] = std::vector<float>(static_cast<size_t>(buckets * width), 0.5f);
    m.shapes["embed.ngram"] = {buckets, width};
    node_named(m, "embed")["weights"]["ngram"] = "embed.ngram";
  };
  expect_rejected(
      "ngram_attr_alone", [](TinyModel& m) { node_named(m, "embed")["attrs"]["ngram_max"] = 3; },
      "node 'embed' (#0).attrs.ngram_max: given without the weight 'ngram'");
  expect_rejected(
      "ngram_no_attr", [&](TinyModel& m) { add_ngram_table(m, 5, 8); },
      "node 'embed' (#0).attrs: the weight 'ngram' needs the attribute ngram_max");
  expect_rejected(
      "ngram_shape",
      [&](TinyModel& m) {
        add_ngram_table(m, 5, 7);
        node_named(m, "embed")["attrs"]["ngram_max"] = 3;
      },
      "node 'embed' (#0).weights.ngram: tensor 'embed.ngram' has shape [5, 7], expected "
      "[buckets, 8]");
  expect_rejected(
      "ngram_max",
      [&](TinyModel& m) {
        add_ngram_table(m, 5, 8);
        node_named(m, "embed")["attrs"]["ngram_max"] = 9;
      },
      "node 'embed' (#0).attrs.ngram_max: value 9 is outside [2, 8]");
  expect_rejected(
      "pool_output_kind", [](TinyModel& m) { m.doc["outputs"]["pooled"] = "norm-final"; },
      "model.outputs.pooled: tensor 'norm-final' is tokens, expected sequences");
}

TEST_CASE("unreadable model directories give one-line errors") {
  CHECK_THROWS_WITH_AS(skein::Model::load("/nonexistent/model"),
                       doctest::Contains("/nonexistent/model: not a model directory (no such file"),
                       skein::Error);
  TinyModel m;
  std::string dir = m.write("bad_json");
  std::ofstream(dir + "/model.json") << "{\"format\": \"skein\", ";
  CHECK_THROWS_WITH_AS(skein::Model::load(dir),
                       doctest::Contains("model.json: invalid JSON at byte"), skein::Error);
  // A number beyond double range is a skein::Error too (found by fuzz_model_json).
  std::ofstream(dir + "/model.json") << R"({"format": "skein", "format_version": 1e400})";
  CHECK_THROWS_AS(skein::Model::load(dir), skein::Error);
  std::filesystem::remove(dir + "/model.safetensors");
  m.write("bad_json");
  std::filesystem::remove(dir + "/model.safetensors");
  CHECK_THROWS_WITH_AS(skein::Model::load(dir), doctest::Contains("model.safetensors"),
                       skein::Error);
  std::filesystem::remove_all(dir);
}
