// Sequence pooling over packed token rows, as the reference model pools.
#pragma once

#include <cstdint>
#include <span>

namespace skein::ops {

/// y[s] = (sum of the rows of sequence s) / divisor. The reference masks
/// padding to zero and takes the mean over the padded length, so `divisor` is
/// that padded length, not the sequence's own length.
void mean_pool(const float* x, std::span<const int64_t> offsets, int64_t width, double divisor,
               float* y);

/// y[s] = (sum of the rows of sequence s) / its number of rows: the mean over
/// the real tokens (0 for a sequence without rows).
void token_mean_pool(const float* x, std::span<const int64_t> offsets, int64_t width, float* y);

/// y[s] = the first row of sequence s.
void cls_pool(const float* x, std::span<const int64_t> offsets, int64_t width, float* y);

}  // namespace skein::ops
