// core/spectral_norm: ‖A‖₂ by power iteration against matrices with known singular values.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/spectral_norm.h"

namespace skein {
namespace {

TEST_CASE("spectral_norm: known singular values") {
  // diag(3, -7, 2) stacked over zero rows: ‖A‖₂ = 7.
  std::vector<double> a(5 * 3, 0.0);
  a[0] = 3;
  a[4] = -7;
  a[8] = 2;
  CHECK(spectral_norm(a, 5, 3) == doctest::Approx(7).epsilon(1e-12));
  // Rank one u vᵀ: ‖A‖₂ = ‖u‖ ‖v‖.
  std::mt19937 rng(3);
  std::normal_distribution<double> normal;
  std::vector<double> u(300), v(16), outer(300 * 16);
  double uu = 0, vv = 0;
  for (double& x : u) {
    x = normal(rng);
    uu += x * x;
  }
  for (double& x : v) {
    x = normal(rng);
    vv += x * x;
  }
  for (size_t i = 0; i < u.size(); ++i) {
    for (size_t j = 0; j < v.size(); ++j) outer[i * v.size() + j] = u[i] * v[j];
  }
  CHECK(spectral_norm(outer, 300, 16) == doctest::Approx(std::sqrt(uu * vv)).epsilon(1e-10));
  // Orthogonal columns scaled by 1, 2, 2.01 (close top singular values): 2.01.
  std::vector<double> close(4 * 3, 0.0);
  close[0] = 1;
  close[4] = 2;
  close[8] = 2.01;
  CHECK(spectral_norm(close, 4, 3) == doctest::Approx(2.01).epsilon(1e-8));
  CHECK(spectral_norm(std::vector<double>(12, 0.0), 4, 3) == 0.0);
  CHECK_THROWS(spectral_norm(a, 4, 3));
}

TEST_CASE("relative_spectral_error") {
  const std::vector<float> exact{1, 0, 0, 2}, half{0.5f, 0, 0, 1};
  CHECK(relative_spectral_error(exact, exact, 2, 2) == 0.0);
  CHECK(relative_spectral_error(exact, half, 2, 2) == doctest::Approx(0.5));
  const std::vector<float> zero(4, 0.0f);
  CHECK(relative_spectral_error(zero, zero, 2, 2) == 0.0);
  CHECK(relative_spectral_error(zero, exact, 2, 2) == std::numeric_limits<double>::infinity());
}

}  // namespace
}  // namespace skein
