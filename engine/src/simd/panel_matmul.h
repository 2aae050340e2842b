// Register-blocked matrix product for a narrow "panel" result:
//
//   C[r][0..kPanelWidth) = Σ_k B(r, k) · A[k][0..kPanelWidth)      for r < rows
//
// The result is vectorised across the panel's kPanelWidth columns (two
// Batches); a caller with fewer columns pads A with zeros to the full width. A is packed (row k at
// a + k·lda, aligned to the vector size). B is read in place through two strides, so it can be a
// row-major matrix (B(r, k) = b[r·ld + k]) or the transpose of one
// (B(r, k) = b[k·ld + r]); rows and depth can be anything >= 1.
//
// Attention uses it for both of its products, scoresᵀ = K_block·Q_blockᵀ and
// out_blockᵀ += V_blockᵀ·P_blockᵀ (V_block read transposed through the
// strides); engine/src/attention/exact.cpp says why not oneDNN matmul.
// Skeinformer's pilot pass also takes the softmax of its scores on the tile
// (panel_matmul_softmax_squares). ops::Linear::run_rows computes a block of a
// linear layer with it (panel_matmul_add_row).
#pragma once

#include <cstddef>

#include "simd/batch.h"

namespace skein::simd {

/// Result columns per panel: two vectors.
inline constexpr size_t kPanelWidth = 2 * kLanes;

/// B(r, k) = data[r·row_stride + k·depth_stride].
struct StridedMatrix {
  const float* data;
  ptrdiff_t row_stride;
  ptrdiff_t depth_stride;
};

/// C = B·A for `rows` rows of C (row r at c + r·ldc, aligned).
void panel_matmul(const float* a, size_t lda, StridedMatrix b, size_t rows, size_t depth, float* c,
                  size_t ldc);

/// C = B·A as above, and also column_max[j] = max(column_max[j], max_r C[r][j])
/// for the kPanelWidth columns (aligned), from the registers before they are stored.
void panel_matmul_max(const float* a, size_t lda, StridedMatrix b, size_t rows, size_t depth,
                      float* c, size_t ldc, float* column_max);

/// C = C ⊙ column_scale + B·A: every row of C is first multiplied elementwise
/// by the kPanelWidth factors in column_scale (aligned).
void panel_matmul_scaled_add(const float* a, size_t lda, StridedMatrix b, size_t rows, size_t depth,
                             float* c, size_t ldc, const float* column_scale);

/// C[r] = (B·A)[r] + row for every row r, with `row` kPanelWidth floats (aligned):
/// a linear layer's bias added on the registers.
void panel_matmul_add_row(const float* a, size_t lda, StridedMatrix b, size_t rows, size_t depth,
                          float* c, size_t ldc, const float* row);

/// C[r] = e^((B·A)[r] − shift) ⊙ scale for every row r, with per-column shift
/// and scale (kPanelWidth each, aligned): a softmax over the rows whose column
/// max and 1 / sum are already known. Also squares[r] += C[r]² elementwise
/// (squares laid out as C). The exponential is simd::softmax_exp (so
/// (B·A)[r] − shift must stay below about 88), taken on the tile's registers
/// instead of in a second pass over C.
void panel_matmul_softmax_squares(const float* a, size_t lda, StridedMatrix b, size_t rows,
                                  size_t depth, float* c, size_t ldc, const float* shift,
                                  const float* scale, float* squares);

}  // namespace skein::simd
