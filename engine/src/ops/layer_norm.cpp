#include "ops/layer_norm.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>

#include <skein/error.h>

#include "simd/batch.h"

namespace skein::ops {
namespace {

using simd::Batch;
constexpr int64_t kLanes = static_cast<int64_t>(Batch::size);

// Below this many elements the OpenMP fork/join costs more than the work.
constexpr int64_t kParallelMinElements = int64_t{1} << 14;

void check_args(const char* name, const float* x, const float* y, int64_t rows, int64_t width,
                const float* gamma, const float* beta) {
  if (rows < 0 || width < 0) {
    throw Error(std::string(name) + ": negative size rows=" + std::to_string(rows) +
                " width=" + std::to_string(width));
  }
  if (rows > 0 && width > 0 && (!x || !y || !gamma || !beta)) {
    throw Error(std::string(name) + ": null pointer argument");
  }
}

float row_sum(const float* x, int64_t width) {
  Batch acc(0.0f);
  int64_t i = 0;
  for (; i + kLanes <= width; i += kLanes) acc += xsimd::load_unaligned(x + i);
  float sum = xsimd::hadd(acc);
  for (; i < width; ++i) sum += x[i];
  return sum;
}

// The row mean as a float shift plus a small correction: x − mean is taken as
// (x − shift) − correction, which stays accurate even when the mean is large
// (rounding shift + correction into one float would cost up to half an ulp of
// the mean, far more than the spread of a row like 1e4 ± 1).
struct Moments {
  float shift;
  float correction;
  float var;
};

// Corrected two-pass algorithm: the first pass gives a provisional mean
// (shift), the second sums d = x − shift and d². In exact arithmetic Σd / n is
// the first pass's rounding error, so mean = shift + Σd / n and
// var = (Σd² − (Σd)² / n) / n.
Moments row_moments(const float* x, int64_t width) {
  const float n = static_cast<float>(width);
  const float shift = row_sum(x, width) / n;
  const Batch s(shift);
  Batch sum_d(0.0f);
  Batch sum_d2(0.0f);
  int64_t i = 0;
  for (; i + kLanes <= width; i += kLanes) {
    const Batch d = xsimd::load_unaligned(x + i) - s;
    sum_d += d;
    sum_d2 = simd::fma(d, d, sum_d2);
  }
  float sd = xsimd::hadd(sum_d);
  float sd2 = xsimd::hadd(sum_d2);
  for (; i < width; ++i) {
    const float d = x[i] - shift;
    sd += d;
    sd2 += d * d;
  }
  // Clamped: the correction may round a zero variance slightly negative.
  return {shift, sd / n, std::max(0.0f, (sd2 - sd * sd / n) / n)};
}

// Reads each x[i] before writing y[i], so y == x is safe.
void normalize_row(const float* x, float* y, int64_t width, const float* gamma, const float* beta,
                   float eps) {
  const Moments mo = row_moments(x, width);
  const float rstd = 1.0f / std::sqrt(mo.var + eps);
  const Batch s(mo.shift);
  const Batch c(mo.correction);
  const Batch r(rstd);
  int64_t i = 0;
  for (; i + kLanes <= width; i += kLanes) {
    const Batch xhat = ((xsimd::load_unaligned(x + i) - s) - c) * r;
    simd::fma(xhat, xsimd::load_unaligned(gamma + i), xsimd::load_unaligned(beta + i))
        .store_unaligned(y + i);
  }
  for (; i < width; ++i) {
    y[i] = std::fma(((x[i] - mo.shift) - mo.correction) * rstd, gamma[i], beta[i]);
  }
}

}  // namespace

void layer_norm(const float* x, float* y, int64_t rows, int64_t width, const float* gamma,
                const float* beta, float eps) {
  check_args("ops::layer_norm", x, y, rows, width, gamma, beta);
  if (width == 0) return;
#pragma omp parallel for schedule(static) if (rows * width >= kParallelMinElements && \
                                              !omp_in_parallel())
  for (int64_t r = 0; r < rows; ++r) {
    normalize_row(x + r * width, y + r * width, width, gamma, beta, eps);
  }
}

void layer_norm_ref(const float* x, float* y, int64_t rows, int64_t width, const float* gamma,
                    const float* beta, float eps) {
  check_args("ops::layer_norm_ref", x, y, rows, width, gamma, beta);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * width;
    float* yr = y + r * width;
    double mean = 0.0;
    for (int64_t i = 0; i < width; ++i) mean += xr[i];
    mean /= static_cast<double>(width);
    double var = 0.0;
    for (int64_t i = 0; i < width; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= static_cast<double>(width);
    const double rstd = 1.0 / std::sqrt(var + eps);
    for (int64_t i = 0; i < width; ++i) {
      yr[i] = static_cast<float>((xr[i] - mean) * rstd * gamma[i] + beta[i]);
    }
  }
}

}  // namespace skein::ops
