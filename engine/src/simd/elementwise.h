// Vector elementwise updates of float arrays.
#pragma once

#include <cstddef>

namespace skein::simd {

/// x[i] *= alpha for i < n.
void scale(float* x, size_t n, float alpha);

/// y[i] += alpha·x[i] for i < n (one rounding per element: a fused multiply-add).
void axpy(float alpha, const float* x, float* y, size_t n);

}  // namespace skein::simd
