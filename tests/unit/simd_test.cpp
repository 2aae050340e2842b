// The vector kernels of engine/src/simd against their scalar references, on
// lengths around the vector width (tails) and on extreme inputs.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <doctest/doctest.h>

#include "simd/batch.h"
#include "simd/elementwise.h"
#include "simd/exp.h"
#include "simd/panel_matmul.h"
#include "simd/reduce.h"
#include "simd/reference.h"
#include "simd/softmax.h"

namespace skein::simd {
namespace {

constexpr size_t kLengths[] = {0, 1, 7, 15, 16, 17, 63, 65, 1000};
constexpr float kGuardValue = -777.25f;
constexpr size_t kGuard = 32;
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// n values uniform in [lo, hi] followed by kGuard guard values, so a kernel
// writing past n is caught.
std::vector<float> random_values(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(lo, hi);
  std::vector<float> values(n + kGuard, kGuardValue);
  for (size_t i = 0; i < n; ++i) values[i] = uniform(rng);
  return values;
}

bool guard_intact(const std::vector<float>& values, size_t n) {
  for (size_t i = n; i < values.size(); ++i) {
    if (values[i] != kGuardValue) return false;
  }
  return true;
}

double relative_error(float actual, float expected) {
  return std::fabs(double{actual} - double{expected}) / std::fabs(double{expected});
}

// Max relative error of simd::exp measured over all floats of [-86.98, 88.72]
// is 8.9e-8; std::exp (float) itself is within 0.5 ulp. 2e-7 covers both.
constexpr double kExpTolerance = 2e-7;

TEST_CASE("exp matches std::exp on every length, including tails") {
  for (size_t n : kLengths) {
    CAPTURE(n);
    const std::vector<float> in = random_values(n, -86.0f, 88.0f, static_cast<uint32_t>(n));
    std::vector<float> out(in.size(), kGuardValue), expected(n);
    simd::exp(in.data(), out.data(), n);
    ref::exp(in.data(), expected.data(), n);
    for (size_t i = 0; i < n; ++i) CHECK(relative_error(out[i], expected[i]) <= kExpTolerance);
    CHECK(guard_intact(out, n));
  }
}

TEST_CASE("exp is accurate over its whole finite range") {
  // A dense sweep (the exhaustive check over all floats is too slow for a unit test).
  constexpr int kSteps = 1 << 20;
  std::vector<float> in(kSteps), out(kSteps);
  for (int i = 0; i < kSteps; ++i)
    in[i] = -86.98f + (88.72f + 86.98f) * static_cast<float>(i) / kSteps;
  simd::exp(in.data(), out.data(), in.size());
  double worst = 0.0;
  for (int i = 0; i < kSteps; ++i) {
    worst = std::max(worst, relative_error(out[i], static_cast<float>(std::exp(double{in[i]}))));
  }
  CHECK(worst <= kExpTolerance);
}

TEST_CASE("exp of extreme inputs") {
  // x < -86.99 flushes to 0 (documented in exp.h); overflow gives +inf; NaN stays NaN.
  const std::vector<float> in{-1000.0f, -104.0f, -87.5f, -kInf,   0.0f, -0.0f, 1e-30f,
                              88.0f,    88.72f,  88.73f, 1000.0f, kInf, kNaN};
  std::vector<float> out(in.size());
  simd::exp(in.data(), out.data(), in.size());
  CHECK(out[0] == 0.0f);
  CHECK(out[1] == 0.0f);
  CHECK(out[2] == 0.0f);
  CHECK(out[3] == 0.0f);
  CHECK(out[4] == 1.0f);
  CHECK(out[5] == 1.0f);
  CHECK(out[6] == 1.0f);
  CHECK(relative_error(out[7], std::exp(88.0f)) <= kExpTolerance);
  CHECK(relative_error(out[8], std::exp(88.72f)) <= kExpTolerance);
  CHECK(out[9] == kInf);
  CHECK(out[10] == kInf);
  CHECK(out[11] == kInf);
  CHECK(std::isnan(out[12]));
}

// softmax_exp (exp.h): max relative error 3.9e-7 over every float of
// [-86.98, 0], measured against double exp; 5e-7 leaves a margin.
constexpr double kSoftmaxExpTolerance = 5e-7;

TEST_CASE("softmax_exp is accurate on the softmax domain") {
  constexpr int kSteps = 1 << 20;
  double worst = 0.0;
  for (int i = 0; i < kSteps; i += static_cast<int>(kLanes)) {
    alignas(64) float in[kLanes], out[kLanes];
    for (size_t l = 0; l < kLanes; ++l) {
      in[l] = -86.98f * static_cast<float>(static_cast<size_t>(i) + l) / kSteps;
    }
    simd::softmax_exp(Batch::load_aligned(in)).store_aligned(out);
    for (size_t l = 0; l < kLanes; ++l) {
      worst = std::max(worst, relative_error(out[l], static_cast<float>(std::exp(double{in[l]}))));
    }
  }
  CHECK(worst <= kSoftmaxExpTolerance);
}

TEST_CASE("softmax_exp of extreme and rounding-excess inputs") {
  alignas(64) float in[kLanes] = {-1000.0f, -87.5f, -kInf, 0.0f, -0.0f, 1e-6f, 1e-3f, kNaN};
  alignas(64) float out[kLanes];
  simd::softmax_exp(Batch::load_aligned(in)).store_aligned(out);
  CHECK(out[0] == 0.0f);
  CHECK(out[1] == 0.0f);
  CHECK(out[2] == 0.0f);
  CHECK(out[3] == 1.0f);
  CHECK(out[4] == 1.0f);
  CHECK(relative_error(out[5], std::exp(1e-6f)) <= kSoftmaxExpTolerance);
  CHECK(relative_error(out[6], std::exp(1e-3f)) <= kSoftmaxExpTolerance);
  CHECK(std::isnan(out[7]));
}

// Float sums of n terms: |error| <= (partial sums in sequence)·2^-24·Σ|terms|;
// the vector kernels add at most n/32 + 16 terms in sequence, so for n <= 1000
// a bound of 1e-5·Σ|terms| (plus an absolute floor for n = 0) holds with margin.
void check_sum_close(float actual, float expected, double magnitude) {
  CHECK(std::fabs(double{actual} - double{expected}) <= 1e-5 * magnitude + 1e-30);
}

TEST_CASE("dot and sum match their references") {
  for (size_t n : kLengths) {
    CAPTURE(n);
    const std::vector<float> a = random_values(n, -1.0f, 1.0f, 1);
    const std::vector<float> b = random_values(n, -1.0f, 1.0f, 2);
    double dot_magnitude = 0.0, sum_magnitude = 0.0;
    for (size_t i = 0; i < n; ++i) {
      dot_magnitude += std::fabs(double{a[i]} * b[i]);
      sum_magnitude += std::fabs(a[i]);
    }
    check_sum_close(dot(a.data(), b.data(), n), ref::dot(a.data(), b.data(), n), dot_magnitude);
    check_sum_close(sum(a.data(), n), ref::sum(a.data(), n), sum_magnitude);
  }
}

TEST_CASE("max is exact, skips NaN, and is -inf for nothing") {
  for (size_t n : kLengths) {
    CAPTURE(n);
    std::vector<float> x = random_values(n, -100.0f, 100.0f, 3);
    CHECK(max(x.data(), n) == ref::max(x.data(), n));
    if (n == 0) continue;
    x[n - 1] = 1e30f;  // in the tail for most lengths
    CHECK(max(x.data(), n) == 1e30f);
    x[n - 1] = kNaN;
    x[0] = kNaN;
    CHECK(max(x.data(), n) == ref::max(x.data(), n));
  }
  CHECK(max(nullptr, 0) == -kInf);
  const std::vector<float> all_nan(17, kNaN);
  CHECK(max(all_nan.data(), all_nan.size()) == -kInf);
}

TEST_CASE("scale and axpy match their references and stop at n") {
  for (size_t n : kLengths) {
    CAPTURE(n);
    const std::vector<float> x = random_values(n, -1.0f, 1.0f, 4);
    std::vector<float> scaled = random_values(n, -1.0f, 1.0f, 5), scaled_ref = scaled;
    scale(scaled.data(), n, 0.37f);
    ref::scale(scaled_ref.data(), n, 0.37f);
    CHECK(scaled == scaled_ref);  // one rounding per element either way
    std::vector<float> y = random_values(n, -1.0f, 1.0f, 6), y_ref = y;
    axpy(-1.7f, x.data(), y.data(), n);
    ref::axpy(-1.7f, x.data(), y_ref.data(), n);
    for (size_t i = 0; i < n; ++i)
      CHECK(std::fabs(y[i] - y_ref[i]) <= 1e-6f);  // fused vs not: 1 rounding
    CHECK(guard_intact(y, n));
  }
}

TEST_CASE("exp_shifted_sum and softmax match their references") {
  for (size_t n : kLengths) {
    CAPTURE(n);
    std::vector<float> x = random_values(n, -30.0f, 30.0f, 7), x_ref = x;
    const float shift = ref::max(x.data(), n);
    const float total = exp_shifted_sum(x.data(), n, n == 0 ? 0.0f : shift);
    const float total_ref = ref::exp_shifted_sum(x_ref.data(), n, n == 0 ? 0.0f : shift);
    check_sum_close(total, total_ref, total_ref);
    for (size_t i = 0; i < n; ++i) CHECK(std::fabs(x[i] - x_ref[i]) <= 2e-7f);  // values <= 1
    CHECK(guard_intact(x, n));

    std::vector<float> probs = random_values(n, -1000.0f, 1000.0f, 8), probs_ref = probs;
    softmax(probs.data(), n);
    ref::softmax(probs_ref.data(), n);
    for (size_t i = 0; i < n; ++i) CHECK(std::fabs(probs[i] - probs_ref[i]) <= 1e-6f);
    CHECK(guard_intact(probs, n));
  }
}

TEST_CASE("softmax of huge logits stays finite, and a NaN poisons the row") {
  std::vector<float> x{1e4f, -1e4f, 9999.0f, 0.0f};
  softmax(x.data(), x.size());
  CHECK(std::fabs(x[0] - 1.0f / (1.0f + std::exp(-1.0f))) <= 1e-6f);
  CHECK(x[1] == 0.0f);
  CHECK(std::fabs(x[2] - 1.0f / (1.0f + std::exp(1.0f))) <= 1e-6f);
  CHECK(x[3] == 0.0f);
  std::vector<float> with_nan{1.0f, kNaN, 2.0f};
  softmax(with_nan.data(), with_nan.size());
  for (float value : with_nan) CHECK(std::isnan(value));
}

// Plain C = B·A (or C ⊙ scale + B·A) on the panel layout, in double.
std::vector<float> panel_reference(const std::vector<float>& a, const StridedMatrix& b, size_t rows,
                                   size_t depth, const std::vector<float>& c, const float* scale) {
  std::vector<float> expected(rows * kPanelWidth);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t col = 0; col < kPanelWidth; ++col) {
      double total = scale ? double{c[r * kPanelWidth + col]} * scale[col] : 0.0;
      for (size_t k = 0; k < depth; ++k) {
        total += double{b.data[static_cast<ptrdiff_t>(r) * b.row_stride +
                               static_cast<ptrdiff_t>(k) * b.depth_stride]} *
                 a[k * kPanelWidth + col];
      }
      expected[r * kPanelWidth + col] = static_cast<float>(total);
    }
  }
  return expected;
}

