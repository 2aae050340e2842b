// Plain result containers of the public API.
#pragma once

#include <cstdint>
#include <vector>

namespace skein {

/// A dense row-major float matrix, owned. Used for logits and pooled outputs.
struct Matrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> data;  // rows * cols values, row after row

  float at(int64_t r, int64_t c) const { return data[static_cast<size_t>(r * cols + c)]; }
};

}  // namespace skein
