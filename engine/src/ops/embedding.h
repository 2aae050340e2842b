// Token + learned position embedding for packed sequences.
#pragma once

#include <cstdint>
#include <span>

namespace skein::ops {

/// For each sequence s (rows [offsets[s], offsets[s+1]) of `ids` and `y`), row
/// t of the sequence gets token[ids[t]] + position[t - offsets[s]].
/// ids must lie in [0, vocab) (the session checks); y is [rows, dim].
void embedding(const int32_t* ids, std::span<const int64_t> offsets, const float* token,
               const float* position, int64_t dim, float* y);

}  // namespace skein::ops
