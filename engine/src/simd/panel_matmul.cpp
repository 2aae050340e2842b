#include "simd/panel_matmul.h"

#include <utility>

#include "simd/exp.h"

namespace skein::simd {
namespace {

// Rows per register tile. AVX2: 6 rows × 2 accumulators + 2 A vectors + 1
// broadcast B value = 15 of the 16 vector registers. AVX-512 has 32, but each
// row also holds a B row pointer in one of the 16 general registers: measured
// at n = 65,536 (Skeinformer, 2 heads), 8 rows took 40.2–41.6 ms, 6 rows
// 41.8–42.7, 10 rows 50–52 and 12 rows 59–62; in a later round (with the query
// prefetch) 8 rows 40.4–41.1, 7 rows 40.0–41.6 and 9 rows 41.1–42.4.
constexpr size_t kMaxTileRows = kLanes == 16 ? 8 : 6;

enum class Update { kAssign, kAssignTrackMax, kScaledAdd, kSoftmaxSquares, kAddColumns };

// The per-column vectors the updates use besides C.
struct Columns {
  const float* scale = nullptr;  // kScaledAdd, kSoftmaxSquares; kAddColumns: the added row
  float* max = nullptr;          // kAssignTrackMax
  const float* shift = nullptr;  // kSoftmaxSquares
  float* squares = nullptr;      // kSoftmaxSquares, C's layout
};

template <size_t kRows, Update kUpdate>
void tile(const float* a, size_t lda, StridedMatrix b, size_t depth, float* c, size_t ldc,
          Columns columns) {
  Batch acc[kRows][2];
  const float* b_row[kRows];
#pragma GCC unroll 8
  for (size_t r = 0; r < kRows; ++r) {
    acc[r][0] = acc[r][1] = Batch(0.0f);
    b_row[r] = b.data + static_cast<ptrdiff_t>(r) * b.row_stride;
  }
  for (size_t k = 0; k < depth; ++k) {
    const Batch a0 = Batch::load_aligned(a + k * lda);
    const Batch a1 = Batch::load_aligned(a + k * lda + kLanes);
    const ptrdiff_t b_at = static_cast<ptrdiff_t>(k) * b.depth_stride;
#pragma GCC unroll 8
    for (size_t r = 0; r < kRows; ++r) {
      const Batch b_value(b_row[r][b_at]);
      acc[r][0] = simd::fma(b_value, a0, acc[r][0]);
      acc[r][1] = simd::fma(b_value, a1, acc[r][1]);
    }
  }
  if constexpr (kUpdate == Update::kAssignTrackMax) {
    Batch max0 = Batch::load_aligned(columns.max);
    Batch max1 = Batch::load_aligned(columns.max + kLanes);
#pragma GCC unroll 8
    for (size_t r = 0; r < kRows; ++r) {
      max0 = xsimd::max(acc[r][0], max0);
      max1 = xsimd::max(acc[r][1], max1);
    }
    max0.store_aligned(columns.max);
    max1.store_aligned(columns.max + kLanes);
  }
  if constexpr (kUpdate == Update::kScaledAdd) {
    const Batch scale0 = Batch::load_aligned(columns.scale);
    const Batch scale1 = Batch::load_aligned(columns.scale + kLanes);
#pragma GCC unroll 8
    for (size_t r = 0; r < kRows; ++r) {
      float* c_row = c + r * ldc;
      acc[r][0] = simd::fma(Batch::load_aligned(c_row), scale0, acc[r][0]);
      acc[r][1] = simd::fma(Batch::load_aligned(c_row + kLanes), scale1, acc[r][1]);
    }
  }
  if constexpr (kUpdate == Update::kAddColumns) {
    const Batch add0 = Batch::load_aligned(columns.scale);
    const Batch add1 = Batch::load_aligned(columns.scale + kLanes);
#pragma GCC unroll 8
    for (size_t r = 0; r < kRows; ++r) {
      acc[r][0] += add0;
      acc[r][1] += add1;
    }
  }
  if constexpr (kUpdate == Update::kSoftmaxSquares) {
    const Batch shift0 = Batch::load_aligned(columns.shift);
    const Batch shift1 = Batch::load_aligned(columns.shift + kLanes);
    const Batch scale0 = Batch::load_aligned(columns.scale);
    const Batch scale1 = Batch::load_aligned(columns.scale + kLanes);
#pragma GCC unroll 8
    for (size_t r = 0; r < kRows; ++r) {
      acc[r][0] = softmax_exp(acc[r][0] - shift0) * scale0;
      acc[r][1] = softmax_exp(acc[r][1] - shift1) * scale1;
      float* squares = columns.squares + r * ldc;
      simd::fma(acc[r][0], acc[r][0], Batch::load_aligned(squares)).store_aligned(squares);
      simd::fma(acc[r][1], acc[r][1], Batch::load_aligned(squares + kLanes))
          .store_aligned(squares + kLanes);
    }
  }
#pragma GCC unroll 8
  for (size_t r = 0; r < kRows; ++r) {
    acc[r][0].store_aligned(c + r * ldc);
    acc[r][1].store_aligned(c + r * ldc + kLanes);
  }
}

template <Update kUpdate, size_t... kHeights>
void tile_of_height(size_t rows, const float* a, size_t lda, StridedMatrix b, size_t depth,
                    float* c, size_t ldc, Columns columns, std::index_sequence<kHeights...>) {
  ((rows == kHeights + 1 ? (tile<kHeights + 1, kUpdate>(a, lda, b, depth, c, ldc, columns), true)
                         : false) ||
   ...);
}

// Splits the rows into tiles of near-equal height (e.g. 32 = 6+6+5+5+5+5, not
// 6·5+2): a tile with few rows has too few independent accumulators to keep
// both FMA pipes busy.
template <Update kUpdate>
void panel(const float* a, size_t lda, StridedMatrix b, size_t rows, size_t depth, float* c,
           size_t ldc, Columns columns) {
  const size_t tiles = (rows + kMaxTileRows - 1) / kMaxTileRows;
  size_t r = 0;
  for (size_t t = 0; t < tiles; ++t) {
    const size_t height = rows / tiles + (t < rows % tiles ? 1 : 0);
    const StridedMatrix b_tile{b.data + static_cast<ptrdiff_t>(r) * b.row_stride, b.row_stride,
                               b.depth_stride};
    Columns tile_columns = columns;
    if (tile_columns.squares) tile_columns.squares += r * ldc;
    tile_of_height<kUpdate>(height, a, lda, b_tile, depth, c + r * ldc, ldc, tile_columns,
                            std::make_index_sequence<kMaxTileRows>{});
    r += height;
  }
}

}  // namespace

void panel_matmul(const float* a, size_t lda, StridedMatrix b, size_t rows, size_t depth, float* c,
                  size_t ldc) {
  panel<Update::kAssign>(a, lda, b, rows, depth, c, ldc, Columns{});
}

void panel_matmul_max(const float* a, size_t lda, StridedMatrix b, size_t rows, size_t depth,
                      float* c, size_t ldc, float* column_max) {
  panel<Update::kAssignTrackMax>(a, lda, b, rows, depth, c, ldc, Columns{nullptr, column_max});
}

void panel_matmul_scaled_add(const float* a, size_t lda, StridedMatrix b, size_t rows, size_t depth,
                             float* c, size_t ldc, const float* column_scale) {
  panel<Update::kScaledAdd>(a, lda, b, rows, depth, c, ldc, Columns{column_scale, nullptr});
}

void panel_matmul_add_row(const float* a, size_t lda, StridedMatrix b, size_t rows, size_t depth,
                          float* c, size_t ldc, const float* row) {
  panel<Update::kAddColumns>(a, lda, b, rows, depth, c, ldc, Columns{row, nullptr});
}

void panel_matmul_softmax_squares(const float* a, size_t lda, StridedMatrix b, size_t rows,
                                  size_t depth, float* c, size_t ldc, const float* shift,
                                  const float* scale, float* squares) {
  panel<Update::kSoftmaxSquares>(a, lda, b, rows, depth, c, ldc,
                                 Columns{scale, nullptr, shift, squares});
}

}  // namespace skein::simd
