#include "core/spectral_norm.h"

#include <cmath>
#include <limits>
#include <vector>

#include "skein/error.h"

namespace skein {

double spectral_norm(std::span<const double> a, size_t rows, size_t cols) {
  if (a.size() != rows * cols) {
    throw Error("spectral_norm: " + std::to_string(a.size()) + " values for a " +
                std::to_string(rows) + " x " + std::to_string(cols) + " matrix");
  }
  std::vector<double> gram(cols * cols, 0.0);
  for (size_t i = 0; i < rows; ++i) {
    const double* row = a.data() + i * cols;
    for (size_t r = 0; r < cols; ++r) {
      for (size_t c = 0; c < cols; ++c) gram[r * cols + c] += row[r] * row[c];
    }
  }
  // A start with no symmetry, so it is not orthogonal to the top eigenvector by construction.
  std::vector<double> x(cols), y(cols);
  for (size_t c = 0; c < cols; ++c) x[c] = 1.0 + 0.5 * std::sin(static_cast<double>(c) + 1.0);
  double lambda = 0.0;
  for (int step = 0; step < 1000; ++step) {
    for (size_t r = 0; r < cols; ++r) {
      double sum = 0.0;
      for (size_t c = 0; c < cols; ++c) sum += gram[r * cols + c] * x[c];
      y[r] = sum;
    }
    double norm = 0.0;
    for (double v : y) norm += v * v;
    norm = std::sqrt(norm);
    if (norm == 0.0) return 0.0;
    double x_norm = 0.0;
    for (double v : x) x_norm += v * v;
    const double estimate = norm / std::sqrt(x_norm);  // ‖AᵀA x‖ / ‖x‖ → λ_max
    for (size_t r = 0; r < cols; ++r) x[r] = y[r] / norm;
    const bool converged = std::fabs(estimate - lambda) <= 1e-12 * estimate;
    lambda = estimate;
    if (converged) break;
  }
  return std::sqrt(lambda);
}

double relative_spectral_error(std::span<const float> exact, std::span<const float> approx,
                               size_t rows, size_t cols) {
  if (exact.size() != approx.size()) {
    throw Error("relative_spectral_error: " + std::to_string(exact.size()) + " exact values but " +
                std::to_string(approx.size()) + " approximate ones");
  }
  std::vector<double> e(exact.begin(), exact.end()), diff(exact.size());
  for (size_t i = 0; i < diff.size(); ++i) diff[i] = e[i] - static_cast<double>(approx[i]);
  const double denominator = spectral_norm(e, rows, cols);
  const double numerator = spectral_norm(diff, rows, cols);
  if (denominator == 0.0) return numerator == 0.0 ? 0.0 : std::numeric_limits<double>::infinity();
  return numerator / denominator;
}

}  // namespace skein
