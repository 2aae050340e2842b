// BigBird block-sparse attention (Zaheer et al., NeurIPS 2020), the ITC form.
// Per (sequence, head) with m real tokens cut into nb = ⌈m/b⌉ blocks of b
// tokens (the last one may be shorter):
//   - query blocks 0 and nb − 1 are global: exact softmax over all m keys;
//   - every other query block i attends to the key blocks {0, nb − 1}
//     (global), {i − 1, i, i + 1} (sliding window) and r random blocks drawn
//     without replacement from the remaining ones (all of them when fewer
//     than r remain), softmax over the union of those keys.
// Random block t of query block i: rejection draws below(i·4096 + k, nb),
// k = 0, 1, ..., from the Philox stream (seed, layer, sequence, head), first
// r distinct acceptable blocks kept. Defaults b = 64, r = 3. Memory per
// thread O((5 + r)·b·p); one task per (sequence, head).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "attention/attention.h"

namespace skein {

class BigBirdAttention : public AttentionMethod {
 public:
  static constexpr int64_t kDefaultBlock = 64;
  static constexpr int64_t kDefaultRandomBlocks = 3;

  BigBirdAttention(int64_t block, int64_t random_blocks);

  std::string name() const override { return "bigbird"; }
  size_t workspace_bytes(const AttentionShape& shape, int threads) const override;
  void run(const AttentionProblem& problem, std::span<std::byte> workspace) const override;
  /// 4·p·(keys attended) per query row, summed.
  double flops(std::span<const int64_t> seq_offsets, int num_heads, int head_dim) const override;

  int64_t block() const { return block_; }
  int64_t random_blocks() const { return random_blocks_; }

  /// The random key blocks of every query block of (seq, head), ascending
  /// (empty for the global query blocks). For tests.
  std::vector<std::vector<int64_t>> draw_blocks(const AttentionProblem& problem, int64_t seq,
                                                int head) const;

  /// Computes the rows of (seq, head) with the given random blocks (one list
  /// per query block, each entry a block index outside that query block's
  /// global and window blocks, at most random_blocks() of them) instead of
  /// drawn ones. Allocates; for tests.
  void run_head_with_blocks(const AttentionProblem& problem, int64_t seq, int head,
                            const std::vector<std::vector<int64_t>>& random) const;

 private:
  int64_t block_;
  int64_t random_blocks_;
};

}  // namespace skein
