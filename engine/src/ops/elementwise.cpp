#include "ops/elementwise.h"

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <string>

#include <skein/error.h>
#include <xsimd/xsimd.hpp>

namespace skein::ops {
namespace {

using Batch = xsimd::batch<float>;
constexpr int64_t kLanes = static_cast<int64_t>(Batch::size);

// Work is split into blocks of this many elements; these ops are memory bound
// and only large arrays gain from a second thread.
constexpr int64_t kBlock = int64_t{1} << 15;

void check_args(const char* name, const float* a, const float* b, const float* y, int64_t count) {
  if (count < 0) throw Error(std::string(name) + ": negative count " + std::to_string(count));
  if (count > 0 && (!a || !b || !y)) throw Error(std::string(name) + ": null pointer argument");
}

// y = op(a, b) elementwise; op works on batches and on scalars alike. Each
// index is read before it is written, so y may equal a or b.
template <class Op>
void map(const float* a, const float* b, float* y, int64_t count, Op op) {
  const int64_t blocks = (count + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (blocks > 1 && !omp_in_parallel())
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t end = std::min(count, (blk + 1) * kBlock);
    int64_t i = blk * kBlock;
    for (; i + kLanes <= end; i += kLanes) {
      op(xsimd::load_unaligned(a + i), xsimd::load_unaligned(b + i)).store_unaligned(y + i);
    }
    for (; i < end; ++i) y[i] = op(a[i], b[i]);
  }
}

template <class Op>
void map_ref(const float* a, const float* b, float* y, int64_t count, Op op) {
  for (int64_t i = 0; i < count; ++i) y[i] = op(a[i], b[i]);
}

// Returns Σ widths after checking the arguments of concat / concat_ref.
int64_t concat_width(const char* name, std::span<const float* const> inputs,
                     std::span<const int64_t> widths, int64_t rows, const float* y) {
  if (inputs.size() != widths.size()) {
    throw Error(std::string(name) + ": " + std::to_string(inputs.size()) + " inputs but " +
                std::to_string(widths.size()) + " widths");
  }
  if (rows < 0) throw Error(std::string(name) + ": negative rows " + std::to_string(rows));
  int64_t total = 0;
  for (size_t k = 0; k < widths.size(); ++k) {
    if (widths[k] < 0) {
      throw Error(std::string(name) + ": negative width " + std::to_string(widths[k]) +
                  " for input " + std::to_string(k));
    }
    if (rows > 0 && widths[k] > 0 && inputs[k] == nullptr) {
      throw Error(std::string(name) + ": input " + std::to_string(k) + " is null");
    }
    total += widths[k];
  }
  if (rows > 0 && total > 0 && y == nullptr) throw Error(std::string(name) + ": null output");
  return total;
}

}  // namespace

void add(const float* a, const float* b, float* y, int64_t count) {
  check_args("ops::add", a, b, y, count);
  map(a, b, y, count, std::plus<>());
}

void sub(const float* a, const float* b, float* y, int64_t count) {
  check_args("ops::sub", a, b, y, count);
  map(a, b, y, count, std::minus<>());
}

void mul(const float* a, const float* b, float* y, int64_t count) {
  check_args("ops::mul", a, b, y, count);
  map(a, b, y, count, std::multiplies<>());
}

void concat(std::span<const float* const> inputs, std::span<const int64_t> widths, int64_t rows,
            float* y) {
  const int64_t total = concat_width("ops::concat", inputs, widths, rows, y);
  if (total == 0) return;
#pragma omp parallel for schedule(static) if (rows * total >= kBlock && !omp_in_parallel())
  for (int64_t r = 0; r < rows; ++r) {
    float* out = y + r * total;
    for (size_t k = 0; k < inputs.size(); ++k) {
      out = std::copy_n(inputs[k] + r * widths[k], widths[k], out);
    }
  }
}

void add_ref(const float* a, const float* b, float* y, int64_t count) {
  check_args("ops::add_ref", a, b, y, count);
  map_ref(a, b, y, count, std::plus<>());
}

void sub_ref(const float* a, const float* b, float* y, int64_t count) {
  check_args("ops::sub_ref", a, b, y, count);
  map_ref(a, b, y, count, std::minus<>());
}

void mul_ref(const float* a, const float* b, float* y, int64_t count) {
  check_args("ops::mul_ref", a, b, y, count);
  map_ref(a, b, y, count, std::multiplies<>());
}

void concat_ref(std::span<const float* const> inputs, std::span<const int64_t> widths, int64_t rows,
                float* y) {
  const int64_t total = concat_width("ops::concat_ref", inputs, widths, rows, y);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t col = 0;
    for (size_t k = 0; k < inputs.size(); ++k) {
      for (int64_t j = 0; j < widths[k]; ++j) y[r * total + col++] = inputs[k][r * widths[k] + j];
    }
  }
}

}  // namespace skein::ops
