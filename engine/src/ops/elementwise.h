// Elementwise arithmetic on two arrays, and feature concatenation.
#pragma once

#include <cstdint>
#include <span>

namespace skein::ops {

// y[i] = a[i] op b[i] for i in [0, count). y may equal a or b (in place);
// other overlaps are not allowed. Large arrays are split over OpenMP threads;
// called inside a parallel region they run on the calling thread.
void add(const float* a, const float* b, float* y, int64_t count);
void sub(const float* a, const float* b, float* y, int64_t count);
void mul(const float* a, const float* b, float* y, int64_t count);

/// Row-wise concatenation: input k is [rows, widths[k]] row-major, y is
/// [rows, Σ widths] with the inputs' features side by side in input order.
/// y must not overlap any input. Throws skein::Error for negative sizes or
/// mismatched span lengths.
void concat(std::span<const float* const> inputs, std::span<const int64_t> widths, int64_t rows,
            float* y);

/// Scalar references.
void add_ref(const float* a, const float* b, float* y, int64_t count);
void sub_ref(const float* a, const float* b, float* y, int64_t count);
void mul_ref(const float* a, const float* b, float* y, int64_t count);
void concat_ref(std::span<const float* const> inputs, std::span<const int64_t> widths, int64_t rows,
                float* y);

}  // namespace skein::ops
