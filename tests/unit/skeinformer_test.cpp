// Skeinformer and its ablations (engine/src/attention/skeinformer.*), V-mean
// (vmean.*): against an independent double-precision reference with injected
// indices, the column sampler against exact without-replacement
// probabilities, determinism, extreme logits, packing, and the registry.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <new>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <skein/error.h>
#include <nlohmann/json.hpp>

#include "attention/attention.h"
#include "attention/exact.h"
#include "attention/skeinformer.h"
#include "attention/vmean.h"
#include "baseline_fixture.h"
#include "core/rng.h"
#include "core/spectral_norm.h"

namespace skein {
namespace {

// The aligned workspace, packed Gaussian problem and runner the baseline
// methods' tests share.
using Problem = testing::PackedProblem;
using Workspace = testing::AlignedWorkspace;
using testing::run_method;

// ---- The independent double-precision reference, one (sequence, head) ----

struct RefHead {
  size_t m, p;
  std::vector<double> q, k, v;  // [m][p]
  double score(size_t i, size_t j) const {
    double dot = 0.0;
    for (size_t c = 0; c < p; ++c) dot += q[i * p + c] * k[j * p + c];
    return dot / std::sqrt(static_cast<double>(p));
  }
  // Exact softmax row i: probabilities over all keys.
  std::vector<double> softmax_row(size_t i) const {
    std::vector<double> s(m);
    double mx = -std::numeric_limits<double>::infinity();
    for (size_t j = 0; j < m; ++j) mx = std::max(mx, s[j] = score(i, j));
    double total = 0.0;
    for (double& x : s) total += (x = std::exp(x - mx));
    for (double& x : s) x /= total;
    return s;
  }
};

RefHead extract(const Problem& problem, size_t seq, size_t head) {
  RefHead h;
  const size_t begin = static_cast<size_t>(problem.offsets[seq]);
  h.m = static_cast<size_t>(problem.offsets[seq + 1]) - begin;
  h.p = static_cast<size_t>(problem.shape.head_dim);
  const size_t ld = problem.width();
  for (auto [from, to] : {std::pair{&problem.q, &h.q}, {&problem.k, &h.k}, {&problem.v, &h.v}}) {
    to->resize(h.m * h.p);
    for (size_t i = 0; i < h.m; ++i) {
      for (size_t c = 0; c < h.p; ++c)
        (*to)[i * h.p + c] = (*from)[(begin + i) * ld + head * h.p + c];
    }
  }
  return h;
}

// The method's formula (DESIGN.md, skeinformer.h) written out plainly, [m][p].
std::vector<double> reference(const RefHead& h, SkeinVariant variant, const SkeinIndices& idx) {
  const size_t m = h.m, p = h.p;
  std::vector<double> out(m * p);
  if (m == 1) {
    for (size_t c = 0; c < p; ++c) out[c] = h.v[c];
    return out;
  }
  const bool pilot = variant != SkeinVariant::kUniform;
  const bool reuse = variant == SkeinVariant::kSkeinformer ||
                     variant == SkeinVariant::kSimpleNorm || variant == SkeinVariant::kNoNorm;
  // Pilot block B_J and the column weights w_i = ||B_J[:, i]|| ||V_i||.
  std::vector<std::vector<double>> b_rows;
  std::vector<double> weight(m, 1.0);
  if (pilot) {
    for (int64_t r : idx.pilot) b_rows.push_back(h.softmax_row(static_cast<size_t>(r)));
    for (size_t i = 0; i < m; ++i) {
      double b2 = 0.0, v2 = 0.0;
      for (const auto& row : b_rows) b2 += row[i] * row[i];
      for (size_t c = 0; c < p; ++c) v2 += h.v[i * p + c] * h.v[i * p + c];
      weight[i] = std::sqrt(b2) * std::sqrt(v2);
    }
  }
  const double weight_sum = std::accumulate(weight.begin(), weight.end(), 0.0);
  const std::vector<int64_t>& cols = idx.columns;
  const double dsel = static_cast<double>(cols.size());
  std::vector<double> sum_v(p, 0.0);
  for (size_t i = 0; i < m; ++i) {
    for (size_t c = 0; c < p; ++c) sum_v[c] += h.v[i * p + c];
  }
  for (size_t i = 0; i < m; ++i) {
    double* row = &out[i * p];
    if (cols.empty()) {
      for (size_t c = 0; c < p; ++c) row[c] = sum_v[c] / static_cast<double>(m);
      continue;
    }
    std::vector<double> t;
    for (int64_t j : cols) t.push_back(h.score(i, static_cast<size_t>(j)));
    if (variant == SkeinVariant::kNoNorm) {
      // Σ_{j∈J'} e^{t_ij} v_j / (d' π_j), divided by the exact row sum D_i.
      const std::vector<double> b = h.softmax_row(i);  // e^{t}/D_i for every key
      for (size_t c = 0; c < p; ++c) row[c] = 0.0;
      for (size_t a = 0; a < cols.size(); ++a) {
        const auto j = static_cast<size_t>(cols[a]);
        const double pi = weight[j] / weight_sum;
        for (size_t c = 0; c < p; ++c) row[c] += b[j] * h.v[j * p + c] / (dsel * pi);
      }
      continue;
    }
    const double mx = *std::max_element(t.begin(), t.end());
    const double mean = std::accumulate(t.begin(), t.end(), 0.0) / dsel;
    const double g = variant == SkeinVariant::kSimpleNorm ? 0.0 : std::exp(mean - mx);
    std::vector<double> num(p, 0.0);
    double den = 0.0;
    std::vector<double> rest = sum_v;
    for (size_t a = 0; a < cols.size(); ++a) {
      const auto j = static_cast<size_t>(cols[a]);
      const double e = std::exp(t[a] - mx);
      den += e;
      for (size_t c = 0; c < p; ++c) {
        num[c] += e * h.v[j * p + c];
        rest[c] -= h.v[j * p + c];
      }
    }
    den += (static_cast<double>(m) - dsel) * g;
    for (size_t c = 0; c < p; ++c) row[c] = (num[c] + g * rest[c]) / den;
  }
  if (reuse) {
    for (size_t r = 0; r < idx.pilot.size(); ++r) {
      const auto i = static_cast<size_t>(idx.pilot[r]);
      for (size_t c = 0; c < p; ++c) {
        double acc = 0.0;
        for (size_t j = 0; j < m; ++j) acc += b_rows[r][j] * h.v[j * p + c];
        out[i * p + c] = acc;
      }
    }
  }
  return out;
}

// Max |engine − reference| over the head, relative to the largest |reference|.
double head_error(const Problem& problem, size_t seq, size_t head, const std::vector<double>& ref) {
  const size_t begin = static_cast<size_t>(problem.offsets[seq]);
  const size_t m = static_cast<size_t>(problem.offsets[seq + 1]) - begin;
  const auto p = static_cast<size_t>(problem.shape.head_dim);
  double worst = 0.0, scale = 0.0;
  for (size_t i = 0; i < m; ++i) {
    for (size_t c = 0; c < p; ++c) {
      const double got = problem.out[(begin + i) * problem.width() + head * p + c];
      if (!std::isfinite(got)) return std::numeric_limits<double>::infinity();
      worst = std::max(worst, std::abs(got - ref[i * p + c]));
      scale = std::max(scale, std::abs(ref[i * p + c]));
    }
  }
  return worst / scale;
}

constexpr SkeinVariant kAllVariants[] = {SkeinVariant::kSkeinformer, SkeinVariant::kUniform,
                                         SkeinVariant::kNoNorm, SkeinVariant::kSimpleNorm,
                                         SkeinVariant::kNoPilot};

TEST_CASE("skeinformer family: injected indices match the double reference within 1e-5") {
  Problem problem({300, 77}, 2, 32, 11);
  std::mt19937 rng(5);
  for (SkeinVariant variant : kAllVariants) {
    CAPTURE(skein_variant_name(variant));
    const SkeinformerAttention method(variant, 40);
    for (size_t seq = 0; seq < 2; ++seq) {
      for (size_t head = 0; head < 2; ++head) {
        const auto m = static_cast<int64_t>(problem.offsets[seq + 1] - problem.offsets[seq]);
        // Indices of our own: pilot with a repeat, columns a random subset.
        SkeinIndices idx;
        if (variant != SkeinVariant::kUniform) {
          std::uniform_int_distribution<int64_t> row(0, m - 1);
          for (int r = 0; r < 40; ++r) idx.pilot.push_back(row(rng));
          idx.pilot.push_back(idx.pilot.front());
        }
        std::vector<int64_t> all(static_cast<size_t>(m));
        std::iota(all.begin(), all.end(), 0);
        std::shuffle(all.begin(), all.end(), rng);
        idx.columns.assign(all.begin(), all.begin() + 37);
        std::sort(idx.columns.begin(), idx.columns.end());
        method.run_head_with_indices(problem.view(), static_cast<int64_t>(seq),
                                     static_cast<int>(head), idx);
        const auto ref = reference(extract(problem, seq, head), variant, idx);
        CHECK(head_error(problem, seq, head, ref) < 1e-5);
      }
    }
  }
}

TEST_CASE("skeinformer family: run() equals the reference with the indices it drew") {
  Problem problem({500, 1, 2, 3, 17, 260}, 2, 16, 12);
  for (SkeinVariant variant : kAllVariants) {
    CAPTURE(skein_variant_name(variant));
    const SkeinformerAttention method(variant, 64);
    run_method(method, problem);
    const std::vector<float> out = problem.out;
    for (size_t seq = 0; seq < 6; ++seq) {
      for (size_t head = 0; head < 2; ++head) {
        CAPTURE(seq);
        const SkeinIndices idx =
            method.draw_indices(problem.view(), static_cast<int64_t>(seq), static_cast<int>(head));
        const auto m = static_cast<size_t>(problem.offsets[seq + 1] - problem.offsets[seq]);
        const size_t d = std::min<size_t>(64, m - 1);
        CHECK(idx.columns.size() == d);
        CHECK(idx.pilot.size() == (variant == SkeinVariant::kUniform || m <= 1 ? 0 : d));
        CHECK(std::adjacent_find(idx.columns.begin(), idx.columns.end()) == idx.columns.end());
        CHECK(std::is_sorted(idx.columns.begin(), idx.columns.end()));
        const auto ref = reference(extract(problem, seq, head), variant, idx);
        CHECK(head_error(problem, seq, head, ref) < 1e-5);
        // And the injected path reproduces run() bit for bit.
        problem.out = out;
        method.run_head_with_indices(problem.view(), static_cast<int64_t>(seq),
                                     static_cast<int>(head), idx);
        CHECK(problem.out == out);
      }
    }
  }
}

TEST_CASE("skeinformer: pilot rows are shared by a sequence's heads; columns differ per head") {
  Problem problem({400}, 3, 16, 13);
  const SkeinformerAttention method(SkeinVariant::kSkeinformer, 32);
  const auto a = method.draw_indices(problem.view(), 0, 0);
  const auto b = method.draw_indices(problem.view(), 0, 2);
  CHECK(a.pilot == b.pilot);
  CHECK(a.columns != b.columns);
}

TEST_CASE("skeinformer: m = 1 gives v; m = 2 uses d = 1") {
  Problem problem({1, 2}, 1, 8, 14);
  const SkeinformerAttention method(SkeinVariant::kSkeinformer, 256);
  run_method(method, problem);
  for (size_t c = 0; c < 8; ++c) CHECK(problem.out[c] == problem.v[c]);
  const auto idx = method.draw_indices(problem.view(), 1, 0);
  CHECK(idx.pilot.size() == 1);
  CHECK(idx.columns.size() == 1);
}

// Exact probability of each d-subset under successive draws without
// replacement with probability ∝ weight (enumerating every draw order).
void subset_probabilities(const std::vector<double>& w, size_t d, std::vector<int64_t>& chosen,
                          double prob, std::map<std::vector<int64_t>, double>& result) {
  if (chosen.size() == d) {
    std::vector<int64_t> key = chosen;
    std::sort(key.begin(), key.end());
    result[key] += prob;
    return;
  }
  double remaining = 0.0;
  for (size_t i = 0; i < w.size(); ++i) {
    if (std::find(chosen.begin(), chosen.end(), static_cast<int64_t>(i)) == chosen.end()) {
      remaining += w[i];
    }
  }
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] <= 0.0 ||
        std::find(chosen.begin(), chosen.end(), static_cast<int64_t>(i)) != chosen.end()) {
      continue;
    }
    chosen.push_back(static_cast<int64_t>(i));
    subset_probabilities(w, d, chosen, prob * w[i] / remaining, result);
    chosen.pop_back();
  }
}

