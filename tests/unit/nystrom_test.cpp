// Nyströmformer (engine/src/attention/nystrom.*): against an independent
// double-precision reference (segment-mean landmarks, the three softmax
// kernels, six pseudo-inverse steps), determinism, packing, extreme logits.
#include <algorithm>
#include <cmath>
#include <vector>

#include <doctest/doctest.h>
#include <skein/error.h>
#include <nlohmann/json.hpp>

#include "attention/nystrom.h"
#include "baseline_fixture.h"

namespace skein {
namespace {

using testing::DoubleHead;
using testing::PackedProblem;

using Matrix = std::vector<double>;  // row-major, size known by the caller

Matrix matmul(const Matrix& a, const Matrix& b, size_t n, size_t k, size_t m) {
  Matrix c(n * m, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t t = 0; t < k; ++t)
      for (size_t j = 0; j < m; ++j) c[i * m + j] += a[i * k + t] * b[t * m + j];
  return c;
}

// softmax(scale·A·Bᵀ) for A [n][p], B [m][p].
Matrix softmax_kernel(const Matrix& a, const Matrix& b, size_t p, double scale) {
  const size_t n = a.size() / p, m = b.size() / p;
  Matrix s(n * m);
  for (size_t i = 0; i < n; ++i) {
    double mx = -1e300, total = 0.0;
    for (size_t j = 0; j < m; ++j) {
      double dot = 0.0;
      for (size_t c = 0; c < p; ++c) dot += a[i * p + c] * b[j * p + c];
      mx = std::max(mx, s[i * m + j] = dot * scale);
    }
    for (size_t j = 0; j < m; ++j) total += (s[i * m + j] = std::exp(s[i * m + j] - mx));
    for (size_t j = 0; j < m; ++j) s[i * m + j] /= total;
  }
  return s;
}

Matrix landmarks(const Matrix& x, size_t m, size_t c, size_t p) {
  Matrix l(c * p, 0.0);
  for (size_t s = 0; s < c; ++s) {
    const size_t begin = s * m / c, end = (s + 1) * m / c;
    for (size_t i = begin; i < end; ++i)
      for (size_t d = 0; d < p; ++d)
        l[s * p + d] += x[i * p + d] / static_cast<double>(end - begin);
  }
  return l;
}

Matrix reference(const DoubleHead& h, size_t features) {
  const size_t c = std::min(features, h.m), p = h.p;
  const Matrix lq = landmarks(h.q, h.m, c, p), lk = landmarks(h.k, h.m, c, p);
  const Matrix f = softmax_kernel(h.q, lk, p, h.scale());
  const Matrix a = softmax_kernel(lq, lk, p, h.scale());
  const Matrix b = softmax_kernel(lq, h.k, p, h.scale());
  double max_col = 0.0;
  for (size_t j = 0; j < c; ++j) {
    double sum = 0.0;
    for (size_t i = 0; i < c; ++i) sum += a[i * c + j];
    max_col = std::max(max_col, sum);
  }
  Matrix z(c * c);
  for (size_t i = 0; i < c; ++i)
    for (size_t j = 0; j < c; ++j) z[i * c + j] = a[j * c + i] / max_col;
  const auto minus = [c](Matrix t, double k) {
    for (double& x : t) x = -x;
    for (size_t i = 0; i < c; ++i) t[i * c + i] += k;
    return t;
  };
  for (int step = 0; step < 6; ++step) {
    const Matrix az = matmul(a, z, c, c, c);
    const Matrix t1 = minus(az, 7.0);
    const Matrix t2 = minus(matmul(az, t1, c, c, c), 15.0);
    Matrix t = minus(matmul(az, t2, c, c, c), 13.0);
    for (double& x : t) x *= 0.25;
    z = matmul(z, t, c, c, c);
  }
  const Matrix bv = matmul(b, h.v, c, h.m, p);
  return matmul(matmul(f, z, h.m, c, c), bv, h.m, c, p);
}

TEST_CASE("nystrom: matches the double reference within 1e-5") {
  struct Case {
    std::vector<int64_t> lengths;
    int heads, p;
    int64_t features;
  };
  for (const Case& tc : {Case{{37}, 1, 8, 8}, Case{{64, 50}, 2, 16, 16}, Case{{10, 300}, 2, 32, 20},
                         Case{{600}, 1, 16, 40}}) {
    CAPTURE(tc.lengths.size());
    CAPTURE(tc.features);
    PackedProblem problem(tc.lengths, tc.heads, tc.p, 17, 2.0f);
    const NystromAttention method(tc.features);
    const std::vector<float> out = testing::run_method(method, problem);
    for (size_t s = 0; s < tc.lengths.size(); ++s) {
      for (int hd = 0; hd < tc.heads; ++hd) {
        const DoubleHead h(problem, s, static_cast<size_t>(hd));
        testing::check_close(testing::head_rows(problem, out, s, static_cast<size_t>(hd)),
                             reference(h, static_cast<size_t>(tc.features)));
      }
    }
  }
}

TEST_CASE("nystrom: as many landmarks as tokens is exact attention when A is well conditioned") {
  // k = q with large entries: A = softmax(s·Q·Qᵀ) is close to the identity, so
  // six pseudo-inverse steps converge and F·A⁺·B·V = A·A⁻¹·A·V = exact.
  PackedProblem problem({24}, 1, 32, 4, 2.0f);
  problem.k = problem.q;
  const std::vector<float> out = testing::run_method(NystromAttention(64), problem);
  const DoubleHead h(problem, 0, 0);
  testing::check_close(testing::head_rows(problem, out, 0, 0),
                       testing::softmax_attention(h.q, h.k, h.v, h.p, h.scale()), 1e-4);
}

TEST_CASE("nystrom: determinism, packing, extreme logits") {
  const NystromAttention method(32);
  testing::check_thread_determinism(method);
  testing::check_packing(method);
  testing::check_extreme_logits(method);
}

TEST_CASE("make_attention: nystrom and its features") {
  CHECK(make_attention({{"method", "nystrom"}})->name() == "nystrom");
  const auto method = make_attention({{"method", "nystrom"}, {"features", 64}});
  CHECK(dynamic_cast<const NystromAttention&>(*method).features() == 64);
  CHECK_THROWS_AS(make_attention({{"method", "nystrom"}, {"features", 0}}), Error);
  CHECK_THROWS_AS(make_attention({{"method", "nystrom"}, {"landmarks", 3}}), Error);
}

}  // namespace
}  // namespace skein
