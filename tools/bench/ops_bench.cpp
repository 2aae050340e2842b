// Micro benchmark behind the oneDNN choices in engine/src/ops/linear.cpp:
// matmul with M (rows) fixed per primitive vs. M as a runtime dimension, and
// weights used in their [out, in] layout ("ba") vs. reordered into the layout
// oneDNN prefers (format_tag::any), plus skein's ops::Linear itself. Rerun it
// on new hardware: with AVX-512 / AMX oneDNN picks other kernels.
//
// Not part of the CMake build; from the repository root:
//   g++ -std=c++20 -O3 -march=native -fopenmp -Iengine/include -Iengine/src
//       tools/bench/ops_bench.cpp engine/src/ops/linear.cpp -ldnnl -o /tmp/ops_bench
//   OMP_NUM_THREADS=2 /tmp/ops_bench
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <vector>

#include <dnnl.hpp>

#include "ops/linear.h"

namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Fastest of repeated calls (at least 5, about 20 ms worth). The minimum, not
// the median: on a shared 2-core machine most samples include time the
// OpenMP team spent descheduled, the fastest one is the kernel's own time.
double best_ms(const std::function<void()>& call) {
  double best = 1e300;
  double total = 0.0;
  for (int calls = 0; calls < 5 || (total < 20.0 && calls < 5000); ++calls) {
    const auto t0 = Clock::now();
    call();
    const double t = ms_since(t0);
    best = std::min(best, t);
    total += t;
  }
  return best;
}

// One oneDNN configuration as a ready-to-time call; `build_ms` receives the
// time to create the primitive (and reorder the weights).
std::function<void()> make_matmul(const dnnl::engine& engine, dnnl::stream& stream, bool runtime_m,
                                  bool any_w, const std::vector<float>& x,
                                  const std::vector<float>& w, const std::vector<float>& b,
                                  std::vector<float>& y, int64_t m, int64_t k, int64_t n,
                                  double& build_ms) {
  const auto t0 = Clock::now();
  const int64_t pm = runtime_m ? DNNL_RUNTIME_DIM_VAL : m;
  const dnnl::memory::desc plain_w({k, n}, dt::f32, tag::ba);
  const dnnl::memory::desc bias_md({1, n}, dt::f32, tag::ab);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const dnnl::matmul::primitive_desc pd(
      dnnl::matmul::desc({{pm, k}, dt::f32, tag::ab},
                         any_w ? dnnl::memory::desc({k, n}, dt::f32, tag::any) : plain_w, bias_md,
                         {{pm, n}, dt::f32, tag::ab}),
      attr, engine);
  const dnnl::matmul matmul(pd);
  dnnl::memory weights(plain_w, engine, const_cast<float*>(w.data()));
  if (pd.weights_desc() != plain_w) {
    dnnl::memory reordered(pd.weights_desc(), engine);
    dnnl::reorder(weights, reordered).execute(stream, weights, reordered);
    stream.wait();
    weights = reordered;
  }
  build_ms = ms_since(t0);
  auto scratch = std::make_shared<std::vector<char>>(pd.scratchpad_desc().get_size());
  return [=, &engine, &stream, &x, &y] {
    const dnnl::memory src({{m, k}, dt::f32, tag::ab}, engine, const_cast<float*>(x.data()));
    const dnnl::memory dst({{m, n}, dt::f32, tag::ab}, engine, y.data());
    const dnnl::memory bias(bias_md, engine, const_cast<float*>(b.data()));
    const dnnl::memory pad(pd.scratchpad_desc(), engine, scratch->data());
    matmul.execute(stream, {{DNNL_ARG_SRC, src},
                            {DNNL_ARG_WEIGHTS, weights},
                            {DNNL_ARG_BIAS, bias},
                            {DNNL_ARG_DST, dst},
                            {DNNL_ARG_SCRATCHPAD, pad}});
    stream.wait();
  };
}

}  // namespace

int main() {
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const auto random = [&](int64_t size) {
    std::vector<float> v(static_cast<size_t>(size));
    for (float& f : v) f = dist(rng);
    return v;
  };
  std::printf("OpenMP threads %d; ms per call (fastest), [ms to build]\n", omp_get_max_threads());
  std::printf("%-9s %6s | %-16s %-16s %-16s %-16s | %s\n", "in->out", "rows", "fixedM/ba",
              "runtimeM/ba", "fixedM/any", "runtimeM/any", "ops::Linear");
  const int64_t shapes[][2] = {{64, 64}, {64, 128}, {128, 64}};
  for (const auto& shape : shapes) {
    const int64_t k = shape[0], n = shape[1];
    const std::vector<float> w = random(k * n), b = random(n);
    const skein::ops::Linear linear(w.data(), b.data(), k, n);
    for (const int64_t m : {1, 7, 1000, 4096, 65536}) {
      const std::vector<float> x = random(m * k);
      std::vector<float> y(static_cast<size_t>(m * n));
      std::printf("%3ld->%-4ld %6ld |", static_cast<long>(k), static_cast<long>(n),
                  static_cast<long>(m));
      std::vector<std::function<void()>> calls;
      std::vector<double> build(4, 0.0);
      for (const bool any_w : {false, true}) {
        for (const bool runtime_m : {false, true}) {
          calls.push_back(make_matmul(engine, stream, runtime_m, any_w, x, w, b, y, m, k, n,
                                      build[calls.size()]));
        }
      }
      calls.push_back([&] { linear.run(x.data(), y.data(), m); });
      // Interleaved rounds, so a burst of other load hits every variant alike.
      std::vector<double> best(calls.size(), 1e300);
      for (int round = 0; round < 5; ++round) {
        for (size_t c = 0; c < calls.size(); ++c) {
          calls[c]();
          best[c] = std::min(best[c], best_ms(calls[c]));
        }
      }
      for (size_t c = 0; c < 4; ++c) std::printf(" %7.4f [%5.2f]", best[c], build[c]);
      std::printf(" | %7.4f\n", best[4]);
    }
  }
}
