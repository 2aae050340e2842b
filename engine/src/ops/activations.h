// Elementwise activation functions.
#pragma once

#include <cstdint>

namespace skein::ops {

// Each maps x[0..count) to y[0..count); y may equal x (in place), other
// overlaps are not allowed. Large arrays are split over OpenMP threads; called
// inside a parallel region (the executor's row blocks) they run on the calling thread.

/// GELU, erf form as torch.nn.GELU(): 0.5·x·(1 + erf(x/√2)). NaN stays NaN;
/// ±inf give their limits +inf and 0 (the plain formula would give NaN for −inf).
void gelu(const float* x, float* y, int64_t count);

/// max(x, 0); NaN stays NaN.
void relu(const float* x, float* y, int64_t count);

/// Scalar references (gelu_ref evaluates in double).
void gelu_ref(const float* x, float* y, int64_t count);
void relu_ref(const float* x, float* y, int64_t count);

}  // namespace skein::ops
