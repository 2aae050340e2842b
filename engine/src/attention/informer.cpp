#include "attention/informer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <skein/error.h>

#include "attention/dense_block.h"
#include "core/rng.h"
#include "simd/reduce.h"

namespace skein {
namespace {

// Step 1's sampled scores are computed per block of queries, the block's
// (query, key) pairs sorted by key into buckets of kBucketKeys consecutive
// keys: a bucket's rows of K are copied together (a sequential read) and
// both they and the block's queries stay in L2, instead of one random row of
// K per sample (a cache and TLB miss each once K outgrows the caches). Pairs
// per block: at most kPairBudget.
constexpr size_t kBucketKeys = 512;
constexpr size_t kPairBudget = size_t{1} << 20;
constexpr size_t kMaxQueryBlock = 4096;

// Queries per block for U samples each, and the buckets of L positions: one
// per kBucketKeys real keys plus one for padding keys (informer, L > m).
size_t query_block(size_t samples) {
  return std::clamp<size_t>(kPairBudget / std::max<size_t>(samples, 1), 1, kMaxQueryBlock);
}
size_t bucket_count(size_t m) {
  return (m + kBucketKeys - 1) / kBucketKeys + 1;
}

struct Scratch {
  float* sparsity;        // [max_len] M_i
  int64_t* order;         // [max_len] query indices, the active ones first
  uint32_t* drawn;        // [block · U] the block's sampled positions, draw order
  uint32_t* sorted;       // [block · U] the pairs in bucket order, as
                          // row · kBucketKeys + the key's offset in its bucket
  uint32_t* bucket_next;  // [buckets + 1] bucket starts, then insertion points
  float* q_block;         // [block][p] the block's queries
  float* k_bucket;        // [kBucketKeys][p] a bucket's keys
  float* row_max;         // [block]
  float* row_sum;         // [block]
  double* sum_v;          // [p]
  attn::BlockScratch block;
};

// Scratch sizes for sequences of up to max_len tokens and at most `samples`
// samples per query (a block of r queries with U samples holds r·U pairs).
struct ScratchSize {
  size_t max_len, p, samples;
  size_t length() const { return std::max<size_t>(max_len, 1); }
  size_t rows() const { return std::min(length(), kMaxQueryBlock); }
  size_t pairs() const { return std::min(rows() * samples, std::max(kPairBudget, samples)); }
};

// An upper bound of U = min(L, c·ℓ) over L <= max_len: c·ℓ <= max(features, ℓ).
ScratchSize scratch_size(size_t max_len, size_t p, int64_t features) {
  const size_t length = std::max<size_t>(max_len, 1);
  const auto log_length = static_cast<size_t>(std::ceil(std::log(static_cast<double>(length))));
  const size_t bound = std::max({static_cast<size_t>(features), log_length, size_t{1}});
  return ScratchSize{max_len, p, std::min(length, bound)};
}

Scratch carve(attn::Carver& c, const ScratchSize& z) {
  Scratch s;
  s.sparsity = c.floats(z.length());
  s.order = c.ints(z.length());
  s.drawn = c.take<uint32_t>(z.pairs());
  s.sorted = c.take<uint32_t>(z.pairs());
  s.bucket_next = c.take<uint32_t>(bucket_count(z.length()) + 1);
  s.q_block = c.floats(z.rows() * z.p);
  s.k_bucket = c.floats(kBucketKeys * z.p);
  s.row_max = c.floats(z.rows());
  s.row_sum = c.floats(z.rows());
  s.sum_v = c.doubles(z.p);
  s.block = attn::carve_block_scratch(c, z.p);
  return s;
}

size_t scratch_bytes(const ScratchSize& z) {
  return attn::carved_bytes([&](attn::Carver& c) { carve(c, z); });
}

uint64_t position(uint32_t word, uint64_t length) {
  return (uint64_t{word} * length) >> 32;
}

// Sparsity of every query from `sample(i, t)` positions in [0, L). A stable
// counting sort orders the pairs, so each query's scores are summed in the
// same order on every run and thread count.
template <class Sample>
void sparsity(const attn::HeadView& h, size_t samples, float scale, Sample sample,
              const Scratch& s) {
  const size_t block = query_block(samples);
  const size_t buckets = bucket_count(h.m);
  const size_t padding_bucket = buckets - 1;
  const auto bucket_of = [&](uint32_t j) { return j < h.m ? j / kBucketKeys : padding_bucket; };
  for (size_t q0 = 0; q0 < h.m; q0 += block) {
    const size_t rows = std::min(block, h.m - q0);
    const size_t pairs = rows * samples;
    attn::copy_rows(h.q + q0 * h.ld, h.ld, rows, h.p, s.q_block);
    std::fill_n(s.bucket_next, buckets + 1, 0u);
    for (size_t i = 0, e = 0; i < rows; ++i) {
      for (size_t t = 0; t < samples; ++t, ++e) {
        s.drawn[e] = static_cast<uint32_t>(sample(q0 + i, t));
        ++s.bucket_next[bucket_of(s.drawn[e]) + 1];
      }
    }
    for (size_t b = 0; b < buckets; ++b) s.bucket_next[b + 1] += s.bucket_next[b];
    for (size_t i = 0, e = 0; i < rows; ++i) {
      for (size_t t = 0; t < samples; ++t, ++e) {
        const uint32_t j = s.drawn[e];
        s.sorted[s.bucket_next[bucket_of(j)]++] =
            static_cast<uint32_t>(i * kBucketKeys + (j < h.m ? j % kBucketKeys : 0));
      }
    }
    // After the scatter, bucket_next[b] is where bucket b ends; the padding
    // bucket (score 0) is last.
    std::fill_n(s.row_max, rows, -std::numeric_limits<float>::infinity());
    std::fill_n(s.row_sum, rows, 0.0f);
    for (size_t b = 0; b < padding_bucket; ++b) {
      const size_t key0 = b * kBucketKeys;
      attn::copy_rows(h.k + key0 * h.ld, h.ld, std::min(kBucketKeys, h.m - key0), h.p, s.k_bucket);
      for (size_t e = b == 0 ? 0 : s.bucket_next[b - 1]; e < s.bucket_next[b]; ++e) {
        const size_t i = s.sorted[e] / kBucketKeys;
        const float score =
            simd::dot(s.q_block + i * h.p, s.k_bucket + s.sorted[e] % kBucketKeys * h.p, h.p) *
            scale;
        s.row_max[i] = std::max(s.row_max[i], score);
        s.row_sum[i] += score;
      }
    }
    const size_t real_pairs = s.bucket_next[padding_bucket - 1];  // m >= 1: padding_bucket >= 1
    for (size_t e = real_pairs; e < pairs; ++e) {
      const size_t i = s.sorted[e] / kBucketKeys;
      s.row_max[i] = std::max(s.row_max[i], 0.0f);
    }
    for (size_t i = 0; i < rows; ++i) {
      s.sparsity[q0 + i] = s.row_max[i] - s.row_sum[i] / static_cast<float>(samples);
    }
  }
}

// Steps 2 and 3 once the sparsity is known.
void finish(const attn::HeadView& h, const InformerAttention::Counts& n, const Scratch& s) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(h.p));
  for (size_t i = 0; i < h.m; ++i) s.order[i] = static_cast<int64_t>(i);
  const float* m_of = s.sparsity;
  const auto before = [m_of](int64_t a, int64_t b) {
    return m_of[a] > m_of[b] || (m_of[a] == m_of[b] && a < b);
  };
  std::nth_element(s.order, s.order + (n.active - 1), s.order + h.m, before);
  std::sort(s.order, s.order + n.active);
  std::sort(s.order + n.active, s.order + h.m);
  // The mean of V (over L positions, the padding ones being zero).
  std::fill_n(s.sum_v, h.p, 0.0);
  for (size_t j = 0; j < h.m; ++j) {
    for (size_t c = 0; c < h.p; ++c) s.sum_v[c] += h.v[j * h.ld + c];
  }
  const double inverse = 1.0 / static_cast<double>(n.length);
  for (size_t r = n.active; r < h.m; ++r) {
    float* out = h.out + static_cast<size_t>(s.order[r]) * h.ld;
    for (size_t c = 0; c < h.p; ++c) out[c] = static_cast<float>(s.sum_v[c] * inverse);
  }
  attn::softmax_attend({h.q, h.ld, h.m}, s.order, n.active, {h.k, h.ld, h.m}, {h.v, h.ld, h.m}, h.p,
                       scale, n.length - h.m, s.block, h.out, h.ld);
}

