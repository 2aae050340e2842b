// Nyströmformer attention (Xiong et al., AAAI 2021). Per (sequence, head) with
// m real tokens, c = min(features, m) landmarks, scale s = 1/√p:
//   Q̃, K̃   segment means of Q and K: landmark l averages the rows
//          [⌊l·m/c⌋, ⌊(l+1)·m/c⌋) (the paper's reshape-and-mean when c divides m)
//   F = softmax(s·Q·K̃ᵀ) (m × c), A = softmax(s·Q̃·K̃ᵀ) (c × c), B = softmax(s·Q̃·Kᵀ) (c × m)
//   out = F · Z · (B · V), Z = the Moore–Penrose pseudo-inverse of A by six
//   steps of the iteration of the paper's code:
//     Z₀ = Aᵀ / max_j Σ_i A_ij,  Z ← ¼·Z·(13I − AZ(15I − AZ(7I − AZ)))
// Only real tokens enter the landmarks, so padding never changes the result.
// F and B are never materialised: F·W and B·V are dense softmax attention
// against the c landmarks (attention/dense_block.h). Memory per thread
// O(c² + c·p), independent of m; deterministic (no randomness).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "attention/attention.h"

namespace skein {

class NystromAttention : public AttentionMethod {
 public:
  static constexpr int64_t kDefaultFeatures = 256;
  static constexpr int kPinvIterations = 6;

  explicit NystromAttention(int64_t features);

  std::string name() const override { return "nystrom"; }
  size_t workspace_bytes(const AttentionShape& shape, int threads) const override;
  void run(const AttentionProblem& problem, std::span<std::byte> workspace) const override;
  /// Per sequence and head: 8·m·c·p (F·W and B·V with their scores) +
  /// 2·c²·p (A) + 6·4·2·c³ (the pseudo-inverse) + 2·c²·p (Z·(B·V)).
  double flops(std::span<const int64_t> seq_offsets, int num_heads, int head_dim) const override;

  int64_t features() const { return features_; }

 private:
  int64_t features_;
};

}  // namespace skein
