// Shared fixture of the attention tests (skeinformer and the baselines nystrom, performer,
// linformer, informer, bigbird): an aligned NaN-filled workspace, a packed
// Gaussian problem, a runner, one (sequence, head) in double, and the checks
// every method gets (thread determinism, packing, extreme logits).
#pragma once

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <random>
#include <span>
#include <vector>

#include <doctest/doctest.h>

#include "attention/attention.h"

namespace skein::testing {

// 64-byte aligned bytes, NaN-filled so reads before writes show up.
class AlignedWorkspace {
 public:
  explicit AlignedWorkspace(size_t bytes)
      : bytes_(std::max<size_t>(bytes, 64)),
        data_(static_cast<std::byte*>(::operator new (bytes_, std::align_val_t{64}))) {
    std::memset(data_, 0xFF, bytes_);
  }
  ~AlignedWorkspace() { ::operator delete (data_, std::align_val_t{64}); }
  AlignedWorkspace(const AlignedWorkspace&) = delete;
  AlignedWorkspace& operator=(const AlignedWorkspace&) = delete;
  std::span<std::byte> span() { return {data_, bytes_}; }

 private:
  size_t bytes_;
  std::byte* data_;
};

// Packed q, k, v (Gaussian, q times logit_scale) as attention.h lays them out.
struct PackedProblem {
  std::vector<int64_t> offsets{0};
  std::vector<float> q, k, v, out;
  AttentionShape shape;
  uint64_t seed = 1;
  int64_t layer = 0;

