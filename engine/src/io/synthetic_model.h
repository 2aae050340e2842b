// A reference-layout encoder with random weights, built in memory: what
// `skein profile --synthetic` runs, and what loader and session tests mutate.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "skein/model.h"

namespace skein {

struct SyntheticModel {
  nlohmann::json doc;  // model.json
  std::map<std::string, std::vector<int64_t>> shapes;
  std::map<std::string, std::vector<float>> values;

  /// Writes model.json and model.safetensors into `dir` (created if missing).
  void write(const std::string& dir) const;
};

/// The graph of docs/FORMAT.md's reference encoder for `config` (single tower,
/// byte tokenizer with offset 1, exact attention), weights N(0, 0.5²) from
/// `seed`. With `sinusoidal_positions` the position table holds the
/// Transformer's fixed sin/cos encodings, so any max_seq_len is meaningful.
SyntheticModel make_synthetic_model(const ModelConfig& config, uint32_t seed,
                                    bool sinusoidal_positions);

}  // namespace skein
