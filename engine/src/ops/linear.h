// Linear layer y = x·Wᵀ + b on oneDNN's matmul (whole tensors) or the engine's
// register tiles (row blocks), plus the scalar reference the tests compare with.
#pragma once

#include <cstdint>
#include <memory>

namespace skein::ops {

/// y = x·Wᵀ + b with W in PyTorch layout [out, in] (row-major) and b [out].
/// Borrows `weight` and `bias` (typically views into the memory-mapped model;
/// float-aligned is enough) and never copies them: they must outlive the
/// Linear. Construction builds the oneDNN primitive once; run() is const and
/// thread-safe, so one Linear can serve many sessions on different threads.
class Linear {
 public:
  /// Throws skein::Error for null pointers or non-positive feature counts.
  Linear(const float* weight, const float* bias, int64_t in_features, int64_t out_features);
  ~Linear();
  Linear(Linear&&) noexcept;
  Linear& operator=(Linear&&) noexcept;
  Linear(const Linear&) = delete;
  Linear& operator=(const Linear&) = delete;

  /// x [rows, in] → y [rows, out], both row-major and dense; rows ≥ 0. y must
  /// not overlap x. Call from outside any OpenMP parallel region: oneDNN opens
  /// its own, with the calling thread's OpenMP thread count.
  void run(const float* x, float* y, int64_t rows) const;

  /// The same product on the calling thread only, for a block of rows inside
  /// a parallel region (the executor's row blocks): register tiles over the
  /// weights packed at construction (simd::panel_matmul_add_row), no oneDNN
  /// call. Fastest when y is vector-aligned and out is a multiple of
  /// simd::kPanelWidth; otherwise computes into a per-thread buffer and copies.
  void run_rows(const float* x, float* y, int64_t rows) const;

  int64_t in_features() const;
  int64_t out_features() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Scalar reference for Linear::run (accumulates in double).
void linear_ref(const float* x, const float* w, const float* b, float* y, int64_t rows, int64_t in,
                int64_t out);

}  // namespace skein::ops
