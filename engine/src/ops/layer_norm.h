// Layer normalization over the last dimension, as torch.nn.LayerNorm.
#pragma once

#include <cstdint>

namespace skein::ops {

/// For each of `rows` rows of `width` floats: y = (x − mean) / sqrt(var + eps)
/// · gamma + beta, with the biased variance (PyTorch semantics). Mean and
/// variance take two passes over the row (with a rounding correction), so rows
/// with a large common offset keep their precision. y may equal x (in place);
/// other overlaps are not allowed.
/// Opens its own OpenMP region over rows, or runs on the calling thread when
/// called inside one.
void layer_norm(const float* x, float* y, int64_t rows, int64_t width, const float* gamma,
                const float* beta, float eps);

/// Scalar reference for layer_norm (statistics in double).
void layer_norm_ref(const float* x, float* y, int64_t rows, int64_t width, const float* gamma,
                    const float* beta, float eps);

}  // namespace skein::ops
