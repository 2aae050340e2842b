// Informer / ProbSparse (engine/src/attention/informer.*): injected samples
// against an independent double-precision reference for both padding
// behaviours, the counts, the sample stream, determinism, packing (mask
// variant), extreme logits.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include <doctest/doctest.h>
#include <skein/error.h>
#include <nlohmann/json.hpp>

#include "attention/informer.h"
#include "baseline_fixture.h"
#include "core/rng.h"

namespace skein {
namespace {

using testing::DoubleHead;
using testing::PackedProblem;

// The definition in informer.h, in double: L positions, padding = zero tokens.
std::vector<double> reference(const DoubleHead& h, const std::vector<int64_t>& samples,
                              size_t per_query, size_t active, size_t length) {
  const size_t p = h.p;
  const auto score = [&](size_t i, size_t j) {
    if (j >= h.m) return 0.0;
    double dot = 0.0;
    for (size_t c = 0; c < p; ++c) dot += h.q[i * p + c] * h.k[j * p + c];
    return dot * h.scale();
  };
  std::vector<double> sparsity(h.m);
  for (size_t i = 0; i < h.m; ++i) {
    double mx = -1e300, sum = 0.0;
    for (size_t t = 0; t < per_query; ++t) {
      const double s = score(i, static_cast<size_t>(samples[i * per_query + t]));
      mx = std::max(mx, s);
      sum += s;
    }
    sparsity[i] = mx - sum / static_cast<double>(per_query);
  }
  std::vector<size_t> order(h.m);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return sparsity[a] > sparsity[b]; });
  std::vector<double> out(h.m * p, 0.0);
  for (size_t i = 0; i < h.m; ++i)
    for (size_t j = 0; j < h.m; ++j)
      for (size_t c = 0; c < p; ++c) out[i * p + c] += h.v[j * p + c] / static_cast<double>(length);
  for (size_t r = 0; r < active; ++r) {
    const size_t i = order[r];
    std::vector<double> s(length);
    double mx = -1e300, total = 0.0;
    for (size_t j = 0; j < length; ++j) mx = std::max(mx, s[j] = score(i, j));
    for (double& x : s) total += (x = std::exp(x - mx));
    for (size_t c = 0; c < p; ++c) {
      double acc = 0.0;
      for (size_t j = 0; j < h.m; ++j) acc += s[j] * h.v[j * p + c];
      out[i * p + c] = acc / total;
    }
  }
  return out;
}

TEST_CASE("informer: counts follow u = c·⌈ln L⌉ with c from the feature budget") {
  const InformerAttention mask(256, true), plain(256, false);
  auto n = mask.counts(65536, 65536);  // ⌈ln 65536⌉ = 12, c = 21
  CHECK(n.samples == 252);
  CHECK(n.active == 252);
  n = mask.counts(100, 4096);  // L = m = 100: ⌈4.6⌉ = 5, c = 51, capped at m
  CHECK(n.samples == 100);
  CHECK(n.length == 100);
  n = plain.counts(100, 4096);  // L = 4096: ⌈8.3⌉ = 9, c = 28: U = 252, u = min(100, 252)
  CHECK(n.samples == 252);
  CHECK(n.active == 100);
  CHECK(n.length == 4096);
  n = InformerAttention(3, true).counts(1, 1);
  CHECK((n.samples == 1 && n.active == 1));
}

TEST_CASE("informer: injected samples match the double reference within 1e-5") {
  for (bool mask : {true, false}) {
    CAPTURE(mask);
    PackedProblem problem({150, 120}, 2, 16, 41, 2.0f);
    const InformerAttention method(20, mask);
    const auto n = method.counts(120, 150);
    REQUIRE(n.active < 120);
    std::vector<int64_t> samples(120 * n.samples);
    for (size_t w = 0; w < samples.size(); ++w) {
      samples[w] = static_cast<int64_t>((w * 7919 + 13) % n.length);
    }
    std::fill(problem.out.begin(), problem.out.end(), 0.0f);
    method.run_head_with_samples(problem.view(), 1, 1, samples);
    const DoubleHead h(problem, 1, 1);
    testing::check_close(testing::head_rows(problem, problem.out, 1, 1),
                         reference(h, samples, n.samples, n.active, n.length));
    samples[3] = static_cast<int64_t>(n.length);
    CHECK_THROWS_AS(method.run_head_with_samples(problem.view(), 1, 1, samples), Error);
  }
}

TEST_CASE("informer: run() equals the reference with the samples it drew; words are the stream's") {
  for (bool mask : {true, false}) {
    PackedProblem problem({300, 77}, 2, 8, 6);
    problem.seed = 1234;
    problem.layer = 2;
    const InformerAttention method(16, mask);
    const std::vector<float> out = testing::run_method(method, problem);
    for (size_t s = 0; s < 2; ++s) {
      for (int hd = 0; hd < 2; ++hd) {
        const auto samples = method.draw_samples(problem.view(), static_cast<int64_t>(s), hd);
        const DoubleHead h(problem, s, static_cast<size_t>(hd));
        const auto n = method.counts(h.m, 300);
        const PhiloxStream stream(1234, 2, static_cast<int64_t>(s), static_cast<uint32_t>(hd));
        for (size_t w = 0; w < 50; ++w) {
          CHECK(samples[w] == static_cast<int64_t>((uint64_t{stream.u32(w)} * n.length) >> 32));
        }
        testing::check_close(testing::head_rows(problem, out, s, static_cast<size_t>(hd)),
                             reference(h, samples, n.samples, n.active, n.length));
      }
    }
  }
}

TEST_CASE("informer: several query blocks and key buckets of the sampled scores") {
  // U = 252 samples per query: blocks of 2080 queries (2^19 pairs), so m = 4500
  // takes three blocks; keys fall into 71 buckets of 64 (plus padding keys for
  // `informer`, L = 4600).
  for (bool mask : {true, false}) {
    CAPTURE(mask);
    PackedProblem problem({4500, 4600}, 1, 8, 17);
    const InformerAttention method(256, mask);
    const std::vector<float> out = testing::run_method(method, problem);
    const auto samples = method.draw_samples(problem.view(), 0, 0);
    const DoubleHead h(problem, 0, 0);
    const auto n = method.counts(h.m, 4600);
    REQUIRE(n.samples == 252);
    testing::check_close(testing::head_rows(problem, out, 0, 0),
                         reference(h, samples, n.samples, n.active, n.length));
  }
}

TEST_CASE("informer: without padding both variants agree") {
  PackedProblem problem({200}, 2, 8, 9);
  CHECK(testing::run_method(InformerAttention(24, true), problem) ==
        testing::run_method(InformerAttention(24, false), problem));
}

TEST_CASE("informer: determinism, packing (mask variant), extreme logits") {
  for (bool mask : {true, false}) {
    const InformerAttention method(16, mask);
    testing::check_thread_determinism(method);
    testing::check_extreme_logits(method);
  }
  testing::check_packing(InformerAttention(16, true));
}

TEST_CASE("make_attention: informer and informer-mask") {
  CHECK(make_attention({{"method", "informer"}})->name() == "informer");
  const auto masked = make_attention({{"method", "informer-mask"}, {"features", 40}});
  CHECK(masked->name() == "informer-mask");
  CHECK(dynamic_cast<const InformerAttention&>(*masked).features() == 40);
  CHECK_THROWS_AS(make_attention({{"method", "informer"}, {"factor", 5}}), Error);
}

}  // namespace
}  // namespace skein