TEST_CASE("column sampler: subset frequencies match weighted sampling without replacement") {
  const std::vector<double> weights{1.0, 0.0, 2.0, 3.0, 0.5, 4.0, 1.5};
  constexpr size_t kDraw = 3;
  constexpr int kTrials = 40000;
  std::map<std::vector<int64_t>, double> expected;
  std::vector<int64_t> chosen;
  subset_probabilities(weights, kDraw, chosen, 1.0, expected);
  std::map<std::vector<int64_t>, int> observed;
  std::vector<int> inclusions(weights.size(), 0);
  for (int trial = 0; trial < kTrials; ++trial) {
    const PhiloxStream stream(0x5eed, 1, trial, 0);
    const auto picked = sample_columns(weights, kDraw, stream);
    REQUIRE(picked.size() == kDraw);
    ++observed[picked];
    for (int64_t i : picked) ++inclusions[static_cast<size_t>(i)];
  }
  CHECK(inclusions[1] == 0);  // zero weight: never drawn
  double chi2 = 0.0;
  for (const auto& [subset, prob] : expected) {
    const double e = prob * kTrials;
    const double o = observed.count(subset) ? observed[subset] : 0;
    chi2 += (o - e) * (o - e) / e;
  }
  for (const auto& [subset, count] : observed) CHECK(expected.count(subset) == 1);
  // C(6, 3) = 20 subsets, 19 degrees of freedom: the 0.999 quantile is 43.8.
  MESSAGE("chi-square over subsets: " << chi2 << " (19 dof)");
  CHECK(chi2 < 43.8);
  // Inclusion frequencies against the exact inclusion probabilities (5 sigma).
  for (size_t i = 0; i < weights.size(); ++i) {
    double pi = 0.0;
    for (const auto& [subset, prob] : expected) {
      if (std::find(subset.begin(), subset.end(), static_cast<int64_t>(i)) != subset.end())
        pi += prob;
    }
    const double sigma = std::sqrt(pi * (1 - pi) / kTrials) + 1e-12;
    CHECK(std::abs(inclusions[i] / double{kTrials} - pi) < 5 * sigma + 1e-12);
  }
}

