#include "simd/elementwise.h"

#include <cmath>

#include "simd/batch.h"

namespace skein::simd {

void scale(float* x, size_t n, float alpha) {
  const Batch factor(alpha);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    (Batch::load_unaligned(x + i) * factor).store_unaligned(x + i);
  for (; i < n; ++i) x[i] *= alpha;
}

void axpy(float alpha, const float* x, float* y, size_t n) {
  const Batch factor(alpha);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    simd::fma(factor, Batch::load_unaligned(x + i), Batch::load_unaligned(y + i))
        .store_unaligned(y + i);
  }
  for (; i < n; ++i) y[i] = std::fma(alpha, x[i], y[i]);
}

}  // namespace skein::simd
