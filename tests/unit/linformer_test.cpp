// Linformer (engine/src/attention/linformer.*): a given E against an
// independent double-precision reference (only the first m columns used), the
// drawn JL projection (its statistics, that run() uses it, independence from
// the padded length), determinism, packing, extreme logits, the registry.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <doctest/doctest.h>
#include <skein/error.h>
#include <nlohmann/json.hpp>

#include "attention/linformer.h"
#include "baseline_fixture.h"

namespace skein {
namespace {

using testing::DoubleHead;
using testing::PackedProblem;

// E_h [k][len] row-major; the first m columns project K and V.
std::vector<double> reference(const DoubleHead& h, const float* e_head, size_t k, size_t len) {
  const size_t p = h.p;
  std::vector<double> kp(k * p, 0.0), vp(k * p, 0.0);
  for (size_t r = 0; r < k; ++r)
    for (size_t j = 0; j < h.m; ++j)
      for (size_t c = 0; c < p; ++c) {
        kp[r * p + c] += double{e_head[r * len + j]} * h.k[j * p + c];
        vp[r * p + c] += double{e_head[r * len + j]} * h.v[j * p + c];
      }
  return testing::softmax_attention(h.q, kp, vp, p, h.scale());
}

std::vector<float> gaussian(size_t count, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> x(count);
  for (float& v : x) v = normal(rng);
  return x;
}

std::vector<float> run_with(const LinformerAttention& method, PackedProblem& problem,
                            const std::vector<float>& e, int64_t k, int64_t len, int threads) {
  AttentionShape shape = problem.shape;
  shape.projection_rows = k;
  testing::AlignedWorkspace ws(method.workspace_bytes(shape, threads));
  AttentionProblem view = problem.view();
  view.shape = shape;
  view.projection = e.data();
  view.projection_len = len;
  std::fill(problem.out.begin(), problem.out.end(), std::numeric_limits<float>::quiet_NaN());
  method.run(view, ws.span());
  return problem.out;
}

TEST_CASE("linformer: a given E matches the double reference within 1e-5") {
  for (int64_t k : {1, 7, 40}) {
    CAPTURE(k);
    const int64_t len = 320;
    PackedProblem problem({300, 45, 1}, 2, 16, 13, 1.5f);
    const std::vector<float> e = gaussian(static_cast<size_t>(2 * k * len), 5, 0.1f);
    const LinformerAttention method(256);  // E's rows win over features
    const std::vector<float> out = run_with(method, problem, e, k, len, 2);
    for (size_t s = 0; s < 3; ++s) {
      for (size_t hd = 0; hd < 2; ++hd) {
        testing::check_close(
            testing::head_rows(problem, out, s, hd),
            reference(DoubleHead(problem, s, hd), e.data() + hd * static_cast<size_t>(k * len),
                      static_cast<size_t>(k), static_cast<size_t>(len)));
      }
    }
    // 1 and 2 threads: same bits.
    const std::vector<float> one = run_with(method, problem, e, k, len, 1);
    CHECK(std::memcmp(one.data(), out.data(), out.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("linformer: E shorter than the longest sequence is an error") {
  PackedProblem problem({50}, 1, 8, 1);
  const std::vector<float> e(4 * 40, 0.1f);
  CHECK_THROWS_AS(run_with(LinformerAttention(4), problem, e, 4, 40, 1), Error);
}

TEST_CASE("linformer: the drawn projection has std 1/√k, is used by run(), and ignores padding") {
  PackedProblem problem({400, 100}, 2, 8, 3);
  problem.seed = 21;
  problem.layer = 1;
  const LinformerAttention method(32);
  const std::vector<float> e = method.draw_projection(problem.view(), 1, 400);
  double sum = 0.0, sq = 0.0;
  for (float x : e) {
    sum += x;
    sq += double{x} * x;
  }
  const double n = static_cast<double>(e.size());
  CHECK(std::abs(sum / n) < 0.01);
  CHECK(std::sqrt(sq / n) == doctest::Approx(1.0 / std::sqrt(32.0)).epsilon(0.03));
  CHECK(method.draw_projection(problem.view(), 0, 400) != e);
  const std::vector<float> out = testing::run_method(method, problem);
  for (size_t s = 0; s < 2; ++s) {
    testing::check_close(testing::head_rows(problem, out, s, 1),
                         reference(DoubleHead(problem, s, 1), e.data(), 32, 400));
  }
}

TEST_CASE("linformer: determinism, packing, extreme logits") {
  const LinformerAttention method(24);
  testing::check_thread_determinism(method);
  testing::check_packing(method);
  testing::check_extreme_logits(method);
}

TEST_CASE("make_attention: linformer, features and linformer_k") {
  const auto a = make_attention({{"method", "linformer"}, {"linformer_k", 64}});
  CHECK(dynamic_cast<const LinformerAttention&>(*a).features() == 64);
  CHECK(make_attention({{"method", "linformer"}})->name() == "linformer");
  CHECK_THROWS_AS(make_attention({{"method", "linformer"}, {"k", 5}}), Error);
}

}  // namespace
}  // namespace skein
