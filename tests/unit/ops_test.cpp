// Unit tests for the ops kernels (linear, layer norm, activations,
// elementwise): each against its scalar reference on awkward sizes, with
// canaries around every output to catch stray writes.
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <skein/error.h>
#include <xsimd/xsimd.hpp>

#include "ops/activations.h"
#include "ops/elementwise.h"
#include "ops/layer_norm.h"
#include "ops/linear.h"

namespace {

using namespace skein::ops;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

const int64_t kSizes[] = {1, 7, 15, 16, 17, 63, 65, 1000};

std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// An output buffer with canary words on both sides; a kernel that writes
// outside [data(), data() + size) changes a canary.
class Guarded {
 public:
  explicit Guarded(size_t size) : buf_(size + 2 * kGuard) {
    for (size_t i = 0; i < kGuard; ++i) {
      buf_[i] = canary();
      buf_[kGuard + size + i] = canary();
    }
  }
  float* data() { return buf_.data() + kGuard; }
  const float* data() const { return buf_.data() + kGuard; }
  bool intact() const {
    const size_t size = buf_.size() - 2 * kGuard;
    for (size_t i = 0; i < kGuard; ++i) {
      if (bits(buf_[i]) != kCanary || bits(buf_[kGuard + size + i]) != kCanary) return false;
    }
    return true;
  }