TEST_CASE("column sampler: fewer positive weights than d gives only those") {
  const std::vector<double> weights{0.0, 2.0, 0.0, 1.0, 0.0};
  const auto picked = sample_columns(weights, 4, PhiloxStream(3, 0, 0, 0));
  CHECK(picked == std::vector<int64_t>{1, 3});
  CHECK(sample_columns(std::vector<double>(5, 0.0), 2, PhiloxStream(3, 0, 0, 0)).empty());
}

TEST_CASE("column sampler: the draw is the exponential race's top d, key by key") {
  // Written out here: key_i = log(u_i) / w_i with the stream's uniforms, the
  // d largest win (ties to the smaller index). The sampler skips the log for
  // offers it can bound below the worst kept key; this must never drop a winner.
  std::mt19937 rng(5);
  std::lognormal_distribution<double> spread(0.0, 3.0);  // weights over many decades
  for (uint64_t seed = 0; seed < 20; ++seed) {
    CAPTURE(seed);
    std::vector<double> weights(2000);
    for (double& w : weights) w = spread(rng);
    weights[7] = 0.0;
    const PhiloxStream stream(seed, 1, 0, 2);
    for (const size_t count : {size_t{1}, size_t{64}, size_t{500}}) {
      std::vector<std::pair<double, int64_t>> keys;
      for (size_t i = 0; i < weights.size(); ++i) {
        if (weights[i] > 0.0) {
          keys.push_back(
              {std::log(stream.uniform_double(i)) / weights[i], static_cast<int64_t>(i)});
        }
      }
      std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
      });
      std::vector<int64_t> expected;
      for (size_t j = 0; j < count; ++j) expected.push_back(keys[j].second);
      std::sort(expected.begin(), expected.end());
      CHECK(sample_columns(weights, count, stream) == expected);
    }
  }
}

