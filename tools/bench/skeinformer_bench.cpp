// Skeinformer attention throughput: one sequence, 2 heads, p = 32, d = 256
// by default; median wall time over repeats and GFLOP/s counted as 8·n·d·p
// per head. Standalone (not a CMake target); build and run:
//   c++ -O3 -march=native -fopenmp -std=c++20 -Iengine/src -Iengine/include
//       tools/bench/skeinformer_bench.cpp build-sk/libskein_engine.a -ldnnl -o /tmp/skein_bench
//   OMP_NUM_THREADS=2 /tmp/skein_bench [method] [n...]
#include <omp.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attention/attention.h"
#include "attention/skeinformer.h"

int main(int argc, char** argv) {
  const std::string method_name = argc > 1 ? argv[1] : "skeinformer";
  std::vector<int64_t> lengths;
  for (int i = 2; i < argc; ++i) lengths.push_back(std::atoll(argv[i]));
  if (lengths.empty()) lengths = {4096, 16384, 65536};
  constexpr int kHeads = 2, kP = 32;
  constexpr int64_t kFeatures = 256;
  nlohmann::json spec{{"method", method_name}};
  if (method_name != "exact" && method_name != "vmean") spec["features"] = kFeatures;
  const auto method = skein::make_attention(spec);
  const int threads = omp_get_max_threads();
  std::printf("method %s, heads %d, p %d, d %lld, threads %d\n", method_name.c_str(), kHeads, kP,
              static_cast<long long>(kFeatures), threads);
  // cpu_ms: process CPU time of the median-CPU run (all threads); on a shared
  // host, GFLOP/s per CPU-second (cpu_GF/core) is the steadier measure.
  std::printf("%8s %10s %10s %10s %10s %12s %12s\n", "n", "median_ms", "min_ms", "GFLOP/s",
              "cpu_ms", "cpu_GF/core", "workspace_B");
  for (int64_t n : lengths) {
    const size_t count = static_cast<size_t>(n) * kHeads * kP;
    std::vector<float> q(count), k(count), v(count), out(count);
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (auto* x : {&q, &k, &v}) {
      for (float& value : *x) value = normal(rng);
    }
    std::vector<int64_t> offsets{0, n};
    skein::AttentionProblem problem;
    problem.q = q.data();
    problem.k = k.data();
    problem.v = v.data();
    problem.out = out.data();
    problem.seq_offsets = offsets;
    problem.shape = {1, n, n, kHeads, kP};
    problem.seed = 7;
    const size_t bytes = method->workspace_bytes(problem.shape, threads);
    auto* ws = static_cast<std::byte*>(::operator new (std::max<size_t>(bytes, 64), std::align_val_t{64}));
    std::vector<double> ms, cpu_ms;
    auto cpu_now = [] {
      timespec ts;
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
      return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
    };
    method->run(problem, {ws, bytes});  // warm-up
    const auto start = std::chrono::steady_clock::now();
    while (ms.size() < 5 || (ms.size() < 50 && std::chrono::steady_clock::now() - start <
                                                   std::chrono::seconds(3))) {
      const auto t0 = std::chrono::steady_clock::now();
      const double c0 = cpu_now();
      method->run(problem, {ws, bytes});
      cpu_ms.push_back(cpu_now() - c0);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    ::operator delete (ws, std::align_val_t{64});
    std::sort(ms.begin(), ms.end());
    std::sort(cpu_ms.begin(), cpu_ms.end());
    const double median = ms[ms.size() / 2];
    // Exact attention (for comparison) counts 4·n²·p per head.
    const double flops = method_name == "exact"
                             ? 4.0 * static_cast<double>(n) * static_cast<double>(n) * kP * kHeads
                             : skein::skeinformer_flops(offsets, kHeads, kP, kFeatures);
    const double cpu = cpu_ms[cpu_ms.size() / 2];
    std::printf("%8lld %10.2f %10.2f %10.1f %10.2f %12.1f %12zu\n", static_cast<long long>(n), median,
                ms.front(), flops / (median * 1e6), cpu, flops / (cpu * 1e6), bytes);
  }
  return 0;
}