 private:
  static constexpr size_t kGuard = 16;
  static constexpr uint32_t kCanary = 0x7fa5a5a5;  // a signalling-NaN pattern no kernel produces
  static float canary() { return std::bit_cast<float>(kCanary); }
  static uint32_t bits(float f) { return std::bit_cast<uint32_t>(f); }
  std::vector<float> buf_;
};

// Empty string when |got[i] − want[i]| ≤ tol(i) for all i (NaN must match
// NaN), else a description of the first mismatch.
template <class Tol>
std::string compare(const float* got, const float* want, size_t n, Tol tol) {
  for (size_t i = 0; i < n; ++i) {
    const bool ok = std::isnan(want[i])
                        ? std::isnan(got[i])
                        : (got[i] == want[i] || std::fabs(got[i] - want[i]) <= tol(i));
    if (!ok) {
      std::ostringstream s;
      s << "index " << i << ": got " << got[i] << ", want " << want[i] << " (tol " << tol(i) << ")";
      return s.str();
    }
  }
  return {};
}

std::string compare_exact(const float* got, const float* want, size_t n) {
  return compare(got, want, n, [](size_t) { return 0.0f; });
}

bool same_bits(const float* a, const float* b, size_t n) {
  return std::memcmp(a, b, n * sizeof(float)) == 0;
}

// ---------------------------------------------------------------- linear

// Worst-case rounding of a float dot product of length n in any summation
// order is γ_n·Σ|x||w| (γ_n ≈ n·u); (in + 2)·FLT_EPSILON = 2(in + 2)·u covers
// the bias and FMA-vs-separate rounding with margin.
std::vector<float> linear_tolerance(std::vector<float> x, std::vector<float> w,
                                    std::vector<float> b, int64_t rows, int64_t in, int64_t out) {
  for (std::vector<float>* v : {&x, &w, &b}) {
    for (float& f : *v) f = std::fabs(f);
  }
  std::vector<float> tol(rows * out);
  linear_ref(x.data(), w.data(), b.data(), tol.data(), rows, in, out);
  for (float& t : tol) t = static_cast<float>(in + 2) * FLT_EPSILON * t + FLT_MIN;
  return tol;
}

TEST_CASE("Linear matches linear_ref on awkward shapes") {
  const int64_t rows_list[] = {1, 7, 63, 65, 1000};
  const int64_t features[] = {1, 7, 64, 128, 130};
  uint32_t seed = 1;
  for (int64_t in : features) {
    for (int64_t out : features) {
      // Weights start one float into their buffer, so they are not 16-byte
      // aligned: mapped weights are only guaranteed float alignment.
      std::vector<float> storage = random_floats(static_cast<size_t>(in * out + 1), seed++);
      const float* w = storage.data() + 1;
      const std::vector<float> wv(w, w + in * out);
      const std::vector<float> b = random_floats(static_cast<size_t>(out), seed++);
      const Linear linear(w, b.data(), in, out);
      CHECK(linear.in_features() == in);
      CHECK(linear.out_features() == out);
      for (int64_t rows : rows_list) {
        INFO("rows=" << rows << " in=" << in << " out=" << out);
        const std::vector<float> x = random_floats(static_cast<size_t>(rows * in), seed++);
        const size_t n = static_cast<size_t>(rows * out);
        Guarded y(n);
        std::vector<float> want(n);
        linear.run(x.data(), y.data(), rows);
        linear_ref(x.data(), w, b.data(), want.data(), rows, in, out);
        const std::vector<float> tol = linear_tolerance(x, wv, b, rows, in, out);
        const std::string diff =
            compare(y.data(), want.data(), n, [&](size_t i) { return tol[i]; });
        CHECK_MESSAGE(diff == "", diff);
        CHECK(y.intact());

        // run_rows into the guarded buffer (no alignment promised: the padded
        // path) and into a 64-byte-aligned one (the direct path when out is a
        // multiple of the panel width), with a canary tail after the rows.
        Guarded y_rows(n);
        linear.run_rows(x.data(), y_rows.data(), rows);
        std::string rows_diff =
            compare(y_rows.data(), want.data(), n, [&](size_t i) { return tol[i]; });
        CHECK_MESSAGE(rows_diff == "", rows_diff);
        CHECK(y_rows.intact());
        std::vector<float, xsimd::aligned_allocator<float, 64>> y_aligned(n + 16, -7.0f);
        linear.run_rows(x.data(), y_aligned.data(), rows);
        rows_diff = compare(y_aligned.data(), want.data(), n, [&](size_t i) { return tol[i]; });
        CHECK_MESSAGE(rows_diff == "", rows_diff);
        for (size_t i = n; i < y_aligned.size(); ++i) CHECK(y_aligned[i] == -7.0f);
      }
    }
  }
}

TEST_CASE("Linear: zero rows is a no-op, bad arguments throw skein::Error") {
  const std::vector<float> w = random_floats(8 * 4, 7);
  const std::vector<float> b = random_floats(4, 8);
  const Linear linear(w.data(), b.data(), 8, 4);
  Guarded y(0);
  linear.run(nullptr, y.data(), 0);
  CHECK(y.intact());
  CHECK_THROWS_AS(linear.run(w.data(), y.data(), -1), skein::Error);
  CHECK_THROWS_AS(linear.run(nullptr, y.data(), 1), skein::Error);
  linear.run_rows(nullptr, y.data(), 0);
  CHECK(y.intact());
  CHECK_THROWS_AS(linear.run_rows(w.data(), y.data(), -1), skein::Error);
  CHECK_THROWS_AS(linear.run_rows(nullptr, y.data(), 1), skein::Error);
  CHECK_THROWS_AS(Linear(w.data(), b.data(), 0, 4), skein::Error);
  CHECK_THROWS_AS(Linear(w.data(), b.data(), 8, -1), skein::Error);
  CHECK_THROWS_AS(Linear(nullptr, b.data(), 8, 4), skein::Error);
  CHECK_THROWS_AS(Linear(w.data(), nullptr, 8, 4), skein::Error);
}

TEST_CASE("Linear: NaN and inf stay in their row") {
  const int64_t rows = 5, in = 17, out = 9;
  std::vector<float> w = random_floats(in * out, 11);
  for (float& v : w) v = v == 0.0f ? 0.5f : v;  // no zero weight: inf·0 would be NaN
  const std::vector<float> b = random_floats(out, 12);
  std::vector<float> x = random_floats(rows * in, 13);
  x[1 * in + 3] = kNaN;
  x[3 * in + 5] = kInf;
  const Linear linear(w.data(), b.data(), in, out);
  Guarded y(rows * out);
  std::vector<float> want(rows * out);
  linear_ref(x.data(), w.data(), b.data(), want.data(), rows, in, out);
  for (const bool block : {false, true}) {
    CAPTURE(block);
    if (block) {
      linear.run_rows(x.data(), y.data(), rows);
    } else {
      linear.run(x.data(), y.data(), rows);
    }
    for (int64_t o = 0; o < out; ++o) {
      CHECK(std::isnan(y.data()[1 * out + o]));
      CHECK(y.data()[3 * out + o] == want[3 * out + o]);  // ±inf, the sign of w
      CHECK(std::isinf(want[3 * out + o]));
    }
    for (int64_t r : {0, 2, 4}) {
      for (int64_t o = 0; o < out; ++o) CHECK(std::isfinite(y.data()[r * out + o]));
    }
    CHECK(y.intact());
  }
}

TEST_CASE("Linear: one instance shared by threads gives identical results") {
  const int64_t in = 64, out = 128;
  const std::vector<float> w = random_floats(in * out, 21);
  const std::vector<float> b = random_floats(out, 22);
  const Linear linear(w.data(), b.data(), in, out);
  // Different row counts per thread run the one runtime-M primitive
  // concurrently with different shapes.
  const int64_t rows_of[] = {1, 7, 65, 1000};
  const std::vector<float> x = random_floats(1000 * in, 23);
  std::vector<std::vector<float>> expected;
  for (int64_t rows : rows_of) {
    expected.emplace_back(rows * out);
    linear.run(x.data(), expected.back().data(), rows);
  }
  constexpr int kThreads = 4;
  constexpr int kRepeats = 20;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const int64_t rows = rows_of[t];
      std::vector<float> y(rows * out);
      for (int k = 0; k < kRepeats; ++k) {
        std::fill(y.begin(), y.end(), kNaN);
        linear.run(x.data(), y.data(), rows);
        if (!same_bits(y.data(), expected[t].data(), y.size())) ++mismatches[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) CHECK(mismatches[t] == 0);
}

TEST_CASE("Linear is movable") {
  const std::vector<float> w = random_floats(3 * 2, 31);
  const std::vector<float> b = random_floats(2, 32);
  Linear a(w.data(), b.data(), 3, 2);
  const Linear moved(std::move(a));
  const std::vector<float> x = random_floats(3, 33);
  float y[2], want[2];
  moved.run(x.data(), y, 1);
  linear_ref(x.data(), w.data(), b.data(), want, 1, 3, 2);
  CHECK(y[0] == doctest::Approx(want[0]).epsilon(1e-5));
  CHECK(y[1] == doctest::Approx(want[1]).epsilon(1e-5));
}

// ------------------------------------------------------------ layer norm

struct LayerNormCase {
  std::vector<float> x, gamma, beta;
};

LayerNormCase layer_norm_case(int64_t rows, int64_t width, uint32_t seed, float offset = 0.0f) {
  LayerNormCase c{random_floats(rows * width, seed, offset - 2.0f, offset + 2.0f),
                  random_floats(width, seed + 1, 0.5f, 1.5f), random_floats(width, seed + 2)};
  return c;
}

// Output is xhat·gamma + beta; float statistics are good to a few ulps
// (≤ 7e-7 absolute measured), so allow 4e-6 relative to the terms' sizes.
std::string compare_layer_norm(const float* got, const float* want, const LayerNormCase& c,
                               int64_t width) {
  return compare(got, want, c.x.size(), [&](size_t i) {
    const size_t j = i % static_cast<size_t>(width);
    return 4e-6f * (std::fabs(want[i] - c.beta[j]) + std::fabs(c.beta[j]) + 1.0f);
  });
}

TEST_CASE("layer_norm matches layer_norm_ref; in place gives the same bits") {
  uint32_t seed = 100;
  for (int64_t rows : kSizes) {
    for (int64_t width : kSizes) {
      INFO("rows=" << rows << " width=" << width);
      const LayerNormCase c = layer_norm_case(rows, width, seed += 3);
      const size_t n = c.x.size();
      Guarded y(n);
      std::vector<float> want(n);
      layer_norm(c.x.data(), y.data(), rows, width, c.gamma.data(), c.beta.data(), 1e-5f);
      layer_norm_ref(c.x.data(), want.data(), rows, width, c.gamma.data(), c.beta.data(), 1e-5f);
      const std::string diff = compare_layer_norm(y.data(), want.data(), c, width);
      CHECK_MESSAGE(diff == "", diff);
      CHECK(y.intact());

      std::vector<float> inplace = c.x;
      layer_norm(inplace.data(), inplace.data(), rows, width, c.gamma.data(), c.beta.data(), 1e-5f);
      CHECK(same_bits(inplace.data(), y.data(), n));
    }
  }
}

TEST_CASE("layer_norm keeps precision for rows with a large offset") {
  // A one-pass E[x²] − E[x]² loses every digit here (offset² / spread² ≈ 1e7).
  const int64_t rows = 17, width = 1000;
  const LayerNormCase c = layer_norm_case(rows, width, 200, 1.0e4f);
  Guarded y(c.x.size());
  std::vector<float> want(c.x.size());
  layer_norm(c.x.data(), y.data(), rows, width, c.gamma.data(), c.beta.data(), 1e-5f);
  layer_norm_ref(c.x.data(), want.data(), rows, width, c.gamma.data(), c.beta.data(), 1e-5f);
  const std::string diff = compare_layer_norm(y.data(), want.data(), c, width);
  CHECK_MESSAGE(diff == "", diff);
  CHECK(y.intact());
}

TEST_CASE("layer_norm: constant rows give beta, NaN stays in its row") {
  const int64_t rows = 3, width = 65;
  LayerNormCase c = layer_norm_case(rows, width, 300);
  std::fill(c.x.begin(), c.x.begin() + width, 3.3f);  // row 0: zero variance
  c.x[1 * width + 10] = kNaN;                         // row 1: NaN
  Guarded y(c.x.size());
  layer_norm(c.x.data(), y.data(), rows, width, c.gamma.data(), c.beta.data(), 1e-5f);
  for (int64_t j = 0; j < width; ++j) {
    // Any rounding residue in x − mean is amplified by 1/sqrt(eps) ≈ 316.
    CHECK(y.data()[j] == doctest::Approx(c.beta[j]).epsilon(1e-4));
    CHECK(std::isnan(y.data()[1 * width + j]));
    CHECK(std::isfinite(y.data()[2 * width + j]));
  }
  CHECK(y.intact());
}

TEST_CASE("layer_norm: empty inputs are no-ops, negative sizes throw") {
  const std::vector<float> g(4, 1.0f), b(4, 0.0f);
  Guarded y(0);
  layer_norm(nullptr, y.data(), 0, 4, g.data(), b.data(), 1e-5f);
  layer_norm(nullptr, y.data(), 4, 0, g.data(), b.data(), 1e-5f);
  CHECK(y.intact());
  CHECK_THROWS_AS(layer_norm(g.data(), y.data(), -1, 4, g.data(), b.data(), 1e-5f), skein::Error);
  CHECK_THROWS_AS(layer_norm(g.data(), y.data(), 1, -4, g.data(), b.data(), 1e-5f), skein::Error);
}

// ----------------------------------------------------------- activations

// Counts past one parallel block, so block boundaries and the tail are hit.
const int64_t kCounts[] = {1, 7, 15, 16, 17, 63, 65, 1000, 100003};

TEST_CASE("gelu matches gelu_ref; in place gives the same bits") {
  uint32_t seed = 400;
  for (int64_t count : kCounts) {
    INFO("count=" << count);
    const std::vector<float> x = random_floats(count, seed++, -8.0f, 8.0f);
    Guarded y(count);
    std::vector<float> want(count);
    gelu(x.data(), y.data(), count);
    gelu_ref(x.data(), want.data(), count);
    // gelu's erfc approximation is within 1.5e-7 absolute (2.1e-7 of
    // max(1, |y|) measured on [−8, 8]); 1e-6 of max(1, |y|) leaves margin.
    const std::string diff = compare(y.data(), want.data(), count, [&](size_t i) {
      return 1e-6f * std::max(1.0f, std::fabs(want[i]));
    });
    CHECK_MESSAGE(diff == "", diff);
    CHECK(y.intact());

    std::vector<float> inplace = x;
    gelu(inplace.data(), inplace.data(), count);
    CHECK(same_bits(inplace.data(), y.data(), count));
  }
}

TEST_CASE("gelu: special values") {
  const std::vector<float> x = {kNaN, kInf, -kInf, 0.0f, -0.0f, 1e30f, -1e30f, 20.0f, -20.0f};
  Guarded y(x.size());
  std::vector<float> want(x.size());
  gelu(x.data(), y.data(), static_cast<int64_t>(x.size()));
  gelu_ref(x.data(), want.data(), static_cast<int64_t>(x.size()));
  CHECK(std::isnan(y.data()[0]));
  CHECK(y.data()[1] == kInf);
  CHECK(y.data()[2] == 0.0f);
  CHECK(y.data()[3] == 0.0f);
  CHECK(y.data()[4] == 0.0f);
  CHECK(y.data()[5] == 1e30f);
  CHECK(y.data()[6] == 0.0f);
  CHECK(y.data()[7] == 20.0f);
  CHECK(std::fabs(y.data()[8]) < 1e-30f);
  CHECK(compare_exact(y.data(), want.data(), x.size()) == "");
  CHECK(y.intact());
}

TEST_CASE("relu matches relu_ref exactly, NaN included; in place gives the same bits") {
  uint32_t seed = 500;
  for (int64_t count : kCounts) {
    INFO("count=" << count);
    std::vector<float> x = random_floats(count, seed++);
    x[0] = kNaN;
    if (count > 2) x[count - 1] = -kInf;
    Guarded y(count);
    std::vector<float> want(count);
    relu(x.data(), y.data(), count);
    relu_ref(x.data(), want.data(), count);
    CHECK(std::isnan(y.data()[0]));
    CHECK(same_bits(y.data(), want.data(), count));
    CHECK(y.intact());

    relu(x.data(), x.data(), count);
    CHECK(same_bits(x.data(), y.data(), count));
  }
}

TEST_CASE("activations: negative counts throw, zero is a no-op") {
  float v = 1.0f;
  CHECK_THROWS_AS(gelu(&v, &v, -1), skein::Error);
  CHECK_THROWS_AS(relu(&v, &v, -1), skein::Error);
  gelu(nullptr, nullptr, 0);
  relu(nullptr, nullptr, 0);
}

// ----------------------------------------------------------- elementwise

using BinaryOp = void (*)(const float*, const float*, float*, int64_t);

struct BinaryCase {
  const char* name;
  BinaryOp op;
  BinaryOp ref;
};

const BinaryCase kBinary[] = {{"add", add, add_ref}, {"sub", sub, sub_ref}, {"mul", mul, mul_ref}};

TEST_CASE("add, sub, mul match their references exactly, also in place") {
  uint32_t seed = 600;
  for (const BinaryCase& bc : kBinary) {
    for (int64_t count : kCounts) {
      INFO(bc.name << " count=" << count);
      std::vector<float> a = random_floats(count, seed++);
      const std::vector<float> b = random_floats(count, seed++);
      a[0] = kNaN;
      if (count > 1) a[1] = kInf;
      Guarded y(count);
      std::vector<float> want(count);
      bc.op(a.data(), b.data(), y.data(), count);
      bc.ref(a.data(), b.data(), want.data(), count);
      // One IEEE operation per element: exactly rounded, so bit-exact.
      CHECK(compare_exact(y.data(), want.data(), count) == "");
      CHECK(y.intact());

      std::vector<float> in_a = a;
      bc.op(in_a.data(), b.data(), in_a.data(), count);
      CHECK(compare_exact(in_a.data(), want.data(), count) == "");
      std::vector<float> in_b = b;
      bc.op(a.data(), in_b.data(), in_b.data(), count);
      CHECK(compare_exact(in_b.data(), want.data(), count) == "");
    }
  }
}

TEST_CASE("binary ops: negative counts throw, zero is a no-op") {
  float v = 1.0f;
  for (const BinaryCase& bc : kBinary) {
    CHECK_THROWS_AS(bc.op(&v, &v, &v, -1), skein::Error);
    bc.op(nullptr, nullptr, nullptr, 0);
  }
}

TEST_CASE("concat matches concat_ref exactly") {
  const std::vector<std::vector<int64_t>> width_sets = {
      {1}, {7, 1}, {16, 0, 17}, {63, 65, 1, 15}, {64, 64, 64, 64}};
  uint32_t seed = 700;
  for (const std::vector<int64_t>& widths : width_sets) {
    int64_t total = 0;
    for (int64_t w : widths) total += w;
    for (int64_t rows : kSizes) {
      INFO("rows=" << rows << " inputs=" << widths.size() << " total=" << total);
      std::vector<std::vector<float>> data;
      std::vector<const float*> inputs;
      for (int64_t w : widths) {
        data.push_back(random_floats(rows * w, seed++));
        inputs.push_back(data.back().data());
      }
      Guarded y(rows * total);
      std::vector<float> want(rows * total);
      concat(inputs, widths, rows, y.data());
      concat_ref(inputs, widths, rows, want.data());
      CHECK(same_bits(y.data(), want.data(), rows * total));
      CHECK(y.intact());
      // The reference itself: first and last feature land where expected.
      CHECK(want.front() == data.front().front());
      CHECK(want.back() == data.back().back());
    }
  }
}

TEST_CASE("concat: bad arguments throw skein::Error") {
  const std::vector<float> a(4, 1.0f);
  const std::vector<const float*> inputs = {a.data(), a.data()};
  const std::vector<int64_t> one_width = {2};
  const std::vector<int64_t> negative = {2, -2};
  const std::vector<int64_t> ok = {2, 2};
  float y[8];
  CHECK_THROWS_AS(concat(inputs, one_width, 1, y), skein::Error);
  CHECK_THROWS_AS(concat(inputs, negative, 1, y), skein::Error);
  CHECK_THROWS_AS(concat(inputs, ok, -1, y), skein::Error);
  CHECK_THROWS_AS(concat(inputs, ok, 1, nullptr), skein::Error);
  const std::vector<const float*> with_null = {a.data(), nullptr};
  CHECK_THROWS_AS(concat(with_null, ok, 1, y), skein::Error);
}

}  // namespace