TEST_CASE("skeinformer: bit-identical for 1 and 2 threads and run to run; seeds matter") {
  Problem problem({700, 300, 50}, 2, 32, 15);
  for (SkeinVariant variant : kAllVariants) {
    CAPTURE(skein_variant_name(variant));
    const SkeinformerAttention method(variant, 128);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    const auto one = run_method(method, problem, 1);
    omp_set_num_threads(2);
    const auto two = run_method(method, problem, 2);
    const auto again = run_method(method, problem, 2);
    omp_set_num_threads(saved);
    CHECK(one == two);
    CHECK(two == again);
    problem.seed = 2;
    const auto other_seed = run_method(method, problem, 2);
    problem.seed = 1;
    problem.layer = 1;
    const auto other_layer = run_method(method, problem, 2);
    problem.layer = 0;
    CHECK(other_seed != two);
    CHECK(other_layer != two);
  }
}

TEST_CASE("skeinformer: chunked pilot passes and row blocks are thread-count independent") {
  // 5000 tokens: 4 key chunks and 20 query blocks per head; 20 one-head
  // sequences: more (sequence, head) tasks than one wave holds.
  std::vector<int64_t> lengths{5000, 3};
  for (int i = 0; i < 18; ++i) lengths.push_back(40 + 17 * i);
  Problem problem(lengths, 1, 16, 23);
  for (SkeinVariant variant : {SkeinVariant::kSkeinformer, SkeinVariant::kUniform}) {
    CAPTURE(skein_variant_name(variant));
    const SkeinformerAttention method(variant, 64);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    const auto one = run_method(method, problem, 1);
    omp_set_num_threads(3);
    const auto three = run_method(method, problem, 3);
    omp_set_num_threads(saved);
    CHECK(one == three);
    for (size_t seq : {size_t{0}, size_t{19}}) {
      CAPTURE(seq);
      const SkeinIndices idx = method.draw_indices(problem.view(), static_cast<int64_t>(seq), 0);
      const auto ref = reference(extract(problem, seq, 0), variant, idx);
      CHECK(head_error(problem, seq, 0, ref) < 1e-5);
    }
  }
}