void process_drawn(const AttentionProblem& problem, int64_t seq, int head,
                   const InformerAttention::Counts& n, const Scratch& s) {
  const attn::HeadView h = attn::head_of(problem, seq, head);
  attn::PhiloxWords words(problem.seed, problem.layer, seq, static_cast<uint32_t>(head));
  const float scale = 1.0f / std::sqrt(static_cast<float>(h.p));
  sparsity(
      h, n.samples, scale,
      [&](size_t i, size_t t) {
        return static_cast<int64_t>(position(words.word(i * n.samples + t), n.length));
      },
      s);
  finish(h, n, s);
}

}  // namespace

InformerAttention::InformerAttention(int64_t features, bool mask)
    : features_(features), mask_(mask) {
  if (features < 1) {
    throw Error("attention method \"" + name() + "\": features must be a positive integer, got " +
                std::to_string(features));
  }
}

InformerAttention::Counts InformerAttention::counts(size_t m, size_t max_len) const {
  const size_t length = mask_ ? m : max_len;
  const auto log_length =
      std::max<size_t>(1, static_cast<size_t>(std::ceil(std::log(static_cast<double>(length)))));
  const size_t factor = std::max<size_t>(1, static_cast<size_t>(features_) / log_length);
  return Counts{std::min(length, factor * log_length), std::min(m, factor * log_length), length};
}

