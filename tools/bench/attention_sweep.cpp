// Attention-only length sweep (a benchmark, not a test): one sequence of n
// tokens, 2 heads, p = 32, d = 256 by default, n = 1K ... 1M. For each method
// and length it reports the median wall time over repeats (fewer repeats for
// long runs), GFLOP/s, percent of the FP32 peak that this program measures
// itself first (an FMA loop over many independent accumulators on every
// thread), and the workspace the method asks for; then the ratio of exact
// attention's time to each other method's. Exact attention stops at the first
// length whose single run exceeds --exact-limit seconds (default 60), or that
// the previous length's time, scaled quadratically, predicts would.
//
// FLOPs counted: what the method's flops() reports (exact 4·n²·p per head,
// Skeinformer 8·n·d·p per head); for a method that reports 0, the Skeinformer
// count with d = min(features, n − 1), nominal (marked in the note).
//
// On a shared machine wall time overstates the kernels' own cost. The bench
// therefore also reads CPU time: the peak per CPU-second of each FMA thread
// (what the cores do while they are ours), and for every measurement the
// share of `threads` cores the process actually got ("cpu%").
//
// Inputs: q, k, v with N(0, 1) entries from a fixed seed. Progress goes to
// stderr; the table (or with --json one JSON object) to stdout.
//
//   cmake --build build --target attention_sweep
//   build/tools/bench/attention_sweep [--methods skeinformer,exact] [--lengths 1024,4096]
//       [--features 256] [--heads 2] [--head-dim 32] [--threads 2] [--exact-limit 60]
//       [--budget 3] [--seed 1] [--json]
//
// With --kernels it times, instead, the panel kernels (engine/src/simd/panel_matmul)
// on one thread at the shapes of Skeinformer's second pilot pass over one head of
// the largest --lengths value: the scores of the pilot panels against each key
// block, and their product with the block's values, with the block copied into
// contiguous scratch first (as skeinformer.cpp does; the copy is timed too) or read
// in place; GFLOP/s and percent of the one-thread peak.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <immintrin.h>
#include <time.h>

#include <nlohmann/json.hpp>

#include "attention/attention.h"
#include "attention/dense_block.h"
#include "attention/exact.h"
#include "simd/panel_matmul.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU seconds consumed so far by the calling thread or by the whole process.
double cpu_seconds(clockid_t clock) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct Options {
  std::vector<std::string> methods;  // empty: skeinformer (if registered) and exact
  std::vector<int64_t> lengths{1024, 4096, 16384, 65536, 262144, 1048576};
  int64_t features = 256;
  int heads = 2;
  int head_dim = 32;
  int threads = 2;
  double exact_limit_s = 60.0;
  double budget_s = 3.0;  // timed seconds per (method, n) for short runs
  uint64_t seed = 1;
  bool json = false;
  bool kernels = false;
};

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr,
               "attention_sweep: %s\n"
               "usage: attention_sweep [--methods M1,M2] [--lengths N1,N2] [--features D] "
               "[--heads H] [--head-dim P] [--threads T] [--exact-limit S] [--budget S] "
               "[--seed S] [--json] [--kernels]\n",
               problem.c_str());
  std::exit(2);
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    if (comma > start) parts.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return parts;
}

int64_t parse_int(const std::string& flag, const std::string& text, int64_t min) {
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || value < min) {
    usage(flag + " needs an integer >= " + std::to_string(min) + ", got '" + text + "'");
  }
  return value;
}

