// Exact-attention throughput on long single sequences: median wall time over
// repeats, GFLOP/s (4·n²·p per head) and the fraction of the machine's FP32
// peak. Usage: attention_bench [--threads N] [--peak GFLOPS] [--seconds S]
//                                [--n N] [--head-dim P]   (one configuration only)
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "attention/exact.h"

namespace {

struct Options {
  int threads = 2;
  double peak_gflops = 530.0;  // 2 Zen 5 cores with AVX-512 FMA, as the project quotes it
  double seconds = 2.0;        // per configuration, at least 3 repeats
  int64_t only_n = 0;          // 0: 1024, 4096 and 16384
  int only_head_dim = 0;       // 0: 32 and 64
};

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: attention_bench [--threads N] [--peak GFLOPS] [--seconds S] [--n N] "
               "[--head-dim P]\n");
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 == argc) usage();
    if (std::strcmp(argv[i], "--threads") == 0) {
      options.threads = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--peak") == 0) {
      options.peak_gflops = std::atof(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--seconds") == 0) {
      options.seconds = std::atof(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--n") == 0) {
      options.only_n = std::atoll(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--head-dim") == 0) {
      options.only_head_dim = std::atoi(argv[i + 1]);
    } else {
      usage();
    }
  }
  return options;
}

struct AlignedFree {
  void operator()(std::byte* p) const { ::operator delete (p, std::align_val_t{64}); }
};

void bench(int64_t n, int heads, int head_dim, const Options& options) {
  const size_t count = static_cast<size_t>(n) * heads * head_dim;
  std::vector<float> q(count), k(count), v(count), out(count);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (auto* values : {&q, &k, &v}) {
    for (float& x : *values) x = uniform(rng);
  }
  const std::vector<int64_t> offsets{0, n};
  const skein::AttentionShape shape{1, n, n, heads, head_dim};
  const skein::AttentionProblem problem{q.data(), k.data(), v.data(), out.data(), offsets, shape};

  const skein::ExactAttention exact;
  const size_t bytes = exact.workspace_bytes(shape, options.threads);
  std::unique_ptr<std::byte, AlignedFree> workspace(
      static_cast<std::byte*>(::operator new (bytes, std::align_val_t{64})));

  exact.run(problem, {workspace.get(), bytes});  // warm-up
  std::vector<double> ms;
  double total = 0.0;
  while (ms.size() < 3 || (total < options.seconds * 1e3 && ms.size() < 50)) {
    const auto start = std::chrono::steady_clock::now();
    exact.run(problem, {workspace.get(), bytes});
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
    total += ms.back();
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2];
  const double gflops = skein::exact_attention_flops(offsets, heads, head_dim) / (median * 1e6);
  std::printf("%6lld %5d %8d %8zu %10.2f %10.2f %9.1f %8.1f%%\n", static_cast<long long>(n), heads,
              head_dim, ms.size(), median, ms.front(), gflops,
              100.0 * gflops / options.peak_gflops);
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  omp_set_num_threads(options.threads);
  std::printf("exact attention, %d threads, one sequence per run; %% of %.0f GFLOP/s\n",
              options.threads, options.peak_gflops);
  std::printf("%6s %5s %8s %8s %10s %10s %9s %9s\n", "n", "heads", "head_dim", "repeats",
              "median_ms", "min_ms", "GFLOP/s", "of_peak");
  for (int head_dim : {32, 64}) {
    if (options.only_head_dim != 0 && head_dim != options.only_head_dim) continue;
    for (int64_t n : {1024, 4096, 16384}) {
      if (options.only_n == 0 || n == options.only_n) bench(n, 2, head_dim, options);
    }
  }
}