TEST_CASE("skeinformer: finite outputs for logits of ±1e4") {
  // |q·k|/√p reaches ~1e4 with q scaled by 4000 (p = 16).
  Problem problem({600, 90}, 2, 16, 16, 4000.0f);
  float largest_logit = 0.0f;
  for (size_t j = 0; j < 600; ++j) {
    float dot = 0.0f;
    for (size_t c = 0; c < 16; ++c) dot += problem.q[c] * problem.k[j * 32 + c];
    largest_logit = std::max(largest_logit, std::abs(dot) / 4.0f);
  }
  MESSAGE("largest |logit| of query 0: " << largest_logit);
  CHECK(largest_logit > 1e4f);
  for (SkeinVariant variant : kAllVariants) {
    CAPTURE(skein_variant_name(variant));
    const SkeinformerAttention method(variant, 64);
    const auto out = run_method(method, problem);
    CHECK(std::all_of(out.begin(), out.end(), [](float x) { return std::isfinite(x); }));
    // Still the formula, up to float rounding of logits near 1e4 (absolute
    // error ~1e-3 in a logit is ~0.1% in its weight).
    for (size_t seq = 0; seq < 2; ++seq) {
      const auto idx = method.draw_indices(problem.view(), static_cast<int64_t>(seq), 1);
      const auto ref = reference(extract(problem, seq, 1), variant, idx);
      CHECK(head_error(problem, seq, 1, ref) < 1e-2);
    }
  }
}