TEST_CASE(
    "panel_matmul and its variants match a plain product for every tile height and both B "
    "layouts") {
  for (size_t rows : {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 16, 17, 32, 64}) {
    for (size_t depth : {1, 7, 33, 64}) {
      CAPTURE(rows);
      CAPTURE(depth);
      // A is packed kPanelWidth wide and aligned; B lives inside a wider matrix
      // (leading dimension 3 * max(rows, depth) + 1) as the kernels see k and v.
      std::vector<float, xsimd::aligned_allocator<float, 64>> a(depth * kPanelWidth);
      std::mt19937 rng(static_cast<uint32_t>(rows * 100 + depth));
      std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
      for (float& x : a) x = uniform(rng);
      const size_t ld = 3 * std::max(rows, depth) + 1;
      const std::vector<float> b_storage = random_values(ld * ld, -1.0f, 1.0f, 9);
      const std::vector<float> a_copy(a.begin(), a.end());
      const std::vector<float, xsimd::aligned_allocator<float, 64>> scale(kPanelWidth, 0.5f);
      for (const StridedMatrix b :
           {StridedMatrix{b_storage.data() + 1, static_cast<ptrdiff_t>(ld), 1},
            StridedMatrix{b_storage.data() + 1, 1, static_cast<ptrdiff_t>(ld)}}) {
        std::vector<float, xsimd::aligned_allocator<float, 64>> c(rows * kPanelWidth + kGuard,
                                                                  kGuardValue);
        panel_matmul(a.data(), kPanelWidth, b, rows, depth, c.data(), kPanelWidth);
        const std::vector<float> c_copy(c.begin(),
                                        c.begin() + static_cast<ptrdiff_t>(rows * kPanelWidth));
        std::vector<float> expected = panel_reference(a_copy, b, rows, depth, c_copy, nullptr);
        // depth-term dot products of O(1) values: error <= depth·2^-24·depth.
        const float tolerance = 1e-6f * static_cast<float>(depth);
        for (size_t i = 0; i < expected.size(); ++i)
          CHECK(std::fabs(c[i] - expected[i]) <= tolerance);

        std::vector<float, xsimd::aligned_allocator<float, 64>> column_max(kPanelWidth, 0.25f);
        panel_matmul_max(a.data(), kPanelWidth, b, rows, depth, c.data(), kPanelWidth,
                         column_max.data());
        for (size_t col = 0; col < kPanelWidth; ++col) {
          float largest = 0.25f;  // the incoming running max
          for (size_t r = 0; r < rows; ++r) largest = std::max(largest, c[r * kPanelWidth + col]);
          CHECK(column_max[col] == largest);
        }
        for (size_t i = 0; i < expected.size(); ++i)
          CHECK(c[i] == c_copy[i]);  // same C as panel_matmul

        expected = panel_reference(a_copy, b, rows, depth, c_copy, scale.data());
        panel_matmul_scaled_add(a.data(), kPanelWidth, b, rows, depth, c.data(), kPanelWidth,
                                scale.data());
        for (size_t i = 0; i < expected.size(); ++i)
          CHECK(std::fabs(c[i] - expected[i]) <= tolerance);

        std::vector<float, xsimd::aligned_allocator<float, 64>> bias(kPanelWidth);
        for (size_t col = 0; col < kPanelWidth; ++col) bias[col] = 0.125f * float(col) - 1.0f;
        panel_matmul_add_row(a.data(), kPanelWidth, b, rows, depth, c.data(), kPanelWidth,
                             bias.data());
        for (size_t r = 0; r < rows; ++r) {
          for (size_t col = 0; col < kPanelWidth; ++col) {
            const size_t i = r * kPanelWidth + col;
            CHECK(std::fabs(c[i] - (c_copy[i] + bias[col])) <= tolerance);
          }
        }
        for (size_t i = rows * kPanelWidth; i < c.size(); ++i) CHECK(c[i] == kGuardValue);
      }
    }
  }
}

