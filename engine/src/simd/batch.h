// The one SIMD vector type of the engine's hand-written kernels: xsimd's float
// batch for the widest instruction set enabled at compile time (AVX-512 with 16
// lanes on the project's machine, AVX2+FMA with 8 where that is the widest).
#pragma once

#include <cstddef>
#include <cstdint>

#include <xsimd/xsimd.hpp>

namespace skein::simd {

using Batch = xsimd::batch<float>;
using IntBatch = xsimd::batch<int32_t>;

/// Floats per Batch.
inline constexpr size_t kLanes = Batch::size;

// xsimd 8.1 has no AVX-512 kernel for fma/fnma: its generic fallback is a multiply and an
// add. g++ -O3 fused them, but the -O1 sanitizer build did not everywhere, and exp()'s
// range reduction then lost its low bits (softmax_exp off by 4.2e-6 instead of 3.9e-7).
// These use the instruction whatever the optimisation level.

/// a·b + c, rounded once.
inline Batch fma(Batch a, Batch b, Batch c) {
#if defined(__AVX512F__)
  if constexpr (kLanes == 16) return Batch(_mm512_fmadd_ps(a, b, c));
#endif
  return xsimd::fma(a, b, c);
}

/// c − a·b, rounded once.
inline Batch fnma(Batch a, Batch b, Batch c) {
#if defined(__AVX512F__)
  if constexpr (kLanes == 16) return Batch(_mm512_fnmadd_ps(a, b, c));
#endif
  return xsimd::fnma(a, b, c);
}

}  // namespace skein::simd