TEST_CASE("skeinformer: a packed batch equals per-sequence runs") {
  Problem packed({300, 120, 5}, 2, 16, 17);
  const SkeinformerAttention method(SkeinVariant::kSkeinformer, 50);
  const auto out = run_method(method, packed);
  // Sequence 0 alone is stream-identical (sequence index 0).
  Problem first({300}, 2, 16, 17);
  std::copy_n(packed.q.begin(), first.q.size(), first.q.begin());
  std::copy_n(packed.k.begin(), first.k.size(), first.k.begin());
  std::copy_n(packed.v.begin(), first.v.size(), first.v.begin());
  const auto alone = run_method(method, first);
  CHECK(std::equal(alone.begin(), alone.end(), out.begin()));
  // Later sequences alone, given the indices the packed run drew for them.
  for (size_t seq = 1; seq < 3; ++seq) {
    const auto len = packed.offsets[seq + 1] - packed.offsets[seq];
    Problem single({len}, 2, 16, 18);
    const size_t begin = static_cast<size_t>(packed.offsets[seq]) * packed.width();
    const size_t count = static_cast<size_t>(len) * packed.width();
    std::copy_n(packed.q.begin() + static_cast<ptrdiff_t>(begin), count, single.q.begin());
    std::copy_n(packed.k.begin() + static_cast<ptrdiff_t>(begin), count, single.k.begin());
    std::copy_n(packed.v.begin() + static_cast<ptrdiff_t>(begin), count, single.v.begin());
    for (int head = 0; head < 2; ++head) {
      const auto idx = method.draw_indices(packed.view(), static_cast<int64_t>(seq), head);
      method.run_head_with_indices(single.view(), 0, head, idx);
    }
    CHECK(std::equal(single.out.begin(), single.out.end(),
                     out.begin() + static_cast<ptrdiff_t>(begin)));
  }
}

TEST_CASE("vmean: every row is the mean of V over its sequence") {
  Problem problem({40, 1, 7}, 2, 8, 19);
  const auto method = make_attention(nlohmann::json{{"method", "vmean"}});
  const auto out = run_method(*method, problem);
  for (size_t seq = 0; seq < 3; ++seq) {
    for (size_t head = 0; head < 2; ++head) {
      const RefHead h = extract(problem, seq, head);
      std::vector<double> ref(h.m * h.p);
      for (size_t c = 0; c < h.p; ++c) {
        double mean = 0.0;
        for (size_t i = 0; i < h.m; ++i) mean += h.v[i * h.p + c];
        mean /= static_cast<double>(h.m);
        for (size_t i = 0; i < h.m; ++i) ref[i * h.p + c] = mean;
      }
      CHECK(head_error(problem, seq, head, ref) < 1e-6);
    }
  }
}

TEST_CASE("make_attention: the skeinformer family, features and its errors") {
  for (const char* name :
       {"skeinformer", "skein-uniform", "skein-nonorm", "skein-simplenorm", "skein-nopilot"}) {
    const auto method = make_attention(nlohmann::json{{"method", name}});
    CHECK(method->name() == name);
    const auto* skein = dynamic_cast<const SkeinformerAttention*>(method.get());
    REQUIRE(skein != nullptr);
    CHECK(skein->features() == 256);
    const auto with = make_attention(nlohmann::json{{"method", name}, {"features", 64}});
    CHECK(dynamic_cast<const SkeinformerAttention*>(with.get())->features() == 64);
  }
  for (const nlohmann::json& bad : {nlohmann::json(0), nlohmann::json(-3), nlohmann::json(2.5),
                                    nlohmann::json("64"), nlohmann::json(true), nlohmann::json()}) {
    CAPTURE(bad.dump());
    CHECK_THROWS_WITH_AS(
        make_attention(nlohmann::json{{"method", "skeinformer"}, {"features", bad}}),
        doctest::Contains("\"features\" must be a positive integer"), Error);
  }
  CHECK_THROWS_WITH_AS(make_attention(nlohmann::json{{"method", "skeinformer"}, {"feature", 3}}),
                       doctest::Contains("unknown parameter \"feature\""), Error);
  CHECK_THROWS_WITH_AS(make_attention(nlohmann::json{{"method", "vmean"}, {"features", 3}}),
                       doctest::Contains("unknown parameter"), Error);
  CHECK(make_attention(nlohmann::json{{"method", "vmean"}})->name() == "vmean");
}

}  // namespace
}  // namespace skein

