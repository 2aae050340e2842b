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

struct Scratch {
  float* sparsity;  // [max_len] M_i
  int64_t* order;   // [max_len] query indices, the active ones first
  int64_t* picks;   // [2][max_len] sampled positions of the current and the next query
  double* sum_v;    // [p]
  attn::BlockScratch block;
};

size_t scratch_bytes(size_t max_len, size_t p) {
  return aligned_size(std::max<size_t>(max_len, 1) * sizeof(float)) +
         3 * aligned_size(std::max<size_t>(max_len, 1) * sizeof(int64_t)) +
         aligned_size(p * sizeof(double)) + attn::block_scratch_bytes(p);
}

Scratch carve(std::byte* base, size_t max_len, size_t p) {
  attn::Carver c(base);
  Scratch s;
  s.sparsity = c.floats(std::max<size_t>(max_len, 1));
  s.order = c.ints(std::max<size_t>(max_len, 1));
  s.picks = c.ints(2 * std::max<size_t>(max_len, 1));
  s.sum_v = c.doubles(p);
  s.block = attn::carve_block_scratch(c.base(), p);
  return s;
}

uint64_t position(uint32_t word, uint64_t length) {
  return (uint64_t{word} * length) >> 32;
}

// Sparsity of every query from `sample(i, t)` positions in [0, L). The
// sampled keys are random rows of K: the next query's positions are drawn and
// their rows prefetched while the current query's scores are computed.
// Rows of K into L2 (a query's ~250 sampled rows would overflow L1).
void prefetch_row(const attn::HeadView& h, size_t j) {
  const float* row = h.k + j * h.ld;
  for (size_t c = 0; c < h.p; c += 16) __builtin_prefetch(row + c, 0, 1);
}

template <class Sample>
void sparsity(const attn::HeadView& h, size_t samples, float scale, Sample sample,
              const Scratch& s) {
  int64_t* current = s.picks;
  int64_t* next = s.picks + samples;
  const auto draw = [&](size_t i, int64_t* to) {
    for (size_t t = 0; t < samples; ++t) {
      to[t] = sample(i, t);
      if (static_cast<size_t>(to[t]) < h.m) prefetch_row(h, static_cast<size_t>(to[t]));
    }
  };
  draw(0, current);
  for (size_t i = 0; i < h.m; ++i) {
    if (i + 1 < h.m) draw(i + 1, next);
    const float* q = h.q + i * h.ld;
    float max = -std::numeric_limits<float>::infinity();
    float sum = 0.0f;
    for (size_t t = 0; t < samples; ++t) {
      const auto j = static_cast<size_t>(current[t]);
      const float score = j < h.m ? simd::dot(q, h.k + j * h.ld, h.p) * scale : 0.0f;
      max = std::max(max, score);
      sum += score;
    }
    s.sparsity[i] = max - sum / static_cast<float>(samples);
    std::swap(current, next);
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
      scratch_bytes(static_cast<size_t>(shape.max_len), static_cast<size_t>(shape.head_dim)),
      name());
}

void InformerAttention::run(const AttentionProblem& problem, std::span<std::byte> workspace) const {
  attn::check_problem(problem, name());
  const auto max_len = static_cast<size_t>(problem.shape.max_len);
  const auto p = static_cast<size_t>(problem.shape.head_dim);
  attn::for_each_head(problem, workspace, scratch_bytes(max_len, p), name(),
                      [&](int64_t seq, int head, std::byte* base) {
                        const attn::HeadView h = attn::head_of(problem, seq, head);
                        if (h.m == 0) return;
                        process_drawn(problem, seq, head, counts(h.m, max_len),
                                      carve(base, max_len, p));
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
  std::vector<std::byte> bytes(scratch_bytes(max_len, p) + kWorkspaceAlignment);
  const auto at = reinterpret_cast<uintptr_t>(bytes.data());
  const Scratch s =
      carve(bytes.data() + (kWorkspaceAlignment - at % kWorkspaceAlignment) % kWorkspaceAlignment,
            max_len, p);
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