double parse_seconds(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(value > 0)) {
    usage(flag + " needs a positive number of seconds, got '" + text + "'");
  }
  return value;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--json" || flag == "--kernels") {
      (flag == "--json" ? o.json : o.kernels) = true;
      continue;
    }
    if (flag == "--help" || flag == "-h") usage("help");
    if (i + 1 == argc) usage("missing value for " + flag);
    const std::string value = argv[++i];
    if (flag == "--methods") {
      o.methods = split(value);
      if (o.methods.empty()) usage("--methods is empty");
    } else if (flag == "--lengths") {
      o.lengths.clear();
      for (const std::string& n : split(value)) o.lengths.push_back(parse_int(flag, n, 1));
      if (o.lengths.empty()) usage("--lengths is empty");
      std::sort(o.lengths.begin(), o.lengths.end());
    } else if (flag == "--features") {
      o.features = parse_int(flag, value, 1);
    } else if (flag == "--heads") {
      o.heads = static_cast<int>(parse_int(flag, value, 1));
    } else if (flag == "--head-dim") {
      o.head_dim = static_cast<int>(parse_int(flag, value, 1));
    } else if (flag == "--threads") {
      o.threads = static_cast<int>(parse_int(flag, value, 1));
    } else if (flag == "--exact-limit") {
      o.exact_limit_s = parse_seconds(flag, value);
    } else if (flag == "--budget") {
      o.budget_s = parse_seconds(flag, value);
    } else if (flag == "--seed") {
      o.seed = static_cast<uint64_t>(parse_int(flag, value, 0));
    } else {
      usage("unknown option " + flag);
    }
  }
  return o;
}

// ---- FP32 peak ---------------------------------------------------------------

// kAcc independent FMA chains per thread; on Zen 3 (2 FMA pipes, latency 4)
// 8 are enough to fill both pipes, 12 leave headroom for other cores.
constexpr int kAcc = 12;

#if defined(__AVX512F__)
constexpr int kLanes = 16;
using Vec = __m512;
inline Vec vset(float x) {
  return _mm512_set1_ps(x);
}
inline Vec vfma(Vec a, Vec b, Vec c) {
  return _mm512_fmadd_ps(a, b, c);
}
inline float vsum(Vec a) {
  return _mm512_reduce_add_ps(a);
}
constexpr const char* kIsa = "AVX-512F FMA (16 lanes)";
#elif defined(__FMA__) && defined(__AVX2__)
constexpr int kLanes = 8;
using Vec = __m256;
inline Vec vset(float x) {
  return _mm256_set1_ps(x);
}
inline Vec vfma(Vec a, Vec b, Vec c) {
  return _mm256_fmadd_ps(a, b, c);
}
inline float vsum(Vec a) {
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, a);
  float s = 0.0f;
  for (float x : lanes) s += x;
  return s;
}
constexpr const char* kIsa = "AVX2 FMA3 (8 lanes)";
#else
#error "attention_sweep measures the FP32 peak with AVX2+FMA or AVX-512F; build with -march=native"
#endif

// One thread's FMA loop: `iters` × kAcc vector FMAs. Returns a sum so the
// compiler cannot drop the work.
__attribute__((noinline)) float fma_loop(int64_t iters, float seed) {
  Vec acc[kAcc];
  for (int a = 0; a < kAcc; ++a) acc[a] = vset(seed + 0.001f * static_cast<float>(a));
  const Vec mul = vset(0.999999f);
  const Vec add = vset(1e-7f);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (int a = 0; a < kAcc; ++a) acc[a] = vfma(acc[a], mul, add);
  }
  float s = 0.0f;
  for (int a = 0; a < kAcc; ++a) s += vsum(acc[a]);
  return s;
}

struct Peak {
  double wall_gflops = 0.0;  // flops / wall time: what the machine gave us
  double cpu_gflops = 0.0;   // threads × flops / CPU time per thread: cores while ours
};

// GFLOP/s of `threads` threads running the FMA loop at once: the best of
// `trials` runs of about `seconds` each (the best, since other load only slows it).
Peak measure_peak(int threads, double seconds, int trials) {
  // Calibrate the iteration count on one thread.
  int64_t iters = 1 << 20;
  volatile float sink = 0.0f;
  for (;;) {
    const auto start = Clock::now();
    sink = sink + fma_loop(iters, 1.0f);
    const double t = seconds_since(start);
    if (t > 0.05) {
      iters = static_cast<int64_t>(static_cast<double>(iters) * seconds / t);
      break;
    }
    iters *= 4;
  }
  Peak best;
  const double flops_per_thread = 2.0 * kLanes * kAcc * static_cast<double>(iters);
  for (int trial = 0; trial < trials; ++trial) {
    double elapsed = 0.0;
    float total = 0.0f;
    double cpu_rate = 0.0;  // sum over threads of flops per CPU second
#pragma omp parallel num_threads(threads) reduction(+ : total, cpu_rate)
    {
#pragma omp barrier
      const auto start = Clock::now();
      const double cpu_start = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
      total += fma_loop(iters, 1.0f + static_cast<float>(omp_get_thread_num()));
      cpu_rate += flops_per_thread / (cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu_start);
#pragma omp barrier
#pragma omp master
      elapsed = seconds_since(start);
    }
    sink = sink + total;
    best.wall_gflops = std::max(best.wall_gflops, flops_per_thread * threads / elapsed / 1e9);
    best.cpu_gflops = std::max(best.cpu_gflops, cpu_rate / 1e9);
  }
  return best;
}

