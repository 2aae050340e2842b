// Softmax over one row of floats, and its core step, shared by the attention
// methods that materialise score rows.
#pragma once

#include <cstddef>

namespace skein::simd {

/// x[i] = e^(x[i] - shift) for i < n, returning the sum of the new values.
/// With shift = max(x) every exponent is <= 0, so nothing overflows.
float exp_shifted_sum(float* x, size_t n, float shift);

/// x = softmax(x) in place: e^(x[i] - max x) / Σ_j e^(x[j] - max x). Needs at
/// least one finite entry; a NaN entry makes the whole row NaN.
void softmax(float* x, size_t n);

}  // namespace skein::simd
