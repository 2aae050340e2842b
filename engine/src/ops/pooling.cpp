#include "ops/pooling.h"

#include <algorithm>
#include <vector>

namespace skein::ops {

namespace {

// y[s] = (sum of the rows of sequence s) / divisor(its row count).
template <class Divisor>
void mean_rows(const float* x, std::span<const int64_t> offsets, int64_t width, Divisor divisor,
               float* y) {
  // Accumulate in double: sequences reach a million rows.
  std::vector<double> sum(static_cast<size_t>(width));
  for (size_t s = 0; s + 1 < offsets.size(); ++s) {
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int64_t t = offsets[s]; t < offsets[s + 1]; ++t) {
      const float* row = x + t * width;
      for (int64_t c = 0; c < width; ++c) sum[c] += row[c];
    }
    const double d = divisor(offsets[s + 1] - offsets[s]);
    for (int64_t c = 0; c < width; ++c) {
      y[s * width + c] = d > 0 ? static_cast<float>(sum[c] / d) : 0.0f;
    }
  }
}

}  // namespace

void mean_pool(const float* x, std::span<const int64_t> offsets, int64_t width, double divisor,
               float* y) {
  mean_rows(
      x, offsets, width, [divisor](int64_t) { return divisor; }, y);
}

void token_mean_pool(const float* x, std::span<const int64_t> offsets, int64_t width, float* y) {
  mean_rows(
      x, offsets, width, [](int64_t rows) { return static_cast<double>(rows); }, y);
}

void cls_pool(const float* x, std::span<const int64_t> offsets, int64_t width, float* y) {
  for (size_t s = 0; s + 1 < offsets.size(); ++s) {
    std::copy_n(x + offsets[s] * width, width, y + s * width);
  }
}

}  // namespace skein::ops
