#include "simd/reduce.h"

#include <limits>

#include "simd/batch.h"

namespace skein::simd {
namespace {

// Independent accumulators per reduction: enough to hide the FMA/add latency
// behind the two loads each step needs.
constexpr size_t kAccumulators = 4;
constexpr size_t kStep = kAccumulators * kLanes;

Batch sum_of(const Batch (&acc)[kAccumulators]) {
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

}  // namespace

float dot(const float* a, const float* b, size_t n) {
  Batch acc[kAccumulators] = {Batch(0.0f), Batch(0.0f), Batch(0.0f), Batch(0.0f)};
  size_t i = 0;
  for (; i + kStep <= n; i += kStep) {
    for (size_t u = 0; u < kAccumulators; ++u) {
      const size_t at = i + u * kLanes;
      acc[u] = simd::fma(Batch::load_unaligned(a + at), Batch::load_unaligned(b + at), acc[u]);
    }
  }
  for (; i + kLanes <= n; i += kLanes) {
    acc[0] = simd::fma(Batch::load_unaligned(a + i), Batch::load_unaligned(b + i), acc[0]);
  }
  float result = xsimd::hadd(sum_of(acc));
  for (; i < n; ++i) result += a[i] * b[i];
  return result;
}

float max(const float* x, size_t n) {
  constexpr float kLowest = -std::numeric_limits<float>::infinity();
  Batch acc[kAccumulators] = {Batch(kLowest), Batch(kLowest), Batch(kLowest), Batch(kLowest)};
  // xsimd::max(new, acc) is vmaxps, which returns its second operand when
  // either is NaN: a NaN in x never replaces the accumulator.
  size_t i = 0;
  for (; i + kStep <= n; i += kStep) {
    for (size_t u = 0; u < kAccumulators; ++u) {
      acc[u] = xsimd::max(Batch::load_unaligned(x + i + u * kLanes), acc[u]);
    }
  }
  for (; i + kLanes <= n; i += kLanes) acc[0] = xsimd::max(Batch::load_unaligned(x + i), acc[0]);
  const Batch all = xsimd::max(xsimd::max(acc[0], acc[1]), xsimd::max(acc[2], acc[3]));
  alignas(64) float lanes[kLanes];
  all.store_aligned(lanes);
  float result = kLowest;
  for (float lane : lanes) result = lane > result ? lane : result;
  for (; i < n; ++i) result = x[i] > result ? x[i] : result;
  return result;
}

float sum(const float* x, size_t n) {
  Batch acc[kAccumulators] = {Batch(0.0f), Batch(0.0f), Batch(0.0f), Batch(0.0f)};
  size_t i = 0;
  for (; i + kStep <= n; i += kStep) {
    for (size_t u = 0; u < kAccumulators; ++u) acc[u] += Batch::load_unaligned(x + i + u * kLanes);
  }
  for (; i + kLanes <= n; i += kLanes) acc[0] += Batch::load_unaligned(x + i);
  float result = xsimd::hadd(sum_of(acc));
  for (; i < n; ++i) result += x[i];
  return result;
}

}  // namespace skein::simd
