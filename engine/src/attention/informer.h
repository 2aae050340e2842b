// Informer's ProbSparse self-attention (Zhou et al., AAAI 2021). Per
// (sequence, head) with m real tokens, length L, scale s = 1/√p and feature
// budget d:
//   ℓ = max(1, ⌈ln L⌉), c = max(1, ⌊d/ℓ⌋) (the paper's factor, chosen so that
//   c·ℓ ≈ d), U = min(L, c·ℓ) sampled keys per query, u = min(m, c·ℓ) active queries;
//   1. for every query i, U keys j_i1..j_iU drawn uniformly with replacement
//      from [0, L); sparsity M_i = max_t s·q_i·k_j − mean_t s·q_i·k_j;
//   2. the u queries with the largest M (ties to the smaller index) get their
//      exact softmax rows;
//   3. every other row is the mean of V.
// The samples are streamed: per block of up to 4,096 queries (at most 2^20
// samples), the block's sampled (query, key) pairs are sorted by key into
// buckets of 512 keys and each bucket's keys are read once, so K is read
// sequentially instead of one random row per sample. Nothing of size m × U × p,
// or m × U, ever exists.
//
// Two padding behaviours:
//   informer-mask  L = m: sampling, the exact rows and the V mean use the real
//                  tokens only; padding never changes the result.
//   informer       L = max_len of the batch (the padded length, as the
//                  original code sees it), padding positions acting as
//                  all-zero tokens: a sampled padding key scores 0, the exact
//                  rows' softmax includes L − m keys of score 0 and value 0,
//                  and the other rows are ΣV / L. Padding queries are not
//                  computed (they have no output). Equal to informer-mask
//                  when m = max_len.
// Draw t of query i is word i·U + t of the Philox stream (seed, layer,
// sequence, head) mapped to ⌊word·L / 2³²⌋. One task per (sequence, head);
// memory per thread O(max_len + p) plus 8 bytes per sample of a block (8 MiB).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "attention/attention.h"

namespace skein {

class InformerAttention : public AttentionMethod {
 public:
  static constexpr int64_t kDefaultFeatures = 256;

  InformerAttention(int64_t features, bool mask);

  std::string name() const override { return mask_ ? "informer-mask" : "informer"; }
  size_t workspace_bytes(const AttentionShape& shape, int threads) const override;
  void run(const AttentionProblem& problem, std::span<std::byte> workspace) const override;
  /// Per sequence and head: 2·m·U·p (sampled scores) + 4·u·L·p (exact rows).
  double flops(std::span<const int64_t> seq_offsets, int num_heads, int head_dim) const override;

  int64_t features() const { return features_; }
  bool mask() const { return mask_; }

  /// The sample count U and active-query count u for a sequence of m tokens
  /// in a batch of padded length max_len.
  struct Counts {
    size_t samples;
    size_t active;
    size_t length;  // L
  };
  Counts counts(size_t m, size_t max_len) const;

  /// The sampled key positions of (seq, head): [m][U], row i for query i. For tests.
  std::vector<int64_t> draw_samples(const AttentionProblem& problem, int64_t seq, int head) const;

  /// Computes the rows of (seq, head) with the given samples ([m][U] positions
  /// in [0, L)) instead of drawn ones. Allocates; for tests.
  void run_head_with_samples(const AttentionProblem& problem, int64_t seq, int head,
                             const std::vector<int64_t>& samples) const;

 private:
  int64_t features_;
  bool mask_;
};

}  // namespace skein
