// Vector e^x, the exponential of every softmax in the engine.
//
// Accuracy, checked on every float in [-86.98, 88.72] against double exp:
// max relative error 8.9e-8 (under 1.5 ulp). Chosen over xsimd 8.1's
// xsimd::exp, measured the same way on the build machine: that one is 1.45x
// slower (0.76 vs 0.52 ns per value on one core, 4096-value arrays), its
// max relative error is 1.3e-7, and it returns +inf already above 88.376
// although e^x is finite up to 88.72.
//
// Edge cases, by design:
//   x < -86.99  -> 0 (results below ~1.8e-38 are flushed instead of becoming the
//                 bottom of the normal range or denormals: they cannot matter
//                 next to a softmax maximum of 1, and denormals are slow)
//   x > 88.72   -> +inf (true overflow); -inf -> 0; +inf -> +inf
//   NaN         -> NaN
#pragma once

#include <cstddef>

#include "simd/batch.h"

namespace skein::simd {

inline Batch exp(Batch x) {
  // e^x = 2^n * e^r with n = round(x / ln 2) and |r| <= ln(2) / 2.
  // Clamping keeps n in [-126, 128]; the operand order of max/min (constant
  // first) lets a NaN through, because vmaxps/vminps return their second
  // operand when either is NaN.
  const Batch clamped = xsimd::min(Batch(88.8f), xsimd::max(Batch(-87.6f), x));
  // Round to nearest by adding 1.5 * 2^23: the sum's low mantissa bits then
  // hold n + 126 as an integer (the +126 is the exponent bias minus one, see below).
  const Batch round_magic(12582912.0f + 126.0f);
  const Batch shifted = simd::fma(clamped, Batch(1.44269504088896341f), round_magic);
  const Batch n = shifted - round_magic;
  // Cody-Waite: ln 2 split in a short part, whose product with any |n| <= 128
  // is exact, and a remainder, so r keeps its low bits.
  Batch r = simd::fnma(n, Batch(0.693145751953125f), clamped);
  r = simd::fnma(n, Batch(1.428606765330187045e-06f), r);
  // 2 * e^r: degree-6 minimax polynomial (relative error 1.9e-9 on
  // |r| <= ln(2)/2, far below float rounding), times 2 so that the scale can be
  // built as 2^(n-1) below.
  Batch p(2.0f * 1.383684576e-03f);
  p = simd::fma(p, r, Batch(2.0f * 8.374815807e-03f));
  p = simd::fma(p, r, Batch(2.0f * 4.166822508e-02f));
  p = simd::fma(p, r, Batch(2.0f * 1.666641980e-01f));
  p = simd::fma(p, r, Batch(2.0f * 4.999999106e-01f));
  p = simd::fma(p, r, Batch(2.0f));
  p = simd::fma(p, r, Batch(2.0f));
  // 2^(n-1) from its bits: biased exponent n - 1 + 127 = n + 126, in [0, 254].
  // Using n - 1 lets n reach 128 (results up to FLT_MAX) without overflowing
  // the exponent field; n = -126 gives the bit pattern of 0, which is the flush.
  const IntBatch exponent = xsimd::bitwise_cast<IntBatch>(shifted) << 23;
  return p * xsimd::bitwise_cast<Batch>(exponent);
}

// e^x for the arguments of a softmax, x <= 0 (a row maximum already
// subtracted; a rounding excess up to 88 is still fine). Three operations
// cheaper than exp(): no upper clamp, ln 2 in one Cody-Waite step and a
// degree-5 polynomial. Max relative error 3.9e-7 on [-86.98, 0] (1.9e-7 above -14,
// checked against double exp), ample next to the float sums a softmax feeds;
// x < -86.99 -> 0, -inf -> 0 and NaN -> NaN as in exp(). Results for x > 88.7
// are undefined.
inline Batch softmax_exp(Batch x) {
  const Batch clamped = xsimd::max(Batch(-87.6f), x);
  const Batch round_magic(12582912.0f + 126.0f);
  const Batch shifted = simd::fma(clamped, Batch(1.44269504088896341f), round_magic);
  const Batch n = shifted - round_magic;
  // float(ln 2) is 1.9e-9 above ln 2; at |n| <= 126 that shifts r by at most
  // 2.4e-7, which only results below 2^-20 of the maximum see in full.
  const Batch r = simd::fnma(n, Batch(0.693147182464599609375f), clamped);
  // 2 * e^r: degree-5 near-minimax fit with the constant term exactly 1, so
  // e^0 = 1 (relative error 9.5e-8 on |r| <= ln(2)/2).
  Batch p(2.0f * 8.290315046906471e-03f);
  p = simd::fma(p, r, Batch(2.0f * 4.189793020486832e-02f));
  p = simd::fma(p, r, Batch(2.0f * 1.666763573884964e-01f));
  p = simd::fma(p, r, Batch(2.0f * 4.999915063381195e-01f));
  p = simd::fma(p, r, Batch(2.0f * 9.999997019767761e-01f));
  p = simd::fma(p, r, Batch(2.0f));
  const IntBatch exponent = xsimd::bitwise_cast<IntBatch>(shifted) << 23;
  return p * xsimd::bitwise_cast<Batch>(exponent);
}

/// out[i] = e^in[i] for i < n (the vector exp above). in and out may be the same array.
void exp(const float* in, float* out, size_t n);

}  // namespace skein::simd
