#include "attention/vmean.h"

#include <string>
#include <vector>

#include <skein/error.h>

namespace skein {

size_t VMeanAttention::workspace_bytes(const AttentionShape& shape, int threads) const {
  if (shape.num_heads < 1 || shape.head_dim < 1 || threads < 1) {
    throw Error("vmean attention: num_heads, head_dim and threads must be >= 1");
  }
  return 0;
}

void VMeanAttention::run(const AttentionProblem& problem, std::span<std::byte>) const {
  const AttentionShape& shape = problem.shape;
  if (shape.num_heads < 1 || shape.head_dim < 1) {
    throw Error("vmean attention: num_heads and head_dim must be >= 1");
  }
  if (problem.seq_offsets.size() != static_cast<size_t>(shape.num_seqs + 1)) {
    throw Error("vmean attention: seq_offsets must have num_seqs + 1 entries");
  }
  const size_t width = static_cast<size_t>(shape.num_heads) * static_cast<size_t>(shape.head_dim);
  const auto num_seqs = static_cast<int64_t>(shape.num_seqs);
  // One sequence per iteration; its column sums are accumulated in double, in
  // row order, so results do not depend on the thread count.
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t s = 0; s < num_seqs; ++s) {
    const auto begin = static_cast<size_t>(problem.seq_offsets[static_cast<size_t>(s)]);
    const auto end = static_cast<size_t>(problem.seq_offsets[static_cast<size_t>(s) + 1]);
    if (end == begin) continue;
    std::vector<double> sum(width, 0.0);
    for (size_t i = begin; i < end; ++i) {
      for (size_t c = 0; c < width; ++c) sum[c] += problem.v[i * width + c];
    }
    const double inverse = 1.0 / static_cast<double>(end - begin);
    for (size_t i = begin; i < end; ++i) {
      for (size_t c = 0; c < width; ++c)
        problem.out[i * width + c] = static_cast<float>(sum[c] * inverse);
    }
  }
}

}  // namespace skein
