#include "simd/softmax.h"

#include <limits>

#include "simd/batch.h"
#include "simd/elementwise.h"
#include "simd/exp.h"
#include "simd/reduce.h"

namespace skein::simd {

float exp_shifted_sum(float* x, size_t n, float shift) {
  const Batch offset(shift);
  Batch acc(0.0f);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const Batch e = simd::exp(Batch::load_unaligned(x + i) - offset);
    e.store_unaligned(x + i);
    acc += e;
  }
  float total = xsimd::hadd(acc);
  if (i == n) return total;
  // Tail through a full-width buffer; its unused lanes hold e^-inf = 0.
  constexpr float kMinusInf = -std::numeric_limits<float>::infinity();
  alignas(64) float tail[kLanes];
  for (size_t t = 0; t < kLanes; ++t) tail[t] = i + t < n ? x[i + t] - shift : kMinusInf;
  simd::exp(Batch::load_aligned(tail)).store_aligned(tail);
  for (size_t t = 0; i + t < n; ++t) x[i + t] = tail[t];
  return total + xsimd::hadd(Batch::load_aligned(tail));
}

void softmax(float* x, size_t n) {
  if (n == 0) return;
  const float total = exp_shifted_sum(x, n, simd::max(x, n));
  simd::scale(x, n, 1.0f / total);
}

}  // namespace skein::simd
