// skein approx: how well each attention method approximates exact softmax
// attention, as in the Skeinformer paper's Figure 1. For every sequence length
// n, every trial and every method of the registry (exact is the reference),
// q, k and v come from a window of real text bytes through a freshly drawn
// random byte embedding, position embedding and projections; the error is the
// relative spectral norm ‖exact − approx‖₂ / ‖exact‖₂ of the attention output
// (one head, computed in double). Reports the mean ± standard error over the
// trials per (n, method, feature count d).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <new>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "attention/attention.h"
#include "commands.h"
#include "core/spectral_norm.h"
#include "method_names.h"
#include "skein/skein.h"
#include "svg_plot.h"

namespace skein::cli {
namespace {

using nlohmann::ordered_json;

struct Options {
  std::string text_path;
  std::vector<int64_t> lengths;
  std::vector<int64_t> features;
  std::vector<std::string> methods;
  int trials = 30;
  int64_t dim = 64;
  int64_t head_dim = 32;
  double qk_gain = 1.0;
  uint64_t seed = 1;
  int threads = 0;
};

std::vector<std::string> split_list(const std::string& text, const std::string& flag) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) throw Error(flag + ": empty item in '" + text + "'");
    out.push_back(item);
  }
  if (out.empty()) throw Error(flag + ": empty list");
  return out;
}

int64_t positive(const std::string& text, const std::string& flag) {
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || v < 1) {
    throw Error(flag + ": expected a positive integer, got '" + text + "'");
  }
  return v;
}

std::vector<uint8_t> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the text file");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(path + ": read error");
  return bytes;
}

struct AlignedFree {
  void operator()(std::byte* p) const {
    ::operator delete (p, std::align_val_t{kWorkspaceAlignment});
  }
};

// q, k, v of one trial: [n, p] each, one head.
struct Qkv {
  std::vector<float> q, k, v;
};

// A window of n text bytes at a random offset, through a random byte embedding
// (N(0, 1)), position embedding (N(0, 0.3²)) and projections (N(0, 1/dim)); q
// and k scaled by qk_gain (1 = the plain random initialisation).
Qkv make_qkv(const std::vector<uint8_t>& text, int64_t n, const Options& o, std::mt19937_64& rng) {
  const auto dim = static_cast<size_t>(o.dim), p = static_cast<size_t>(o.head_dim);
  const auto rows = static_cast<size_t>(n);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> embed(256 * dim), pos(rows * dim), wq(dim * p), wk(dim * p), wv(dim * p);
  for (auto* m : {&embed, &pos, &wq, &wk, &wv}) {
    for (float& x : *m) x = normal(rng);
  }
  for (float& x : pos) x *= 0.3f;
  std::uniform_int_distribution<size_t> start(0, text.size() - rows);
  const size_t offset = start(rng);
  const float proj = 1.0f / std::sqrt(static_cast<float>(dim));
  const auto gain = static_cast<float>(o.qk_gain);
  Qkv out{std::vector<float>(rows * p), std::vector<float>(rows * p), std::vector<float>(rows * p)};
  std::vector<float> x(dim);
  for (size_t i = 0; i < rows; ++i) {
    const size_t byte = text[offset + i];
    for (size_t e = 0; e < dim; ++e) x[e] = embed[byte * dim + e] + pos[i * dim + e];
    for (size_t c = 0; c < p; ++c) {
      float q = 0, k = 0, v = 0;
      for (size_t e = 0; e < dim; ++e) {
        q += x[e] * wq[e * p + c];
        k += x[e] * wk[e * p + c];
        v += x[e] * wv[e * p + c];
      }
      out.q[i * p + c] = q * proj * gain;
      out.k[i * p + c] = k * proj * gain;
      out.v[i * p + c] = v * proj;
    }
  }
  return out;
}