namespace skein {
namespace {

TEST_CASE("skeinformer quality: spectral error falls with d and beats vmean and skein-uniform") {
  // LRA-like input: bytes of real text through a random byte embedding plus
  // position embedding, projected to q, k, v by random matrices (one head,
  // p = 32, n = 1024); qk_gain scales the logits so the attention is far
  // from uniform, as in trained models.
  const std::string text =
      "Long Range Arena tasks read long sequences of bytes: source code, reviews, "
      "mathematical expressions in prefix notation, and documents to be matched. "
      "Skeinformer approximates softmax attention by sampling the columns of the "
      "attention matrix with probability proportional to their estimated norm, "
      "normalising each row adaptively with the geometric mean of the sampled "
      "scores, and reusing the exact rows of a small pilot sample. ";
  constexpr size_t kN = 1024, kP = 32, kDim = 64;
  std::mt19937 rng(2024);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> embed(256 * kDim), pos(kN * kDim), wq(kDim * kP), wk(kDim * kP), wv(kDim * kP);
  for (auto* m : {&embed, &pos, &wq, &wk, &wv}) {
    for (float& x : *m) x = normal(rng);
  }
  for (float& x : pos) x *= 0.3f;
  Problem problem({static_cast<int64_t>(kN)}, 1, static_cast<int>(kP), 1);
  const float proj_scale = 1.0f / std::sqrt(static_cast<float>(kDim));
  const float qk_gain = 1.6f;  // sets how peaked the attention is
  for (size_t i = 0; i < kN; ++i) {
    const auto byte = static_cast<unsigned char>(text[i % text.size()]);
    for (size_t c = 0; c < kP; ++c) {
      float q = 0, k = 0, v = 0;
      for (size_t e = 0; e < kDim; ++e) {
        const float x = embed[byte * kDim + e] + pos[i * kDim + e];
        q += x * wq[e * kP + c];
        k += x * wk[e * kP + c];
        v += x * wv[e * kP + c];
      }
      problem.q[i * kP + c] = q * proj_scale * qk_gain;
      problem.k[i * kP + c] = k * proj_scale * qk_gain;
      problem.v[i * kP + c] = v * proj_scale;
    }
  }
  exact_attention_ref(problem.view());
  std::vector<double> exact(problem.out.begin(), problem.out.end());
  const double exact_norm = spectral_norm(exact, kN, kP);

  auto mean_error = [&](const AttentionMethod& method, int seeds) {
    double total = 0.0;
    for (int seed = 0; seed < seeds; ++seed) {
      problem.seed = 1000 + static_cast<uint64_t>(seed);
      const auto out = run_method(method, problem);
      std::vector<double> diff(kN * kP);
      for (size_t i = 0; i < kN * kP; ++i) diff[i] = exact[i] - out[i];
      total += spectral_norm(diff, kN, kP) / exact_norm;
    }
    return total / seeds;
  };
  constexpr int kSeeds = 30;
  std::vector<double> skein_errors;
  for (int64_t d : {32, 64, 128, 256}) {
    skein_errors.push_back(mean_error(SkeinformerAttention(SkeinVariant::kSkeinformer, d), kSeeds));
  }
  const double uniform = mean_error(SkeinformerAttention(SkeinVariant::kUniform, 256), kSeeds);
  const double vmean = mean_error(*make_attention(nlohmann::json{{"method", "vmean"}}), 1);
  MESSAGE("mean relative spectral error over "
          << kSeeds << " seeds, n = 1024: skeinformer d=32 " << skein_errors[0] << ", d=64 "
          << skein_errors[1] << ", d=128 " << skein_errors[2] << ", d=256 " << skein_errors[3]
          << "; skein-uniform d=256 " << uniform << "; vmean " << vmean);
  for (size_t i = 1; i < skein_errors.size(); ++i) CHECK(skein_errors[i] < skein_errors[i - 1]);
  CHECK(skein_errors.back() < uniform);
  CHECK(skein_errors.back() < vmean);
}

}  // namespace
}  // namespace skein

#include <cstdlib>
#include <fstream>

