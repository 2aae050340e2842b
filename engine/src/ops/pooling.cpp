#include "ops/pooling.h"

#include <algorithm>
#include <vector>

namespace skein::ops {

void mean_pool(const float* x, std::span<const int64_t> offsets, int64_t width, double divisor,
               float* y) {
  // Accumulate in double: sequences reach a million rows.
  std::vector<double> sum(static_cast<size_t>(width));
  for (size_t s = 0; s + 1 < offsets.size(); ++s) {
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int64_t t = offsets[s]; t < offsets[s + 1]; ++t) {
      const float* row = x + t * width;
      for (int64_t c = 0; c < width; ++c) sum[c] += row[c];
    }
    for (int64_t c = 0; c < width; ++c) y[s * width + c] = static_cast<float>(sum[c] / divisor);
  }
}

void cls_pool(const float* x, std::span<const int64_t> offsets, int64_t width, float* y) {
  for (size_t s = 0; s + 1 < offsets.size(); ++s) {
    std::copy_n(x + offsets[s] * width, width, y + s * width);
  }
}

}  // namespace skein::ops
