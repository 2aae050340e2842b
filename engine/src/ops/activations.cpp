#include "ops/activations.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <skein/error.h>

#include "simd/batch.h"
#include "simd/exp.h"

namespace skein::ops {
namespace {

using simd::Batch;
constexpr int64_t kLanes = static_cast<int64_t>(Batch::size);

// Work is split into blocks of this many elements; below one block the
// OpenMP fork/join costs more than the work.
constexpr int64_t kBlock = int64_t{1} << 14;

void check_args(const char* name, const float* x, const float* y, int64_t count) {
  if (count < 0) throw Error(std::string(name) + ": negative count " + std::to_string(count));
  if (count > 0 && (!x || !y)) throw Error(std::string(name) + ": null pointer argument");
}

// Applies f (Batch → Batch) to every element. The tail is padded into a full
// batch rather than done in scalar code, so every element gets bit-identical
// results whatever its position.
template <class F>
void map(const float* x, float* y, int64_t count, F f) {
  const int64_t blocks = (count + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (blocks > 1 && !omp_in_parallel())
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t end = std::min(count, (b + 1) * kBlock);
    int64_t i = b * kBlock;
    for (; i + kLanes <= end; i += kLanes) f(xsimd::load_unaligned(x + i)).store_unaligned(y + i);
    if (i < end) {
      alignas(64) float tail[Batch::size] = {};
      std::copy(x + i, x + end, tail);
      f(xsimd::load_aligned(tail)).store_aligned(tail);
      std::copy(tail, tail + (end - i), y + i);
    }
  }
}

// GELU as 0.5·x·(1 + erf(x/√2)) with 1 + erf(z) = 2 − erfc(|z|) for z ≥ 0 and
// erfc(|z|) below, so negative inputs lose nothing to cancellation. erfc(|z|)
// by Abramowitz & Stegun 7.1.26: t·P(t)·e^(−z²) with t = 1 / (1 + p·|z|),
// absolute error ≤ 1.5e-7; max error of the GELU 2.1e-7 of max(1, |y|) on
// 6,144 evenly spaced points of [−8, 8] against double erfc. About 1.8x faster
// than xsimd::erf per value (0.9–1.2 vs 1.6–2.0 ns on one core of the build
// machine, a 6,144-value array in cache), and GELU is what the fused layer
// runs spend most of their non-matmul time on.
Batch gelu_batch(Batch v) {
  const Batch z = xsimd::abs(v) * 0.70710678118654752f;
  const Batch t = 1.0f / simd::fma(z, Batch(0.3275911f), Batch(1.0f));
  Batch p(1.061405429f);
  p = simd::fma(p, t, Batch(-1.453152027f));
  p = simd::fma(p, t, Batch(1.421413741f));
  p = simd::fma(p, t, Batch(-0.284496736f));
  p = simd::fma(p, t, Batch(0.254829592f));
  const Batch erfc = p * t * simd::exp(-(z * z));
  const Batch g = 0.5f * v * xsimd::select(v >= 0.0f, 2.0f - erfc, erfc);
  // −inf: 0 (the formula would give −inf · 0 = NaN). NaN stays NaN.
  return xsimd::select(v == Batch(-std::numeric_limits<float>::infinity()), Batch(0.0f), g);
}

}  // namespace

void gelu(const float* x, float* y, int64_t count) {
  check_args("ops::gelu", x, y, count);
  map(x, y, count, gelu_batch);
}

void relu(const float* x, float* y, int64_t count) {
  check_args("ops::relu", x, y, count);
  // select, not max: vmaxps returns its second operand for NaN, so max(x, 0)
  // would silently turn NaN into 0.
  map(x, y, count, [](Batch v) { return xsimd::select(v < 0.0f, Batch(0.0f), v); });
}

void gelu_ref(const float* x, float* y, int64_t count) {
  check_args("ops::gelu_ref", x, y, count);
  for (int64_t i = 0; i < count; ++i) {
    const double v = x[i];
    y[i] = std::isinf(v) && v < 0
               ? 0.0f
               : static_cast<float>(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))));
  }
}

void relu_ref(const float* x, float* y, int64_t count) {
  check_args("ops::relu_ref", x, y, count);
  for (int64_t i = 0; i < count; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

}  // namespace skein::ops