namespace skein {
namespace {

// Cases written by tests/parity/skeinformer_parity.py from the PyTorch
// reference (models/pytorch/skeinformer.py): from $SKEIN_SKEINFORMER_PARITY,
// else the small golden file in tests/data.
TEST_CASE("skeinformer parity with the PyTorch reference") {
  const char* env = std::getenv("SKEIN_SKEINFORMER_PARITY");
  const std::string path = env ? env : std::string(SKEIN_TEST_DATA) + "/skeinformer_parity.json";
  std::ifstream file(path);
  REQUIRE_MESSAGE(file.good(), "cannot open " << path);
  const auto doc = nlohmann::json::parse(file);
  const std::map<std::string, SkeinVariant> variants{
      {"skeinformer", SkeinVariant::kSkeinformer},
      {"skein-uniform", SkeinVariant::kUniform},
      {"skein-nonorm", SkeinVariant::kNoNorm},
      {"skein-simplenorm", SkeinVariant::kSimpleNorm},
      {"skein-nopilot", SkeinVariant::kNoPilot}};
  size_t checked = 0;
  double worst = 0.0;
  for (const auto& c : doc.at("cases")) {
    const auto m = c.at("m").get<int64_t>();
    const auto p = c.at("p").get<int>();
    CAPTURE(c.at("variant").get<std::string>());
    CAPTURE(m);
    Problem problem({m}, 1, p, 0);
    problem.q = c.at("q").get<std::vector<float>>();
    problem.k = c.at("k").get<std::vector<float>>();
    problem.v = c.at("v").get<std::vector<float>>();
    const SkeinformerAttention method(variants.at(c.at("variant").get<std::string>()),
                                      c.at("features").get<int64_t>());
    SkeinIndices idx;
    idx.pilot = c.at("pilot").get<std::vector<int64_t>>();
    idx.columns = c.at("columns").get<std::vector<int64_t>>();
    method.run_head_with_indices(problem.view(), 0, 0, idx);
    const auto ref = c.at("out").get<std::vector<double>>();
    const double error = head_error(problem, 0, 0, ref);
    worst = std::max(worst, error);
    CHECK(error < 1e-5);
    ++checked;
  }
  MESSAGE(checked << " cases from " << path << ", worst relative error " << worst);
  CHECK(checked > 0);
}

}  // namespace
}  // namespace skein

namespace skein {
namespace {

TEST_CASE("skein-nonorm: column weights right in every key chunk of the pilot passes") {
  // m = 6000 splits the pilot passes into 4 chunks of 1536 keys. skein-nonorm's
  // output depends on every selected column's weight, so it checks each chunk.
  Problem problem({6000}, 1, 8, 21);
  std::mt19937 rng(3);
  std::uniform_int_distribution<int64_t> row(0, 5999);
  SkeinIndices idx;
  for (int r = 0; r < 2000; ++r) idx.pilot.push_back(row(rng));
  std::vector<int64_t> all(6000);
  std::iota(all.begin(), all.end(), 0);
  std::shuffle(all.begin(), all.end(), rng);
  idx.columns.assign(all.begin(), all.begin() + 300);
  idx.columns.push_back(5999);  // a column of the last (recomputed) block
  std::sort(idx.columns.begin(), idx.columns.end());
  idx.columns.erase(std::unique(idx.columns.begin(), idx.columns.end()), idx.columns.end());
  const SkeinformerAttention method(SkeinVariant::kNoNorm, 2000);
  method.run_head_with_indices(problem.view(), 0, 0, idx);
  const auto ref = reference(extract(problem, 0, 0), SkeinVariant::kNoNorm, idx);
  CHECK(head_error(problem, 0, 0, ref) < 1e-5);
}

}  // namespace
}  // namespace skein

TEST_CASE("skeinformer counts 8·m·d·p FLOPs per sequence and head, d = min(features, m - 1)") {
  auto method = skein::make_attention({{"method", "skeinformer"}, {"features", 256}});
  const int64_t offsets[] = {0, 1, 11, 1001};
  double expected = 2 * (0.0 + 8.0 * 10 * 9 * 32 + 8.0 * 990 * 256 * 32);
  CHECK(method->flops(offsets, 2, 32) == doctest::Approx(expected));
}