// ---- attention runs ------------------------------------------------------------

struct AlignedFree {
  void operator()(std::byte* p) const { ::operator delete (p, std::align_val_t{64}); }
};

// N(0, 1) entries, filled in parallel chunks with their own generators so the
// values depend on the seed only.
void fill_normal(std::vector<float>& values, uint64_t seed) {
  constexpr size_t kChunk = 1 << 16;
  const int64_t chunks = static_cast<int64_t>((values.size() + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(c));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const size_t end = std::min(values.size(), static_cast<size_t>(c + 1) * kChunk);
    for (size_t i = static_cast<size_t>(c) * kChunk; i < end; ++i) values[i] = normal(rng);
  }
}

struct Result {
  std::string method;
  int64_t n = 0;
  int repeats = 0;
  double median_ms = 0.0;
  double min_ms = 0.0;
  double gflops = 0.0;
  double percent_of_peak = 0.0;
  double flops = 0.0;
  size_t workspace_bytes = 0;
  double cpu_ms_per_thread = 0.0;  // mean over runs of process CPU time / threads
  double cpu_share = 0.0;          // process CPU time / (wall time × threads) over the timed runs
  std::string note;                // why there is no time (skipped) or empty
};

// The method's own count, or (when it reports none) the nominal Skeinformer one.
double method_flops(const skein::AttentionMethod& method, int64_t n, const Options& o,
                    bool* nominal) {
  const std::vector<int64_t> offsets{0, n};
  const double counted = method.flops(offsets, o.heads, o.head_dim);
  *nominal = counted <= 0;
  if (counted > 0) return counted;
  const double d = static_cast<double>(std::min(o.features, std::max<int64_t>(n - 1, 0)));
  return 8.0 * static_cast<double>(n) * d * o.head_dim * o.heads;
}

// The method with features = D when it takes that parameter (exact does not).
std::unique_ptr<skein::AttentionMethod> make_method(const std::string& name, const Options& o) {
  if (name != "exact") {
    try {
      return skein::make_attention({{"method", name}, {"features", o.features}});
    } catch (const std::exception&) {
      // An unknown method fails again below with the registry's message; a
      // method without a "features" parameter is built without it.
    }
  }
  return skein::make_attention({{"method", name}});
}

