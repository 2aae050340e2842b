// skein::Model: a validated, memory-mapped model directory, shared read-only
// by any number of sessions and threads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "skein/export.h"

namespace skein {

/// Hyper-parameters from model.json's "config" (see docs/FORMAT.md).
struct ModelConfig {
  int64_t vocab_size = 0;
  int64_t dim = 0;
  int64_t hidden_dim = 0;
  int64_t num_heads = 0;
  int64_t head_dim = 0;
  int64_t num_layers = 0;
  int64_t max_seq_len = 0;  // the padded length the model was trained at
  int64_t num_classes = 0;
  std::string pooling;  // "mean" (over the padded length), "token_mean" or "cls"
  bool dual = false;    // two-tower model: inputs come in pairs
};

struct ModelImpl;

class SKEIN_API Model {
 public:
  /// Loads and validates `dir`/model.json and `dir`/model.safetensors.
  /// Throws skein::Error naming the file, node and field on any defect.
  static std::shared_ptr<const Model> load(const std::string& dir);

  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const std::string& path() const;
  const std::string& name() const;
  const ModelConfig& config() const;
  /// The class name of `index`, or the index as text when the model has no labels.
  std::string label(int64_t index) const;

  /// Token ids for raw bytes, per the model's tokenizer spec (no truncation). With the words
  /// tokenizer, throws skein::Error "unknown token 'T' at byte N" for a token outside the
  /// vocabulary.
  std::vector<int32_t> tokenize(std::span<const uint8_t> bytes) const;
  /// How many leading bytes of a text to read for max_seq_len tokens: max_seq_len for the bytes
  /// tokenizer (one id per byte); -1 for words, whose tokens vary in size: read until
  /// input_prefix_bytes() finds more than max_seq_len tokens.
  int64_t input_byte_limit() const;
  /// When `text` holds more than max_seq_len tokens, the length of its beginning that holds the
  /// first max_seq_len of them (the model's input; the rest is cut); -1 when all of it fits.
  int64_t input_prefix_bytes(std::span<const uint8_t> text) const;
  /// The words tokenizer's vocabulary (token i is id i); empty for the bytes tokenizer.
  const std::vector<std::string>& vocabulary() const;

  int64_t parameter_count() const;
  int64_t weight_bytes() const;
  /// Human-readable summary: config, graph nodes with shapes and weights.
  std::string describe() const;

  /// Engine internals (graph, weights); not part of the stable API.
  const ModelImpl& impl() const { return *impl_; }

 private:
  explicit Model(std::unique_ptr<ModelImpl> impl);
  std::unique_ptr<ModelImpl> impl_;
};

}  // namespace skein
