// A tiny reference-layout model written to a temporary directory, so that
// loader, planner and session tests need no Python. Tests mutate its JSON or
// weights to make corrupt variants.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include "io/synthetic_model.h"

namespace skein::testing {

struct TinyModel : SyntheticModel {
  // dims: vocab 258, dim 8, hidden 16, 2 heads of 4, `layers` layers, max_seq_len 32, 3 classes.
  explicit TinyModel(int layers = 1, const std::string& pooling = "mean", uint32_t seed = 1)
      : SyntheticModel(make_synthetic_model(config(layers, pooling), seed, false)) {}

  static ModelConfig config(int layers, const std::string& pooling) {
    ModelConfig c;
    c.vocab_size = 258;
    c.dim = 8;
    c.hidden_dim = 16;
    c.num_heads = 2;
    c.head_dim = 4;
    c.num_layers = layers;
    c.max_seq_len = 32;
    c.num_classes = 3;
    c.pooling = pooling;
    return c;
  }

  /// Writes the model into a fresh temporary directory; returns its path.
  std::string write(const std::string& tag) const {
    auto dir = std::filesystem::temp_directory_path() /
               ("skein_test_" + std::to_string(::getpid()) + "_" + tag);
    SyntheticModel::write(dir.string());
    return dir.string();
  }
};

}  // namespace skein::testing