Result run_one(const skein::AttentionMethod& method, const std::string& name, int64_t n,
               const Options& o) {
  const size_t count = static_cast<size_t>(n) * o.heads * o.head_dim;
  std::vector<float> q(count), k(count), v(count), out(count);
  fill_normal(q, o.seed * 3 + 0);
  fill_normal(k, o.seed * 3 + 1);
  fill_normal(v, o.seed * 3 + 2);
  const std::vector<int64_t> offsets{0, n};
  skein::AttentionProblem problem;
  problem.q = q.data();
  problem.k = k.data();
  problem.v = v.data();
  problem.out = out.data();
  problem.seq_offsets = offsets;
  problem.shape = {1, n, n, o.heads, o.head_dim};
  problem.seed = o.seed;
  problem.layer = 0;

  Result r;
  r.method = name;
  r.n = n;
  r.workspace_bytes = method.workspace_bytes(problem.shape, o.threads);
  std::unique_ptr<std::byte, AlignedFree> workspace(static_cast<std::byte*>(
      ::operator new (std::max<size_t>(r.workspace_bytes, 64), std::align_val_t{64})));
  const std::span<std::byte> ws(workspace.get(), r.workspace_bytes);

  std::vector<double> cpu_ms;
  auto timed_run = [&] {
    const double cpu_start = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
    const auto start = Clock::now();
    method.run(problem, ws);
    const double wall = seconds_since(start) * 1e3;
    cpu_ms.push_back((cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu_start) * 1e3 / o.threads);
    return wall;
  };
  std::fprintf(stderr, "  %-16s n = %8lld: warm-up ...", name.c_str(), static_cast<long long>(n));
  std::fflush(stderr);
  const double warmup_ms = timed_run();
  // Repeats: about `budget` seconds of them, at least 3 and at most 50; a run
  // longer than 10 s is timed once more only, and one longer than
  // --exact-limit not again (the warm-up is then the measurement).
  int repeats;
  if (warmup_ms / 1e3 > o.exact_limit_s) {
    repeats = 0;
  } else if (warmup_ms > 10e3) {
    repeats = 1;
  } else {
    repeats = static_cast<int>(std::clamp(o.budget_s * 1e3 / warmup_ms, 3.0, 50.0));
  }
  std::fprintf(stderr, " %.1f ms; %d repeat(s) ...", warmup_ms, repeats);
  std::fflush(stderr);
  std::vector<double> ms;
  const double warmup_cpu_ms = cpu_ms.back();
  cpu_ms.clear();  // not the warm-up's
  const double cpu_start = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
  for (int i = 0; i < repeats; ++i) ms.push_back(timed_run());
  double wall_ms = 0.0;
  for (double t : ms) wall_ms += t;
  if (repeats > 0) {
    r.cpu_share = (cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu_start) * 1e3 / (wall_ms * o.threads);
  }
  if (ms.empty()) {
    ms.push_back(warmup_ms);
    cpu_ms.push_back(warmup_cpu_ms);
    r.cpu_share = warmup_cpu_ms / warmup_ms;
    r.note = "single run (the warm-up)";
  }
  std::sort(ms.begin(), ms.end());
  // The mean, not the median: the kernel's CPU clock may tick coarsely (4 ms
  // here), and a mean over many runs averages that out.
  double cpu_total_ms = 0.0;
  for (double t : cpu_ms) cpu_total_ms += t;
  r.cpu_ms_per_thread = cpu_total_ms / static_cast<double>(cpu_ms.size());
  r.repeats = static_cast<int>(ms.size());
  r.median_ms =
      ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
  r.min_ms = ms.front();
  bool nominal = false;
  r.flops = method_flops(method, n, o, &nominal);
  r.gflops = r.flops / (r.median_ms * 1e6);
  if (nominal) r.note = r.note.empty() ? "8ndp count" : r.note + "; 8ndp count";
  bool finite = true;
  for (float x : out) finite = finite && std::isfinite(x);
  if (!finite) r.note += r.note.empty() ? "non-finite output" : "; non-finite output";
  std::fprintf(stderr, " median %.2f ms (%.0f%% of %d cores)\n", r.median_ms, 100.0 * r.cpu_share,
               o.threads);
  return r;
}

std::string human_bytes(size_t bytes) {
  char text[32];
  if (bytes >= (1u << 20)) {
    std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  } else {
    std::snprintf(text, sizeof text, "%.1f KiB", static_cast<double>(bytes) / 1024);
  }
  return text;
}

// ---- --kernels ---------------------------------------------------------------

