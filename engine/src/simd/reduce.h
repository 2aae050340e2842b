// Vector reductions over float arrays: dot product, maximum, sum.
// Results can differ from a left-to-right scalar loop in the last bits: the
// vector code keeps several partial accumulators and combines them at the end.
#pragma once

#include <cstddef>

namespace skein::simd {

/// Σ a[i]·b[i] for i < n (0 for n == 0).
float dot(const float* a, const float* b, size_t n);

/// The largest x[i] for i < n; -inf for n == 0. NaN entries are skipped (as by
/// std::fmax): the result is never NaN, and -inf if every entry is NaN.
float max(const float* x, size_t n);

/// Σ x[i] for i < n (0 for n == 0).
float sum(const float* x, size_t n);

}  // namespace skein::simd