std::vector<float> run_attention(const AttentionMethod& method, const Qkv& in, int64_t n,
                                 const Options& o, uint64_t seed) {
  const std::vector<int64_t> offsets{0, n};
  std::vector<float> out(in.q.size());
  AttentionProblem problem;
  problem.q = in.q.data();
  problem.k = in.k.data();
  problem.v = in.v.data();
  problem.out = out.data();
  problem.seq_offsets = offsets;
  problem.shape = {1, n, n, 1, static_cast<int>(o.head_dim)};
  problem.seed = seed;
  const size_t bytes = method.workspace_bytes(problem.shape, o.threads);
  std::unique_ptr<std::byte, AlignedFree> workspace(static_cast<std::byte*>(::operator new (
      std::max(aligned_size(bytes), kWorkspaceAlignment), std::align_val_t{kWorkspaceAlignment})));
  method.run(problem, std::span<std::byte>(workspace.get(), bytes));
  return out;
}

struct Cell {
  std::vector<double> errors;  // one per trial
  double mean() const {
    double s = 0;
    for (double e : errors) s += e;
    return s / static_cast<double>(errors.size());
  }
  // Sample standard deviation / √trials.
  double standard_error() const {
    if (errors.size() < 2) return 0;
    const double m = mean();
    double ss = 0;
    for (double e : errors) ss += (e - m) * (e - m);
    return std::sqrt(ss / static_cast<double>(errors.size() - 1) /
                     static_cast<double>(errors.size()));
  }
};

// One approximate method at one feature count (0 = the method takes none).
struct Variant {
  std::string method;
  int64_t features = 0;
  std::unique_ptr<AttentionMethod> impl;
};

std::string mean_pm(const Cell& c) {
  char text[48];
  std::snprintf(text, sizeof text, "%.4f ± %.4f", c.mean(), c.standard_error());
  return text;
}

}  // namespace

