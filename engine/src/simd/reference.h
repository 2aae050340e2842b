// Scalar references of every kernel in engine/src/simd: plain loops that tests
// compare the vector kernels against. They favour being obviously right over
// speed: std::exp, and sums accumulated in double.
#pragma once

#include <cstddef>

namespace skein::simd::ref {

/// out[i] = std::exp(in[i]).
void exp(const float* in, float* out, size_t n);
float dot(const float* a, const float* b, size_t n);
/// NaN entries skipped, -inf for n == 0 (the contract of simd::max).
float max(const float* x, size_t n);
float sum(const float* x, size_t n);
void scale(float* x, size_t n, float alpha);
void axpy(float alpha, const float* x, float* y, size_t n);
float exp_shifted_sum(float* x, size_t n, float shift);
void softmax(float* x, size_t n);

}  // namespace skein::simd::ref
