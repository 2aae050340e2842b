// Performer attention with FAVOR+ positive random features (Choromanski et
// al., ICLR 2021). Per (sequence, head) with m real tokens, r = features
// random directions w_1..w_r (rows of W, [r][p]) and x' = x·p^(-1/4):
//   φ(x)_f = e^(w_f·x' − ‖x'‖²/2 − c_x)
//   out_i  = Σ_j (φ(q_i)·φ(k_j)) v_j / Σ_j φ(q_i)·φ(k_j)
// which estimates softmax(QKᵀ/√p)·V without bias (e^(q'·k') = E[φ·φ]). The
// stabilisers c_x cancel in the ratio: c_q is the query's own maximum over
// features, c_k the running maximum over every key and feature (keys are
// streamed once; the accumulators are rescaled when the maximum grows). The
// 1/√r normaliser of the paper cancels too and is left out.
//
// W: ⌈r/p⌉ blocks of p orthonormal rows (modified Gram–Schmidt of a Gaussian
// p × p block, in double), each row scaled by the norm of an independent
// Gaussian p-vector (the public code's scaling = 0), drawn from the Philox
// stream (seed, layer, sequence, head): Gaussian t = Box–Muller of
// uniform_double(2t) and uniform_double(2t + 1), the blocks' entries first,
// then the r·p entries of the norm vectors.
//
// Option "paper_code_scaling" (off by default): x' = x·p^(-1/2), i.e. the
// p^(-1/4) applied twice as by the public PyTorch Performer used in the
// paper's code, which approximates softmax(QKᵀ/p)·V instead; only for models
// trained that way.
//
// Memory per thread O(r·p); one task per (sequence, head), so results do not
// depend on the thread count.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "attention/attention.h"

namespace skein {

class PerformerAttention : public AttentionMethod {
 public:
  static constexpr int64_t kDefaultFeatures = 256;

  PerformerAttention(int64_t features, bool paper_code_scaling);

  std::string name() const override { return "performer"; }
  size_t workspace_bytes(const AttentionShape& shape, int threads) const override;
  void run(const AttentionProblem& problem, std::span<std::byte> workspace) const override;
  /// 8·m·r·p per sequence and head (features of Q and K, φ(K)ᵀV, φ(Q)·(φ(K)ᵀV)).
  double flops(std::span<const int64_t> seq_offsets, int num_heads, int head_dim) const override;

  int64_t features() const { return features_; }
  bool paper_code_scaling() const { return paper_code_scaling_; }

  /// The random directions W ([features][head_dim], row-major) of (seq, head).
  std::vector<float> draw_features(const AttentionProblem& problem, int64_t seq, int head) const;

  /// Computes the rows of (seq, head) in problem.out with the given W
  /// ([r][head_dim], any r >= 1) instead of drawn ones. Allocates; for tests.
  void run_head_with_features(const AttentionProblem& problem, int64_t seq, int head,
                              const std::vector<float>& w) const;

 private:
  int64_t features_;
  bool paper_code_scaling_;
};

}  // namespace skein
