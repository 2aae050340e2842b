// Exact softmax attention: out = softmax(q·kᵀ/√p)·v per sequence and head,
// computed flash-attention style so no n×n matrix ever exists.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "attention/attention.h"

namespace skein {

class ExactAttention : public AttentionMethod {
 public:
  std::string name() const override { return "exact"; }
  size_t workspace_bytes(const AttentionShape& shape, int threads) const override;
  void run(const AttentionProblem& problem, std::span<std::byte> workspace) const override;
  double flops(std::span<const int64_t> seq_offsets, int num_heads, int head_dim) const override;
};

/// Floating-point operations of exact attention, for throughput reports:
/// 4·n²·p per sequence of length n and head (2·n²·p for q·kᵀ, 2·n²·p for the
/// product with v); softmax and scaling are not counted.
double exact_attention_flops(std::span<const int64_t> seq_offsets, int num_heads, int head_dim);

/// The plain formula, for tests: each full score row in double, softmax,
/// product with v. Writes problem.out; allocates; slow.
void exact_attention_ref(const AttentionProblem& problem);

}  // namespace skein