size_t InformerAttention::workspace_bytes(const AttentionShape& shape, int threads) const {
  attn::check_shape(shape, name());
  return attn::threads_times(
      shape, threads,
      scratch_bytes(scratch_size(static_cast<size_t>(shape.max_len),
                                 static_cast<size_t>(shape.head_dim), features_)),
      name());
}

void InformerAttention::run(const AttentionProblem& problem, std::span<std::byte> workspace) const {
  attn::check_problem(problem, name());
  const auto max_len = static_cast<size_t>(problem.shape.max_len);
  const auto p = static_cast<size_t>(problem.shape.head_dim);
  const ScratchSize size = scratch_size(max_len, p, features_);
  attn::for_each_head(
      problem, workspace, scratch_bytes(size), name(), [&](int64_t seq, int head, std::byte* base) {
        const attn::HeadView h = attn::head_of(problem, seq, head);
        if (h.m == 0) return;
        attn::Carver carver(base);
        process_drawn(problem, seq, head, counts(h.m, max_len), carve(carver, size));
      });
}

std::vector<int64_t> InformerAttention::draw_samples(const AttentionProblem& problem, int64_t seq,
                                                     int head) const {
  attn::check_problem(problem, name());
  const attn::HeadView h = attn::head_of(problem, seq, head);
  const Counts n = counts(h.m, static_cast<size_t>(problem.shape.max_len));
  attn::PhiloxWords words(problem.seed, problem.layer, seq, static_cast<uint32_t>(head));
  std::vector<int64_t> samples(h.m * n.samples);
  for (size_t w = 0; w < samples.size(); ++w) {
    samples[w] = static_cast<int64_t>(position(words.word(w), n.length));
  }
  return samples;
}

void InformerAttention::run_head_with_samples(const AttentionProblem& problem, int64_t seq,
                                              int head, const std::vector<int64_t>& samples) const {
  attn::check_problem(problem, name());
  const attn::HeadView h = attn::head_of(problem, seq, head);
  const auto max_len = static_cast<size_t>(problem.shape.max_len);
  const Counts n = counts(h.m, max_len);
  if (samples.size() != h.m * n.samples) {
    throw Error(name() + " run_head_with_samples: need " + std::to_string(h.m * n.samples) +
                " samples, got " + std::to_string(samples.size()));
  }
  for (int64_t j : samples) {
    if (j < 0 || static_cast<size_t>(j) >= n.length) {
      throw Error(name() + " run_head_with_samples: sample " + std::to_string(j) + " outside [0, " +
                  std::to_string(n.length) + ")");
    }
  }
  if (h.m == 0) return;
  const size_t p = h.p;
  const ScratchSize size = scratch_size(max_len, p, features_);
  std::vector<std::byte> bytes(scratch_bytes(size) + kWorkspaceAlignment);
  const auto at = reinterpret_cast<uintptr_t>(bytes.data());
  attn::Carver carver(bytes.data() +
                      (kWorkspaceAlignment - at % kWorkspaceAlignment) % kWorkspaceAlignment);
  const Scratch s = carve(carver, size);
  const float scale = 1.0f / std::sqrt(static_cast<float>(p));
  sparsity(
      h, n.samples, scale, [&](size_t i, size_t t) { return samples[i * n.samples + t]; }, s);
  finish(h, n, s);
}

double InformerAttention::flops(std::span<const int64_t> seq_offsets, int num_heads,
                                int head_dim) const {
  double total = 0.0;
  size_t max_len = 0;
  for (size_t s = 0; s + 1 < seq_offsets.size(); ++s) {
    max_len = std::max(max_len, static_cast<size_t>(seq_offsets[s + 1] - seq_offsets[s]));
  }
  for (size_t s = 0; s + 1 < seq_offsets.size(); ++s) {
    const auto m = static_cast<size_t>(seq_offsets[s + 1] - seq_offsets[s]);
    if (m == 0) continue;
    const Counts n = counts(m, max_len);
    total += 2.0 * static_cast<double>(m * n.samples) * head_dim +
             4.0 * static_cast<double>(n.active * m) * head_dim;
  }
  return total * num_heads;
}

}  // namespace skein
