// skein::attention(): one attention method on q, k, v tensors, without a
// model — the kernel-level entry point for checks and experiments (what
// `skein attention` and the Python skein.attention() call).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "skein/export.h"

namespace skein {

/// Sizes of the padded tensors q, k, v and out: dense, row-major
/// [batch, heads, n, head_dim] f32.
struct AttentionDims {
  int64_t batch = 0;
  int64_t heads = 0;
  int64_t n = 0;
  int64_t head_dim = 0;
};

struct AttentionOptions {
  std::string method;  // "exact", "skeinformer", ... as in model.json's "attention"
  int64_t features =
      0;              // feature count (sketch size) of sampling methods; 0 = the method's default
  uint64_t seed = 0;  // seed of randomized methods
  int threads = 0;    // OpenMP threads; 0 = all cores
};

/// Computes `out` = attention(q, k, v) per batch row and head with the method
/// `options.method`. Row b holds lengths[b] real tokens followed by padding;
/// attention only sees real tokens and out's padding rows are zero. Empty
/// `lengths` means every row is n real tokens. Results are those of the
/// engine's attention node (same packing, seeds per (seed, layer 0, row, head)).
/// Throws skein::Error for an unknown method, a bad parameter, sizes < 1 or a
/// length outside [1, n].
SKEIN_API void attention(const float* q, const float* k, const float* v, float* out,
                         const AttentionDims& dims, std::span<const int64_t> lengths,
                         const AttentionOptions& options);

}  // namespace skein