TEST_CASE(
    "panel_matmul_softmax_squares equals e^(B·A − shift) ⊙ scale and adds its squares, for every "
    "tile height") {
  for (size_t rows : {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 16, 17, 32, 64}) {
    for (size_t depth : {1, 7, 32, 33}) {
      CAPTURE(rows);
      CAPTURE(depth);
      std::vector<float, xsimd::aligned_allocator<float, 64>> a(depth * kPanelWidth);
      std::mt19937 rng(static_cast<uint32_t>(rows * 1000 + depth));
      std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
      for (float& x : a) x = uniform(rng);
      const std::vector<float> a_copy(a.begin(), a.end());
      const size_t ld = 3 * std::max(rows, depth) + 1;
      const std::vector<float> b_storage = random_values(ld * ld, -2.0f, 2.0f, 11);
      const StridedMatrix b{b_storage.data() + 1, static_cast<ptrdiff_t>(ld), 1};
      const std::vector<float> product =
          panel_reference(a_copy, b, rows, depth, std::vector<float>(rows * kPanelWidth), nullptr);
      // Per column: the shift is the column max (the softmax case) plus an offset of
      // -3..+3, so some arguments are positive; the scale is any positive factor.
      std::vector<float, xsimd::aligned_allocator<float, 64>> shift(kPanelWidth),
          scale(kPanelWidth);
      for (size_t col = 0; col < kPanelWidth; ++col) {
        float largest = -std::numeric_limits<float>::infinity();
        for (size_t r = 0; r < rows; ++r)
          largest = std::max(largest, product[r * kPanelWidth + col]);
        shift[col] = largest + static_cast<float>(col % 7) - 3.0f;
        scale[col] = 0.01f + static_cast<float>(col) * 0.3f;
      }
      std::vector<float, xsimd::aligned_allocator<float, 64>> c(rows * kPanelWidth + kGuard,
                                                                kGuardValue);
      std::vector<float, xsimd::aligned_allocator<float, 64>> squares(rows * kPanelWidth + kGuard,
                                                                      kGuardValue);
      for (size_t i = 0; i < rows * kPanelWidth; ++i) squares[i] = uniform(rng) + 2.0f;
      const std::vector<float> squares_before(squares.begin(), squares.end());
      panel_matmul_softmax_squares(a.data(), kPanelWidth, b, rows, depth, c.data(), kPanelWidth,
                                   shift.data(), scale.data(), squares.data());
      // The product's rounding (<= 1e-6·depth absolute) becomes a relative error of
      // the exponential, plus softmax_exp's own 3.9e-7.
      const double tolerance = 1e-6 * static_cast<double>(depth) + 5e-7;
      for (size_t r = 0; r < rows; ++r) {
        for (size_t col = 0; col < kPanelWidth; ++col) {
          const size_t i = r * kPanelWidth + col;
          const double expected =
              std::exp(double{product[i]} - double{shift[col]}) * double{scale[col]};
          CHECK(std::fabs(c[i] - expected) <= tolerance * expected);
          const double expected_square = double{squares_before[i]} + expected * expected;
          CHECK(std::fabs(squares[i] - expected_square) <= 2.0 * tolerance * expected_square);
        }
      }
      for (size_t i = rows * kPanelWidth; i < c.size(); ++i) {
        CHECK(c[i] == kGuardValue);
        CHECK(squares[i] == kGuardValue);
      }
    }
  }
}

}  // namespace
}  // namespace skein::simd
