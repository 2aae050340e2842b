// Linformer attention (Wang et al., 2020). Per (sequence, head) with m real
// tokens and a sequence projection E_h (k × L, L >= m, the head's slice of
// E [heads, k, L]):
//   K' = E_h[:, :m]·K,  V' = E_h[:, :m]·V   (k × p; the first m columns: padding
//                                            positions never enter)
//   out = softmax(Q·K'ᵀ/√p)·V'
// E is the model's learned weight (AttentionProblem::projection, loaded from
// `model.transformer_{i}.mha.attn.E`), or, when the model has none, a Gaussian
// Johnson–Lindenstrauss projection with std 1/√k drawn per (layer, head) from
// the Philox stream (seed, layer, sequence tag, head): entry (r, j) is
// Box–Muller Gaussian j·k + r (pairs from words 2t, 2t + 1 of pair t), so it
// does not depend on the padded length. A drawn E is a random
// approximation, not a trained Linformer. k = the model's E rows, else the
// method's "features" (default 256). Memory per thread O(k·p + k·192); one
// task per (sequence, head).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "attention/attention.h"

namespace skein {

class LinformerAttention : public AttentionMethod {
 public:
  static constexpr int64_t kDefaultFeatures = 256;

  explicit LinformerAttention(int64_t features);

  std::string name() const override { return "linformer"; }
  size_t workspace_bytes(const AttentionShape& shape, int threads) const override;
  void run(const AttentionProblem& problem, std::span<std::byte> workspace) const override;
  /// 8·m·k·p per sequence and head (the two projections and the k-key attention).
  double flops(std::span<const int64_t> seq_offsets, int num_heads, int head_dim) const override;

  int64_t features() const { return features_; }

  /// The drawn projection's first `columns` columns of head `head`, [k][columns]. For tests.
  std::vector<float> draw_projection(const AttentionProblem& problem, int head,
                                     size_t columns) const;

 private:
  int64_t features_;
};

}  // namespace skein
