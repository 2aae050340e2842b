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

}  // namespace skein::simd
