// The spectral norm ‖A‖₂ (largest singular value) of a tall matrix, in double,
// for measuring how well an attention method approximates exact attention.
// Shared by the unit tests and `skein approx`.
#pragma once

#include <cstddef>
#include <span>

namespace skein {

/// ‖A‖₂ of the row-major rows × cols matrix `a`, by power iteration on the
/// cols × cols Gram matrix AᵀA (so rows may be large and cols small), until
/// the estimate changes by less than 1e-12 relative or after 1000 steps.
double spectral_norm(std::span<const double> a, size_t rows, size_t cols);

/// ‖exact − approx‖₂ / ‖exact‖₂ of two row-major rows × cols matrices; 0 when
/// both are zero, infinity when only `exact` is.
double relative_spectral_error(std::span<const float> exact, std::span<const float> approx,
                               size_t rows, size_t cols);

}  // namespace skein