  PackedProblem(const std::vector<int64_t>& lengths, int heads, int head_dim, uint32_t data_seed,
                float logit_scale = 1.0f) {
    for (int64_t len : lengths) {
      offsets.push_back(offsets.back() + len);
      shape.max_len = std::max(shape.max_len, len);
    }
    shape.num_seqs = static_cast<int64_t>(lengths.size());
    shape.total_tokens = offsets.back();
    shape.num_heads = heads;
    shape.head_dim = head_dim;
    const size_t count = static_cast<size_t>(shape.total_tokens) * heads * head_dim;
    std::mt19937 rng(data_seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (auto* values : {&q, &k, &v}) {
      values->resize(count);
      for (float& x : *values) x = normal(rng);
    }
    for (float& x : q) x *= logit_scale;
    out.assign(count, std::numeric_limits<float>::quiet_NaN());
  }

  AttentionProblem view() {
    AttentionProblem p;
    p.q = q.data();
    p.k = k.data();
    p.v = v.data();
    p.out = out.data();
    p.seq_offsets = offsets;
    p.shape = shape;
    p.seed = seed;
    p.layer = layer;
    return p;
  }
  size_t width() const { return static_cast<size_t>(shape.num_heads * shape.head_dim); }
};

inline std::vector<float> run_method(const AttentionMethod& method, PackedProblem& problem,
                                     int threads = 2) {
  AlignedWorkspace ws(method.workspace_bytes(problem.shape, threads));
  std::fill(problem.out.begin(), problem.out.end(), std::numeric_limits<float>::quiet_NaN());
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  method.run(problem.view(), ws.span());
  omp_set_num_threads(saved);
  return problem.out;
}

// One (sequence, head) in double: rows [m][p].
struct DoubleHead {
  size_t m = 0, p = 0;
  std::vector<double> q, k, v;
  DoubleHead(const PackedProblem& problem, size_t seq, size_t head) {
    p = static_cast<size_t>(problem.shape.head_dim);
    const size_t begin = static_cast<size_t>(problem.offsets[seq]);
    m = static_cast<size_t>(problem.offsets[seq + 1]) - begin;
    const size_t ld = problem.width();
    for (size_t i = 0; i < m; ++i) {
      for (size_t c = 0; c < p; ++c) {
        const size_t at = (begin + i) * ld + head * p + c;
        q.push_back(problem.q[at]);
        k.push_back(problem.k[at]);
        v.push_back(problem.v[at]);
      }
    }
  }
  double scale() const { return 1.0 / std::sqrt(static_cast<double>(p)); }
};

// out rows [m][p] of (seq, head) from a packed output.
inline std::vector<double> head_rows(const PackedProblem& problem, const std::vector<float>& out,
                                     size_t seq, size_t head) {
  const size_t p = static_cast<size_t>(problem.shape.head_dim);
  const size_t begin = static_cast<size_t>(problem.offsets[seq]);
  const size_t m = static_cast<size_t>(problem.offsets[seq + 1]) - begin;
  std::vector<double> rows;
  for (size_t i = 0; i < m; ++i) {
    for (size_t c = 0; c < p; ++c)
      rows.push_back(out[(begin + i) * problem.width() + head * p + c]);
  }
  return rows;
}

// Softmax attention in double of queries (rows [r][p]) against keys/values ([n][p]).
inline std::vector<double> softmax_attention(const std::vector<double>& q,
                                             const std::vector<double>& k,
                                             const std::vector<double>& v, size_t p, double scale) {
  const size_t r = q.size() / p, n = k.size() / p;
  std::vector<double> out(r * p, 0.0), s(n);
  for (size_t i = 0; i < r; ++i) {
    double mx = -std::numeric_limits<double>::infinity();
    for (size_t j = 0; j < n; ++j) {
      double dot = 0.0;
      for (size_t c = 0; c < p; ++c) dot += q[i * p + c] * k[j * p + c];
      mx = std::max(mx, s[j] = dot * scale);
    }
    double total = 0.0;
    for (double& x : s) total += (x = std::exp(x - mx));
    for (size_t j = 0; j < n; ++j) {
      for (size_t c = 0; c < p; ++c) out[i * p + c] += s[j] / total * v[j * p + c];
    }
  }
  return out;
}

// max |got − want| <= tolerance · max |want|.
inline void check_close(const std::vector<double>& got, const std::vector<double>& want,
                        double tolerance = 1e-5) {
  REQUIRE(got.size() == want.size());
  double scale = 0.0, worst = 0.0;
  for (size_t i = 0; i < want.size(); ++i) {
    scale = std::max(scale, std::abs(want[i]));
    worst = std::max(worst, std::abs(got[i] - want[i]));
  }
  CHECK(worst <= tolerance * scale);
}

// Bit-identical results for 1 and 2 threads and across reruns.
inline void check_thread_determinism(const AttentionMethod& method) {
  PackedProblem problem({300, 77, 1, 129}, 3, 16, 11);
  problem.seed = 42;
  problem.layer = 3;
  const std::vector<float> one = run_method(method, problem, 1);
  const std::vector<float> two = run_method(method, problem, 2);
  const std::vector<float> again = run_method(method, problem, 2);
  CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(two.data(), again.data(), two.size() * sizeof(float)) == 0);
  for (float x : one) REQUIRE(std::isfinite(x));
}

// A packed batch equals each sequence run alone (padding never matters).
inline void check_packing(const AttentionMethod& method) {
  const std::vector<int64_t> lengths{200, 45, 1, 130};
  PackedProblem packed(lengths, 2, 8, 5);
  packed.seed = 9;
  const std::vector<float> all = run_method(method, packed);
  for (size_t s = 0; s < lengths.size(); ++s) {
    PackedProblem single({lengths[s]}, 2, 8, 0);
    const size_t begin = static_cast<size_t>(packed.offsets[s]) * packed.width();
    const size_t count = static_cast<size_t>(lengths[s]) * packed.width();
    std::copy_n(packed.q.begin() + static_cast<ptrdiff_t>(begin), count, single.q.begin());
    std::copy_n(packed.k.begin() + static_cast<ptrdiff_t>(begin), count, single.k.begin());
    std::copy_n(packed.v.begin() + static_cast<ptrdiff_t>(begin), count, single.v.begin());
    single.seed = 9;
    // Sequence s of the batch draws from stream (seed, layer, s, head): give
    // the single run the same stream by placing it at index s.
    std::vector<int64_t> offsets(s + 1, 0);
    offsets.push_back(lengths[s]);
    single.offsets = offsets;
    single.shape.num_seqs = static_cast<int64_t>(s + 1);
    single.shape.max_len = lengths[s];
    const std::vector<float> alone = run_method(method, single);
    CHECK(std::memcmp(alone.data(), all.data() + begin, count * sizeof(float)) == 0);
  }
}

// Logits of ±1e4 and more: every output finite.
inline void check_extreme_logits(const AttentionMethod& method) {
  for (float scale : {1e4f, -1e4f, 1e6f}) {
    PackedProblem problem({260, 33}, 2, 16, 3, scale);
    const std::vector<float> out = run_method(method, problem);
    for (float x : out) REQUIRE(std::isfinite(x));
  }
}

}  // namespace skein::testing