int approx_command(int argc, char** argv) {
  cxxopts::Options options(
      "skein approx",
      "Relative spectral-norm error of every attention method against exact attention on "
      "q, k, v from real text (the Skeinformer paper's Figure 1).");
  // clang-format off
  options.add_options()
      ("text", "text file whose bytes feed the random embedding (at least n bytes)", cxxopts::value<std::string>())
      ("n,seq-len", "comma-separated sequence lengths", cxxopts::value<std::string>()->default_value("1024,4096"))
      ("d,features", "comma-separated feature counts d", cxxopts::value<std::string>()->default_value("8,16,32,64,128,256"))
      ("methods", "comma-separated methods (default: every registered method but exact)", cxxopts::value<std::string>()->default_value(""))
      ("trials", "trials per configuration: fresh text window, weights and method seed", cxxopts::value<int>()->default_value("30"))
      ("dim", "embedding width", cxxopts::value<int64_t>()->default_value("64"))
      ("head-dim", "head dimension p of q, k, v", cxxopts::value<int64_t>()->default_value("32"))
      ("qk-gain", "scale of q and k (larger: more peaked attention)", cxxopts::value<double>()->default_value("1"))
      ("seed", "seed of the weights, windows and methods", cxxopts::value<uint64_t>()->default_value("1"))
      ("t,threads", "threads of the attention kernels (0 = all cores)", cxxopts::value<int>()->default_value("0"))
      ("json", "print JSON instead of the table")
      ("csv", "print CSV (one row per n, method and d) instead of the table")
      ("svg", "write an SVG plot to FILE: error against d per method, one panel per n", cxxopts::value<std::string>())
      ("h,help", "show this help");
  // clang-format on
  cxxopts::ParseResult args = options.parse(argc, argv);
  if (args.count("help")) {
    std::printf("%s\n", options.help().c_str());
    std::printf(
        "Each trial draws a window of n bytes of the text, a byte embedding N(0,1), a position\n"
        "embedding N(0,0.09) and projections N(0,1/dim) to one head's q, k, v; runs exact\n"
        "attention and every method at every d on them; and records ‖exact − approx‖₂ /\n"
        "‖exact‖₂ (power iteration in double). Methods without a feature count are run once.\n"
        "Output: mean ± standard error over the trials. Progress goes to stderr.\n");
    return kExitOk;
  }
  if (!args.count("text"))
    throw Error("missing --text FILE (any long text, e.g. /usr/share/common-licenses/GPL-3)");
  if (args.count("json") && args.count("csv")) throw Error("give at most one of --json and --csv");
  Options o;
  o.text_path = args["text"].as<std::string>();
  for (const std::string& s : split_list(args["seq-len"].as<std::string>(), "--seq-len")) {
    o.lengths.push_back(positive(s, "--seq-len"));
  }
  for (const std::string& s : split_list(args["features"].as<std::string>(), "--features")) {
    o.features.push_back(positive(s, "--features"));
  }
  std::sort(o.features.begin(), o.features.end());
  o.features.erase(std::unique(o.features.begin(), o.features.end()), o.features.end());
  o.trials = args["trials"].as<int>();
  o.dim = args["dim"].as<int64_t>();
  o.head_dim = args["head-dim"].as<int64_t>();
  o.qk_gain = args["qk-gain"].as<double>();
  o.seed = args["seed"].as<uint64_t>();
  o.threads = args["threads"].as<int>();
  if (o.trials < 1) throw Error("--trials must be at least 1");
  if (o.dim < 1 || o.head_dim < 1) throw Error("--dim and --head-dim must be at least 1");
  if (!(o.qk_gain > 0) || !std::isfinite(o.qk_gain)) throw Error("--qk-gain must be positive");
  if (o.threads < 0) throw Error("--threads must be at least 0");
  if (o.threads == 0) o.threads = omp_get_num_procs();
  omp_set_num_threads(o.threads);

  if (args["methods"].as<std::string>().empty()) {
    for (const std::string& m : attention_method_names()) {
      if (m != "exact") o.methods.push_back(m);
    }
  } else {
    o.methods = split_list(args["methods"].as<std::string>(), "--methods");
  }
  const std::vector<uint8_t> text = read_text(o.text_path);
  const int64_t longest = *std::max_element(o.lengths.begin(), o.lengths.end());
  if (static_cast<int64_t>(text.size()) < longest) {
    throw Error(o.text_path + ": " + std::to_string(text.size()) +
                " bytes, fewer than the longest --seq-len " + std::to_string(longest));
  }

  // Every (method, d) to run; a method the registry cannot build is named and
  // skipped, not fatal (a method needing more than a feature count, say).
  std::vector<Variant> variants;
  ordered_json skipped = ordered_json::array();
  for (const std::string& m : o.methods) {
    try {
      if (takes_features(m)) {
        for (int64_t d : o.features) {
          variants.push_back({m, d, make_attention({{"method", m}, {"features", d}})});
        }
      } else {
        variants.push_back({m, 0, make_attention({{"method", m}})});
      }
    } catch (const Error& e) {
      if (!args["methods"].as<std::string>().empty()) throw;
      std::fprintf(stderr, "skipping %s: %s\n", m.c_str(), e.what());
      skipped.push_back({{"method", m}, {"reason", e.what()}});
      while (!variants.empty() && variants.back().method == m) variants.pop_back();
    }
  }
  const auto exact = make_attention({{"method", "exact"}});

  // cells[n][variant index]
  std::map<int64_t, std::vector<Cell>> cells;
  for (int64_t n : o.lengths) {
    cells[n].resize(variants.size());
    std::mt19937_64 rng(o.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(n));
    for (int t = 0; t < o.trials; ++t) {
      const auto start = std::chrono::steady_clock::now();
      std::fprintf(stderr, "n = %lld: trial %d/%d ...", static_cast<long long>(n), t + 1, o.trials);
      std::fflush(stderr);
      const Qkv in = make_qkv(text, n, o, rng);
      const uint64_t method_seed = o.seed * 1000003ull + static_cast<uint64_t>(t);
      const std::vector<float> reference = run_attention(*exact, in, n, o, method_seed);
      for (size_t i = 0; i < variants.size(); ++i) {
        const std::vector<float> approx = run_attention(*variants[i].impl, in, n, o, method_seed);
        cells[n][i].errors.push_back(relative_spectral_error(
            reference, approx, static_cast<size_t>(n), static_cast<size_t>(o.head_dim)));
      }
      std::fprintf(stderr, " %.2f s\n",
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }

  // A method without a feature count has one cell, shown at every d.
  auto cell_at = [&](int64_t n, const std::string& method, int64_t d) -> const Cell* {
    for (size_t i = 0; i < variants.size(); ++i) {
      if (variants[i].method == method &&
          (variants[i].features == d || variants[i].features == 0)) {
        return &cells[n][i];
      }
    }
    return nullptr;
  };
  std::vector<std::string> methods;  // those that ran, in order
  for (const Variant& v : variants) {
    if (methods.empty() || methods.back() != v.method) methods.push_back(v.method);
  }

  if (args.count("json")) {
    ordered_json out;
    out["text"] = o.text_path;
    out["text_bytes"] = text.size();
    out["dim"] = o.dim;
    out["head_dim"] = o.head_dim;
    out["qk_gain"] = o.qk_gain;
    out["trials"] = o.trials;
    out["seed"] = o.seed;
    out["threads"] = o.threads;
    out["rows"] = ordered_json::array();
    for (int64_t n : o.lengths) {
      for (const std::string& m : methods) {
        for (int64_t d : o.features) {
          const Cell& c = *cell_at(n, m, d);
          out["rows"].push_back({{"n", n},
                                 {"method", m},
                                 {"features", d},
                                 {"takes_features", takes_features(m)},
                                 {"trials", c.errors.size()},
                                 {"mean", c.mean()},
                                 {"stderr", c.standard_error()},
                                 {"min", *std::min_element(c.errors.begin(), c.errors.end())},
                                 {"max", *std::max_element(c.errors.begin(), c.errors.end())}});
        }
      }
    }
    out["skipped"] = skipped;
    std::printf("%s\n", out.dump(2).c_str());
  } else if (args.count("csv")) {
    std::printf("n,method,features,takes_features,trials,mean,stderr,min,max\n");
    for (int64_t n : o.lengths) {
      for (const std::string& m : methods) {
        for (int64_t d : o.features) {
          const Cell& c = *cell_at(n, m, d);
          std::printf("%lld,%s,%lld,%d,%zu,%.6g,%.6g,%.6g,%.6g\n", static_cast<long long>(n),
                      m.c_str(), static_cast<long long>(d), takes_features(m) ? 1 : 0,
                      c.errors.size(), c.mean(), c.standard_error(),
                      *std::min_element(c.errors.begin(), c.errors.end()),
                      *std::max_element(c.errors.begin(), c.errors.end()));
        }
      }
    }
  } else {
    std::printf(
        "relative spectral-norm error ||exact - approx||_2 / ||exact||_2, mean ± standard error "
        "over %d trials\n(text %s; embedding dim %lld, one head, p = %lld, qk gain %g, seed "
        "%llu; * = no feature count, one value)\n",
        o.trials, o.text_path.c_str(), static_cast<long long>(o.dim),
        static_cast<long long>(o.head_dim), o.qk_gain, static_cast<unsigned long long>(o.seed));
    for (int64_t n : o.lengths) {
      std::printf("\nn = %lld\n%-18s", static_cast<long long>(n), "method");
      for (int64_t d : o.features) {
        std::printf(" %17s", ("d = " + std::to_string(d)).c_str());
      }
      std::printf("\n");
      for (const std::string& m : methods) {
        std::printf("%-18s", (m + (takes_features(m) ? "" : " *")).c_str());
        for (int64_t d : o.features) std::printf(" %18s", mean_pm(*cell_at(n, m, d)).c_str());
        std::printf("\n");
      }
    }
  }

  if (args.count("svg")) {
    std::vector<Panel> panels;
    for (int64_t n : o.lengths) {
      Panel panel;
      panel.title = "n = " + std::to_string(n);
      panel.x = {"features d", AxisScale::kLog, true};
      panel.y = {"relative spectral-norm error", AxisScale::kLog, false};
      for (const std::string& m : methods) {
        Series s{m, {}, {}, {}};
        for (int64_t d : o.features) {
          const Cell& c = *cell_at(n, m, d);
          s.x.push_back(static_cast<double>(d));
          s.y.push_back(c.mean());
          s.err.push_back(c.standard_error());
        }
        panel.series.push_back(std::move(s));
      }
      panels.push_back(std::move(panel));
    }
    write_svg(args["svg"].as<std::string>(),
              "attention approximation error, mean ± s.e. over " + std::to_string(o.trials) +
                  " trials (p = " + std::to_string(o.head_dim) + ")",
              panels);
  }
  return kExitOk;
}

}  // namespace skein::cli
