// Performer / FAVOR+ (engine/src/attention/performer.*): injected directions
// against an independent double-precision reference, the drawn directions'
// orthogonal blocks, the softmax(QKᵀ/√p)·V target (and the opt-in
// paper-code scaling), determinism, packing, extreme logits.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <doctest/doctest.h>
#include <skein/error.h>
#include <nlohmann/json.hpp>

#include "attention/performer.h"
#include "baseline_fixture.h"

namespace skein {
namespace {

using testing::DoubleHead;
using testing::PackedProblem;

// FAVOR+ in double without stabilisers: φ(x)_f = exp(w_f·x' − ‖x'‖²/2).
std::vector<double> reference(const DoubleHead& h, const std::vector<float>& w, double normaliser) {
  const size_t p = h.p, r = w.size() / p;
  const auto phi = [&](const std::vector<double>& x, size_t i) {
    std::vector<double> f(r);
    double sq = 0.0;
    for (size_t c = 0; c < p; ++c) sq += x[i * p + c] * normaliser * x[i * p + c] * normaliser;
    for (size_t t = 0; t < r; ++t) {
      double dot = 0.0;
      for (size_t c = 0; c < p; ++c) dot += double{w[t * p + c]} * x[i * p + c] * normaliser;
      f[t] = std::exp(dot - sq / 2);
    }
    return f;
  };
  std::vector<std::vector<double>> fk;
  for (size_t j = 0; j < h.m; ++j) fk.push_back(phi(h.k, j));
  std::vector<double> out(h.m * p, 0.0);
  for (size_t i = 0; i < h.m; ++i) {
    const std::vector<double> fq = phi(h.q, i);
    double total = 0.0;
    for (size_t j = 0; j < h.m; ++j) {
      double a = 0.0;
      for (size_t t = 0; t < r; ++t) a += fq[t] * fk[j][t];
      total += a;
      for (size_t c = 0; c < p; ++c) out[i * p + c] += a * h.v[j * p + c];
    }
    for (size_t c = 0; c < p; ++c) out[i * p + c] /= total;
  }
  return out;
}

TEST_CASE("performer: injected directions match the double reference within 1e-5") {
  struct Case {
    int64_t m;
    int p;
    size_t r;
    bool paper_code_scaling;
  };
  for (const Case& tc : {Case{37, 8, 20, false}, Case{200, 16, 48, false}, Case{130, 32, 7, true},
                         Case{1, 8, 16, false}}) {
    CAPTURE(tc.m);
    CAPTURE(tc.r);
    PackedProblem problem({5, tc.m}, 2, tc.p, 23);
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> w(tc.r * static_cast<size_t>(tc.p));
    for (float& x : w) x = normal(rng);
    const PerformerAttention method(16, tc.paper_code_scaling);
    std::fill(problem.out.begin(), problem.out.end(), 0.0f);
    method.run_head_with_features(problem.view(), 1, 1, w);
    const DoubleHead h(problem, 1, 1);
    const double normaliser = tc.paper_code_scaling ? 1.0 / std::sqrt(double(tc.p))
                                                    : 1.0 / std::sqrt(std::sqrt(double(tc.p)));
    testing::check_close(testing::head_rows(problem, problem.out, 1, 1),
                         reference(h, w, normaliser));
  }
}

TEST_CASE("performer: run() equals the reference with the directions it drew") {
  PackedProblem problem({90, 61}, 2, 16, 8);
  problem.seed = 77;
  const PerformerAttention method(40, false);
  const std::vector<float> out = testing::run_method(method, problem);
  for (size_t s = 0; s < 2; ++s) {
    for (int hd = 0; hd < 2; ++hd) {
      const std::vector<float> w =
          method.draw_features(problem.view(), static_cast<int64_t>(s), hd);
      REQUIRE(w.size() == 40 * 16);
      testing::check_close(
          testing::head_rows(problem, out, s, static_cast<size_t>(hd)),
          reference(DoubleHead(problem, s, static_cast<size_t>(hd)), w, 1.0 / std::sqrt(4.0)));
    }
  }
  // Different heads and sequences draw different directions.
  CHECK(method.draw_features(problem.view(), 0, 0) != method.draw_features(problem.view(), 0, 1));
  CHECK(method.draw_features(problem.view(), 0, 0) != method.draw_features(problem.view(), 1, 0));
}

TEST_CASE("performer: directions are orthogonal within each block of head_dim rows") {
  PackedProblem problem({10}, 1, 8, 1);
  const std::vector<float> w = PerformerAttention(20, false).draw_features(problem.view(), 0, 0);
  for (size_t block = 0; block < 20; block += 8) {
    for (size_t i = block; i < std::min<size_t>(block + 8, 20); ++i) {
      for (size_t j = block; j < i; ++j) {
        double dot = 0.0;
        for (size_t c = 0; c < 8; ++c) dot += double{w[i * 8 + c]} * w[j * 8 + c];
        CHECK(std::abs(dot) < 1e-4);
      }
    }
  }
}

TEST_CASE("performer: many features approximate softmax(QKᵀ/√p)·V, paper-code scaling does not") {
  // Entries of std 0.5: FAVOR+'s variance grows like e^(‖q' + k'‖²), so
  // larger ones need far more features for the same error.
  PackedProblem problem({64}, 1, 16, 12, 0.5f);
  for (float& x : problem.k) x *= 0.5f;
  const DoubleHead h(problem, 0, 0);
  const std::vector<double> exact = testing::softmax_attention(h.q, h.k, h.v, h.p, h.scale());
  const auto error = [&](const std::vector<float>& out) {
    double num = 0.0, den = 0.0;
    const std::vector<double> got = testing::head_rows(problem, out, 0, 0);
    for (size_t i = 0; i < got.size(); ++i) {
      num += (got[i] - exact[i]) * (got[i] - exact[i]);
      den += exact[i] * exact[i];
    }
    return std::sqrt(num / den);
  };
  const double many = error(testing::run_method(PerformerAttention(4096, false), problem));
  const double few = error(testing::run_method(PerformerAttention(16, false), problem));
  const double twice = error(testing::run_method(PerformerAttention(4096, true), problem));
  CHECK(many < 0.08);
  CHECK(many < few);
  CHECK(twice > 2 * many);
}

TEST_CASE("performer: determinism, packing, extreme logits") {
  const PerformerAttention method(24, false);
  testing::check_thread_determinism(method);
  testing::check_packing(method);
  testing::check_extreme_logits(method);
}

TEST_CASE("make_attention: performer, features and paper_code_scaling") {
  const auto plain = make_attention({{"method", "performer"}});
  CHECK(plain->name() == "performer");
  CHECK_FALSE(dynamic_cast<const PerformerAttention&>(*plain).paper_code_scaling());
  const auto compat =
      make_attention({{"method", "performer"}, {"features", 32}, {"paper_code_scaling", true}});
  CHECK(dynamic_cast<const PerformerAttention&>(*compat).paper_code_scaling());
  CHECK(dynamic_cast<const PerformerAttention&>(*compat).features() == 32);
  CHECK_THROWS_AS(make_attention({{"method", "performer"}, {"paper_code_scaling", 1}}), Error);
  CHECK_THROWS_AS(make_attention({{"method", "performer"}, {"redraw", true}}), Error);
}

}  // namespace
}  // namespace skein
