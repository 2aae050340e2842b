// Skeinformer attention (Chen et al., NAACL 2022) and its ablations, as
// DESIGN.md "Skeinformer, in our words" states them:
//   skeinformer       pilot sampling, importance column sampling without
//                     replacement, adaptive row normalization, pilot reutilization
//   skein-uniform     uniform column sampling without replacement; no pilot at all
//   skein-nonorm      exact row sums D (quadratic, for study) instead of adaptive
//                     row normalization: R_i = Σ_{j∈J'} e^{t_ij} v_j / (d'·π_j) / D_i
//                     with π_j = w_j / Σ_k w_k the sampling probability of column j
//   skein-simplenorm  softmax over the sampled columns only
//   skein-nopilot     skeinformer without pilot reutilization
//
// Per (sequence, head) with m real tokens: d = min(features, m - 1); m <= 1
// gives the exact result. Pilot rows J: d uniform draws with replacement from
// the stream (seed, layer, sequence, PhiloxStream::kSequenceTag), shared by
// the sequence's heads. Columns J': the d largest Gumbel keys
// log(u_i) / w_i (u_i = uniform_double(i) of the stream (seed, layer,
// sequence, head)) among the keys with w_i > 0, which is successive sampling
// without replacement with probability ∝ w.
//
// Work is split below the (sequence, head) level so that one long sequence
// keeps every thread busy: the pilot passes run over fixed chunks of keys, the
// sketched rows over blocks of 256 queries. Phases, per wave of heads:
//   1  pilot scores over each chunk -> the chunk's row max and row sum
//   -  chunks merged in order -> the pilot rows' max and sum
//   2  pilot scores again -> B_J exactly, its part of B_J·V, the column
//      weights, ΣV and the chunk's best column candidates
//   3  chunks merged in order -> exact pilot rows, the column draw, packing
//   4  sketched rows, one query block per item; the block's pilot rows
//      replaced by their exact values
// The pilot block B_J is streamed twice (scores recomputed in phase 2) rather
// than stored: no buffer of d × n floats, and the workspace is O(d·p) per
// thread plus O(d·p) per chunk of a head at any n. Chunk boundaries depend
// on n only and merges follow chunk order, so the output is bit-identical for
// any thread count.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "attention/attention.h"
#include "core/rng.h"

namespace skein {

enum class SkeinVariant { kSkeinformer, kUniform, kNoNorm, kSimpleNorm, kNoPilot };

/// The index sets of one (sequence, head), as indices within the sequence.
struct SkeinIndices {
  std::vector<int64_t> pilot;    // with repetition, draw order
  std::vector<int64_t> columns;  // distinct, ascending
};

class SkeinformerAttention : public AttentionMethod {
 public:
  static constexpr int64_t kDefaultFeatures = 256;

  SkeinformerAttention(SkeinVariant variant, int64_t features);

  std::string name() const override;
  size_t workspace_bytes(const AttentionShape& shape, int threads) const override;
  void run(const AttentionProblem& problem, std::span<std::byte> workspace) const override;
  /// 8·m·d·p per sequence and head (the four m × d × p products), d = min(features, m − 1);
  /// the pilot's extra pass and the quadratic skein-nonorm row sums are not counted.
  double flops(std::span<const int64_t> seq_offsets, int num_heads, int head_dim) const override;

  SkeinVariant variant() const { return variant_; }
  int64_t features() const { return features_; }

  /// The pilot rows and columns run() uses for (seq, head). Allocates; for tests.
  SkeinIndices draw_indices(const AttentionProblem& problem, int64_t seq, int head) const;

  /// Computes the rows of (seq, head) in problem.out with the given indices
  /// instead of drawn ones (pilot may be empty for variants without a pilot
  /// only; columns distinct, in [0, m)). Allocates; for tests.
  void run_head_with_indices(const AttentionProblem& problem, int64_t seq, int head,
                             const SkeinIndices& indices) const;

 private:
  SkeinVariant variant_;
  int64_t features_;
};

/// The method's name ("skeinformer", "skein-uniform", ...).
std::string skein_variant_name(SkeinVariant variant);

/// Floating-point operations counted for throughput: 8·n·d·p per sequence and head.
double skeinformer_flops(std::span<const int64_t> seq_offsets, int num_heads, int head_dim,
                         int64_t features);

/// The column sampler alone: the indices of the `count` largest keys
/// log(u_i)/w_i over i with weights[i] > 0, u_i = stream.uniform_double(i),
/// ascending. Fewer than `count` if fewer weights are positive.
std::vector<int64_t> sample_columns(std::span<const double> weights, size_t count,
                                    const PhiloxStream& stream);

}  // namespace skein
