#include "simd/reference.h"

#include <cmath>
#include <limits>

namespace skein::simd::ref {

void exp(const float* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = std::exp(in[i]);
}

float dot(const float* a, const float* b, size_t n) {
  double total = 0.0;
  for (size_t i = 0; i < n; ++i) total += double{a[i]} * double{b[i]};
  return static_cast<float>(total);
}

float max(const float* x, size_t n) {
  float result = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < n; ++i) result = std::fmax(result, x[i]);
  return result;
}

float sum(const float* x, size_t n) {
  double total = 0.0;
  for (size_t i = 0; i < n; ++i) total += x[i];
  return static_cast<float>(total);
}

void scale(float* x, size_t n, float alpha) {
  for (size_t i = 0; i < n; ++i) x[i] *= alpha;
}

void axpy(float alpha, const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

float exp_shifted_sum(float* x, size_t n, float shift) {
  double total = 0.0;
  for (size_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - shift);
    total += x[i];
  }
  return static_cast<float>(total);
}

void softmax(float* x, size_t n) {
  if (n == 0) return;
  const float total = exp_shifted_sum(x, n, max(x, n));
  for (size_t i = 0; i < n; ++i) x[i] /= total;
}

}  // namespace skein::simd::ref