// Median ms of `repeats` calls of `call` after one warm-up.
template <class Call>
double median_ms(int repeats, Call call) {
  call();
  std::vector<double> ms;
  for (int r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    call();
    ms.push_back(seconds_since(start) * 1e3);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

void kernel_table(const Options& o) {
  using skein::simd::kPanelWidth;
  using skein::simd::StridedMatrix;
  const auto n = static_cast<size_t>(o.lengths.back());
  const auto p = static_cast<size_t>(o.head_dim);
  const size_t ld = p * static_cast<size_t>(o.heads);
  const size_t dpad =
      (static_cast<size_t>(o.features) + kPanelWidth - 1) / kPanelWidth * kPanelWidth;
  const size_t block = skein::attn::kKeyBlock;
  std::mt19937 rng(static_cast<uint32_t>(o.seed));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto aligned = [](size_t count) {
    return std::unique_ptr<float[], decltype(&std::free)>(
        static_cast<float*>(std::aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64)),
        &std::free);
  };
  auto k = aligned(n * ld), v = aligned(n * ld), q_t = aligned(dpad * p);
  auto keys = aligned(block * p), values = aligned(block * p);
  auto probs = aligned(block * kPanelWidth), acc = aligned(dpad * p);
  for (size_t i = 0; i < n * ld; ++i) k[i] = normal(rng), v[i] = 0.01f * normal(rng);
  for (size_t i = 0; i < dpad * p; ++i) q_t[i] = 0.2f * normal(rng);
  for (size_t i = 0; i < block * kPanelWidth; ++i) probs[i] = 1e-3f;

  // Pass over one head's keys: for each block, every pilot panel's scores (depth p)
  // or its product with the block's values (depth = block keys).
  auto pass = [&](bool scores, bool in_place) {
    for (size_t key0 = 0; key0 < n; key0 += block) {
      const size_t rows = std::min(block, n - key0);
      const float* from = (scores ? k.get() : v.get()) + key0 * ld;
      if (!in_place) skein::attn::copy_rows(from, ld, rows, p, scores ? keys.get() : values.get());
      const auto stride = static_cast<ptrdiff_t>(in_place ? ld : p);
      for (size_t panel = 0; panel < dpad; panel += kPanelWidth) {
        if (scores) {
          const StridedMatrix b{in_place ? from : keys.get(), stride, 1};
          skein::simd::panel_matmul(q_t.get() + panel * p, kPanelWidth, b, rows, p, probs.get(),
                                    kPanelWidth);
        } else {
          const StridedMatrix b{in_place ? from : values.get(), 1, stride};
          skein::simd::panel_matmul(probs.get(), kPanelWidth, b, p, rows, acc.get() + panel * p,
                                    kPanelWidth);
        }
      }
    }
  };
  std::fprintf(stderr, "measuring the one-thread FP32 peak (%s) ...\n", kIsa);
  const Peak peak = measure_peak(1, 0.5, 5);
  std::printf(
      "panel kernels, 1 thread: n = %zu keys in blocks of %zu, %zu pilot rows, p = %zu, "
      "rows %zu floats apart in place\n",
      n, block, dpad, p, ld);
  std::printf("one-thread peak %.1f GFLOP/s (wall)\n", peak.wall_gflops);
  std::printf("%-34s %10s %9s %7s\n", "product", "median ms", "GFLOP/s", "%peak");
  const double flops =
      2.0 * static_cast<double>(n) * static_cast<double>(dpad) * static_cast<double>(p);
  for (const bool scores : {true, false}) {
    for (const bool in_place : {false, true}) {
      const double ms = median_ms(7, [&] { pass(scores, in_place); });
      const std::string name = std::string(scores ? "scores S = K·Q_J^T" : "B_J·V") +
                               (in_place ? ", rows in place" : ", rows copied");
      std::printf("%-34s %10.2f %9.1f %6.1f%%\n", name.c_str(), ms, flops / ms / 1e6,
                  100.0 * flops / ms / 1e6 / peak.wall_gflops);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  if (o.kernels) {
    kernel_table(o);
    return 0;
  }
  omp_set_num_threads(o.threads);
  if (o.methods.empty()) {
    try {
      skein::make_attention({{"method", "skeinformer"}});
      o.methods = {"skeinformer",   "nystrom",   "performer", "bigbird", "informer",
                   "informer-mask", "linformer", "vmean",     "exact"};
    } catch (const std::exception&) {
      o.methods = {"exact"};
    }
  }
  std::vector<std::unique_ptr<skein::AttentionMethod>> methods;
  try {
    for (const std::string& name : o.methods) methods.push_back(make_method(name, o));
  } catch (const std::exception& e) {
    usage(e.what());
  }

  // The peak is measured before and after the sweep; percentages use the
  // highest figure seen (wall or CPU time), the conservative choice when other
  // jobs share the cores.
  auto report_peak = [&](const char* when) {
    std::fprintf(stderr, "measuring the FP32 peak %s (%s, %d accumulators) ...\n", when, kIsa,
                 kAcc);
    const Peak one = measure_peak(1, 0.5, 5);
    const Peak all = measure_peak(o.threads, 0.5, 5);
    std::fprintf(stderr,
                 "  1 thread: %.1f GFLOP/s wall, %.1f per CPU-second; %d threads: %.1f wall, "
                 "%.1f per CPU-second\n",
                 one.wall_gflops, one.cpu_gflops, o.threads, all.wall_gflops, all.cpu_gflops);
    return std::pair<Peak, Peak>(one, all);
  };
  const auto [peak_1_before, peak_before] = report_peak("before the sweep");
  double peak = std::max(peak_before.wall_gflops, peak_before.cpu_gflops);

  std::vector<Result> results;
  std::map<std::string, double> last_ms;  // previous length's median, per method
  std::map<std::string, int64_t> last_n;
  std::map<std::string, bool> stopped;
  for (int64_t n : o.lengths) {
    for (size_t m = 0; m < methods.size(); ++m) {
      const std::string& name = o.methods[m];
      if (stopped[name]) continue;
      if (name == "exact" && last_n.count(name)) {
        const double ratio = static_cast<double>(n) / static_cast<double>(last_n[name]);
        const double predicted_s = last_ms[name] * ratio * ratio / 1e3;
        if (predicted_s > o.exact_limit_s) {
          Result r;
          r.method = name;
          r.n = n;
          char note[96];
          std::snprintf(note, sizeof note, "skipped: predicted %.1f s > %.1f s", predicted_s,
                        o.exact_limit_s);
          r.note = note;
          std::fprintf(stderr, "  %-16s n = %8lld: %s\n", name.c_str(), static_cast<long long>(n),
                       note);
          results.push_back(r);
          stopped[name] = true;
          continue;
        }
      }
      Result r = run_one(*methods[m], name, n, o);
      if (name == "exact" && r.median_ms / 1e3 > o.exact_limit_s) {
        r.note += r.note.empty() ? "" : "; ";
        r.note += "over the limit; longer lengths skipped";
        stopped[name] = true;
      }
      last_ms[name] = r.median_ms;
      last_n[name] = n;
      results.push_back(r);
    }
  }

  const auto [peak_1_after, peak_after] = report_peak("after the sweep");
  peak = std::max({peak, peak_after.wall_gflops, peak_after.cpu_gflops});
  for (Result& r : results) r.percent_of_peak = 100.0 * r.gflops / peak;
  // The same on CPU time: the kernel's rate while it had the cores against the
  // cores' rate while the FMA loop had them.
  const double cpu_peak = std::max(peak_before.cpu_gflops, peak_after.cpu_gflops);
  auto cpu_gflops = [](const Result& r) { return r.flops / (r.cpu_ms_per_thread * 1e6); };

  auto find = [&](const std::string& method, int64_t n) -> const Result* {
    for (const Result& r : results) {
      if (r.method == method && r.n == n && r.repeats > 0) return &r;
    }
    return nullptr;
  };

  if (o.json) {
    nlohmann::ordered_json report;
    report["isa"] = kIsa;
    report["threads"] = o.threads;
    report["peak_gflops"] = peak;
    report["cpu_peak_gflops"] = cpu_peak;
    auto peak_json = [](const Peak& p) {
      return nlohmann::ordered_json{{"wall_gflops", p.wall_gflops}, {"cpu_gflops", p.cpu_gflops}};
    };
    report["peak_before"] = {{"threads_1", peak_json(peak_1_before)},
                             {"threads_all", peak_json(peak_before)}};
    report["peak_after"] = {{"threads_1", peak_json(peak_1_after)},
                            {"threads_all", peak_json(peak_after)}};
    report["heads"] = o.heads;
    report["p"] = o.head_dim;
    report["features"] = o.features;
    report["rows"] = nlohmann::ordered_json::array();
    for (const Result& r : results) {
      nlohmann::ordered_json row;
      row["method"] = r.method;
      row["n"] = r.n;
      if (r.repeats > 0) {
        row["repeats"] = r.repeats;
        row["median_ms"] = r.median_ms;
        row["min_ms"] = r.min_ms;
        row["gflops"] = r.gflops;
        row["percent_of_peak"] = r.percent_of_peak;
        row["workspace_bytes"] = r.workspace_bytes;
        row["cpu_share"] = r.cpu_share;
        row["cpu_ms_per_thread"] = r.cpu_ms_per_thread;
        row["cpu_gflops"] = cpu_gflops(r);
        row["cpu_percent_of_peak"] = 100.0 * cpu_gflops(r) / cpu_peak;
        const Result* exact = find("exact", r.n);
        if (exact && r.method != "exact") row["exact_over_this"] = exact->median_ms / r.median_ms;
      }
      if (!r.note.empty()) row["note"] = r.note;
      report["rows"].push_back(row);
    }
    std::printf("%s\n", report.dump(2).c_str());
    return 0;
  }

  std::printf("attention sweep: batch 1, %d heads, p = %d, features d = %lld, %d threads\n",
              o.heads, o.head_dim, static_cast<long long>(o.features), o.threads);
  std::printf("measured FP32 peak (%s FMA loop), GFLOP/s wall / per CPU-second:\n", kIsa);
  std::printf("  before: %.1f / %.1f on %d threads, %.1f / %.1f on 1 thread\n",
              peak_before.wall_gflops, peak_before.cpu_gflops, o.threads, peak_1_before.wall_gflops,
              peak_1_before.cpu_gflops);
  std::printf("  after:  %.1f / %.1f on %d threads, %.1f / %.1f on 1 thread\n",
              peak_after.wall_gflops, peak_after.cpu_gflops, o.threads, peak_1_after.wall_gflops,
              peak_1_after.cpu_gflops);
  std::printf("  %%peak below is of the highest: %.1f GFLOP/s\n", peak);
  std::printf(
      "cpu%%: share of %d cores the process got during the timed runs; cpu_ms/T: "
      "mean of a run's process CPU time / %d (its time had the cores been ours);\n"
      "cpuGF/s, cpu%%pk: FLOPs / cpu_ms/T, against the per-CPU-second peak %.1f GFLOP/s\n",
      o.threads, o.threads, cpu_peak);
  std::printf(
      "FLOPs: the method's own count (exact 4*n^2*p per head); \"8ndp count\": the method "
      "reports none, counted 8*n*d*p per head, d = min(features, n-1)\n\n");
  std::printf("%-16s %8s %4s %11s %11s %8s %7s %5s %11s %8s %7s %10s %8s\n", "method", "n", "reps",
              "median_ms", "min_ms", "GFLOP/s", "%peak", "cpu%", "cpu_ms/T", "cpuGF/s", "cpu%pk",
              "workspace", "exact/it");
  for (const Result& r : results) {
    if (r.repeats == 0) {
      std::printf("%-16s %8lld  %s\n", r.method.c_str(), static_cast<long long>(r.n),
                  r.note.c_str());
      continue;
    }
    std::string ratio = "-";
    const Result* exact = find("exact", r.n);
    if (exact && r.method != "exact") {
      char text[32];
      std::snprintf(text, sizeof text, "%.1fx", exact->median_ms / r.median_ms);
      ratio = text;
    }
    std::printf(
        "%-16s %8lld %4d %11.2f %11.2f %8.1f %6.1f%% %4.0f%% %11.2f %8.1f %6.1f%% %10s %8s%s%s\n",
        r.method.c_str(), static_cast<long long>(r.n), r.repeats, r.median_ms, r.min_ms, r.gflops,
        r.percent_of_peak, 100.0 * r.cpu_share, r.cpu_ms_per_thread, cpu_gflops(r),
        100.0 * cpu_gflops(r) / cpu_peak, human_bytes(r.workspace_bytes).c_str(), ratio.c_str(),
        r.note.empty() ? "" : "  ", r.note.c_str());
  }
  return 0;
}
