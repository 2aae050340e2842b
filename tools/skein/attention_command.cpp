// skein attention: one attention call on q, k, v from a safetensors file, for
// users and checks at the kernel level (no model). The input's padded
// [batch, heads, n, p] tensors are packed into the engine's layout
// ([tokens, heads * p], sequences without padding), the method named on the
// command line runs through make_attention(), and the result is unpacked into
// [batch, heads, n, p] with zero padding rows. --repeat and --json time the
// kernel alone: packing, file I/O and workspace allocation are outside the clock.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "attention/attention.h"
#include "commands.h"
#include "io/safetensors.h"
#include "skein/skein.h"

namespace skein::cli {
namespace {

// The checked input: q, k, v in the padded layout plus each row's real length.
struct QkvInput {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  int64_t batch = 0;
  int64_t heads = 0;
  int64_t n = 0;
  int64_t p = 0;
  std::vector<int64_t> lengths;  // real tokens per batch row
};

const TensorInfo& require_f32_4d(const SafetensorsFile& file, const std::string& name) {
  const TensorInfo* t = file.find(name);
  if (!t) throw Error(file.path() + ": no tensor '" + name + "'");
  const std::string where = file.path() + ": tensor '" + name + "'";
  if (t->dtype != Dtype::F32) {
    throw Error(where + " has dtype " + std::string(dtype_name(t->dtype)) + ", expected F32");
  }
  if (t->shape.size() != 4 ||
      std::any_of(t->shape.begin(), t->shape.end(), [](int64_t d) { return d < 1; })) {
    throw Error(where + " must have shape [batch, heads, n, p] with every dimension >= 1");
  }
  return *t;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

bool mask_at(const TensorInfo& t, int64_t i) {
  switch (t.dtype) {
    case Dtype::F32:
      return reinterpret_cast<const float*>(t.data)[i] != 0.0f;
    case Dtype::I32:
      return reinterpret_cast<const int32_t*>(t.data)[i] != 0;
    case Dtype::I64:
      return reinterpret_cast<const int64_t*>(t.data)[i] != 0;
    default:
      return false;
  }
}

QkvInput read_qkv(const SafetensorsFile& file) {
  const TensorInfo& q = require_f32_4d(file, "q");
  const TensorInfo& k = require_f32_4d(file, "k");
  const TensorInfo& v = require_f32_4d(file, "v");
  for (const TensorInfo* t : {&k, &v}) {
    if (t->shape != q.shape) {
      throw Error(file.path() + ": tensor '" + t->name + "' has shape " + shape_text(t->shape) +
                  ", expected the shape of 'q' " + shape_text(q.shape));
    }
  }
  QkvInput in;
  in.q = reinterpret_cast<const float*>(q.data);
  in.k = reinterpret_cast<const float*>(k.data);
  in.v = reinterpret_cast<const float*>(v.data);
  in.batch = q.shape[0];
  in.heads = q.shape[1];
  in.n = q.shape[2];
  in.p = q.shape[3];
  if (in.heads > std::numeric_limits<int>::max() || in.p > std::numeric_limits<int>::max()) {
    throw Error(file.path() + ": tensor 'q' has too many heads or too large a head dimension");
  }
  in.lengths.assign(static_cast<size_t>(in.batch), in.n);
  const TensorInfo* mask = file.find("mask");
  if (!mask) return in;
  const std::string where = file.path() + ": tensor 'mask'";
  if (mask->dtype != Dtype::I32 && mask->dtype != Dtype::I64 && mask->dtype != Dtype::F32) {
    throw Error(where + " has dtype " + std::string(dtype_name(mask->dtype)) +
                ", expected I32, I64 or F32");
  }
  if (mask->shape != std::vector<int64_t>{in.batch, in.n}) {
    throw Error(where + " has shape " + shape_text(mask->shape) +
                ", expected [batch, n] = " + shape_text({in.batch, in.n}));
  }
  for (int64_t b = 0; b < in.batch; ++b) {
    int64_t len = 0;
    while (len < in.n && mask_at(*mask, b * in.n + len)) ++len;
    for (int64_t t = len; t < in.n; ++t) {
      if (mask_at(*mask, b * in.n + t)) {
        throw Error(where + " row " + std::to_string(b) + ": real token at position " +
                    std::to_string(t) + " after padding; padding must follow the real tokens");
      }
    }
    if (len == 0) throw Error(where + " row " + std::to_string(b) + " has no real token");
    in.lengths[static_cast<size_t>(b)] = len;
  }
  return in;
}

// [batch, heads, n, p] (real rows only) -> [tokens, heads * p], and back.
void pack(const QkvInput& in, const float* src, std::span<const int64_t> offsets, float* dst) {
  const int64_t width = in.heads * in.p;
  for (int64_t b = 0; b < in.batch; ++b) {
    for (int64_t h = 0; h < in.heads; ++h) {
      for (int64_t t = 0; t < in.lengths[static_cast<size_t>(b)]; ++t) {
        std::memcpy(dst + (offsets[static_cast<size_t>(b)] + t) * width + h * in.p,
                    src + ((b * in.heads + h) * in.n + t) * in.p,
                    static_cast<size_t>(in.p) * sizeof(float));
      }
    }
  }
}

void unpack(const QkvInput& in, const float* src, std::span<const int64_t> offsets, float* dst) {
  const int64_t width = in.heads * in.p;
  for (int64_t b = 0; b < in.batch; ++b) {
    for (int64_t h = 0; h < in.heads; ++h) {
      for (int64_t t = 0; t < in.lengths[static_cast<size_t>(b)]; ++t) {
        std::memcpy(dst + ((b * in.heads + h) * in.n + t) * in.p,
                    src + (offsets[static_cast<size_t>(b)] + t) * width + h * in.p,
                    static_cast<size_t>(in.p) * sizeof(float));
      }
    }
  }
}

struct AlignedFree {
  void operator()(std::byte* p) const { ::operator delete (p, std::align_val_t{64}); }
};

}  // namespace

int attention_command(int argc, char** argv) {
  cxxopts::Options options(
      "skein attention",
      "Run one attention method on q, k, v from a safetensors file; write its output.");
  options.add_options()("method", "attention method (e.g. exact)", cxxopts::value<std::string>())(
      "features", "feature count of sampling methods (passed to the method only when given)",
      cxxopts::value<int64_t>())("seed", "seed of randomized methods",
                                 cxxopts::value<uint64_t>()->default_value("0"))(
      "qkv",
      "input safetensors: q, k, v f32 [batch, heads, n, p], optional mask [batch, n] "
      "(int32/int64/f32, nonzero = real token, padding after the real tokens), optional E f32 "
      "[heads, k, n] (linformer's projection)",
      cxxopts::value<std::string>())(
      "out", "output safetensors: out f32 [batch, heads, n, p], padding rows zero",
      cxxopts::value<std::string>())("repeat", "time R runs of the kernel after one warm-up run",
                                     cxxopts::value<int64_t>()->default_value("1"))(
      "json",
      "print {method, n, batch, heads, p, features, median_ms, min_ms, "
      "workspace_bytes, threads} on stdout")("t,threads", "threads (0 = all cores)",
                                             cxxopts::value<int>()->default_value("0"))(
      "h,help", "show this help");
  cxxopts::ParseResult args = options.parse(argc, argv);
  if (args.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return kExitOk;
  }
  if (!args.unmatched().empty()) throw Error("unexpected argument '" + args.unmatched()[0] + "'");
  for (const char* required : {"method", "qkv", "out"}) {
    if (!args.count(required)) throw Error(std::string("missing --") + required);
  }
  const int64_t repeat = args["repeat"].as<int64_t>();
  if (repeat < 1) throw Error("--repeat must be at least 1, got " + std::to_string(repeat));
  int threads = args["threads"].as<int>();
  if (threads < 0)
    throw Error("--threads must be >= 0 (0 = all cores), got " + std::to_string(threads));
  if (threads == 0) threads = omp_get_num_procs();
  std::optional<int64_t> features;
  if (args.count("features")) {
    features = args["features"].as<int64_t>();
    if (*features < 1)
      throw Error("--features must be at least 1, got " + std::to_string(*features));
  }
  const bool timed = args.count("repeat") > 0 || args.count("json") > 0;

  nlohmann::json spec = {{"method", args["method"].as<std::string>()}};
  if (features) spec["features"] = *features;
  std::unique_ptr<AttentionMethod> method = make_attention(spec);

  const SafetensorsFile file = SafetensorsFile::open(args["qkv"].as<std::string>());
  const QkvInput in = read_qkv(file);

  std::vector<int64_t> offsets(static_cast<size_t>(in.batch) + 1, 0);
  for (int64_t b = 0; b < in.batch; ++b) {
    offsets[static_cast<size_t>(b) + 1] =
        offsets[static_cast<size_t>(b)] + in.lengths[static_cast<size_t>(b)];
  }
  AttentionShape shape;
  shape.num_seqs = in.batch;
  shape.total_tokens = offsets.back();
  shape.max_len = *std::max_element(in.lengths.begin(), in.lengths.end());
  shape.num_heads = static_cast<int>(in.heads);
  shape.head_dim = static_cast<int>(in.p);

  // Optional learned sequence projection (Linformer's E) [heads, k, n].
  const TensorInfo* projection = file.find("E");
  if (projection) {
    const std::string where = file.path() + ": tensor 'E'";
    if (projection->dtype != Dtype::F32) {
      throw Error(where + " has dtype " + std::string(dtype_name(projection->dtype)) +
                  ", expected F32");
    }
    if (projection->shape.size() != 3 || projection->shape[0] != in.heads ||
        projection->shape[1] < 1 || projection->shape[2] != in.n) {
      throw Error(where + " has shape " + shape_text(projection->shape) +
                  ", expected [heads, k, n] = [" + std::to_string(in.heads) + ", k, " +
                  std::to_string(in.n) + "]");
    }
    shape.projection_rows = projection->shape[1];
  } else if (spec["method"] == "linformer") {
    std::fprintf(stderr,
                 "skein attention: no tensor 'E' in the input: linformer uses a random Gaussian "
                 "JL projection (std 1/sqrt(k)) drawn from --seed, not a learned one\n");
  }

  const size_t packed = static_cast<size_t>(shape.total_tokens * in.heads * in.p);
  std::vector<float> q(packed), k(packed), v(packed), out(packed);
  pack(in, in.q, offsets, q.data());
  pack(in, in.k, offsets, k.data());
  pack(in, in.v, offsets, v.data());

  omp_set_num_threads(threads);
  const size_t bytes = method->workspace_bytes(shape, threads);
  std::unique_ptr<std::byte, AlignedFree> workspace(
      static_cast<std::byte*>(::operator new (std::max<size_t>(bytes, 64), std::align_val_t{64})));
  const std::span<std::byte> ws(workspace.get(), bytes);

  AttentionProblem problem;
  problem.q = q.data();
  problem.k = k.data();
  problem.v = v.data();
  problem.out = out.data();
  problem.seq_offsets = offsets;
  problem.shape = shape;
  problem.seed = args["seed"].as<uint64_t>();
  problem.layer = 0;
  if (projection) {
    problem.projection = reinterpret_cast<const float*>(projection->data);
    problem.projection_len = projection->shape[2];
  }

  std::vector<double> ms;
  if (timed) method->run(problem, ws);  // warm-up
  for (int64_t r = 0; r < repeat; ++r) {
    const auto start = std::chrono::steady_clock::now();
    method->run(problem, ws);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  const double median =
      ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);

  std::vector<float> result(static_cast<size_t>(in.batch * in.heads * in.n * in.p), 0.0f);
  unpack(in, out.data(), offsets, result.data());
  write_safetensors(args["out"].as<std::string>(),
                    {{"out", Dtype::F32, {in.batch, in.heads, in.n, in.p}, result.data()}});

  if (args.count("json")) {
    nlohmann::ordered_json report;
    report["method"] = spec["method"];
    report["n"] = in.n;
    report["batch"] = in.batch;
    report["heads"] = in.heads;
    report["p"] = in.p;
    report["features"] = features ? nlohmann::ordered_json(*features) : nlohmann::ordered_json();
    report["median_ms"] = median;
    report["min_ms"] = ms.front();
    report["workspace_bytes"] = bytes;
    report["threads"] = threads;
    report["repeat"] = repeat;
    std::printf("%s\n", report.dump().c_str());
  } else if (timed) {
    std::printf(
        "%s: batch %lld, heads %lld, n %lld, p %lld, %d threads: median %.3f ms, min %.3f ms "
        "over %lld runs; workspace %zu bytes\n",
        spec["method"].get<std::string>().c_str(), static_cast<long long>(in.batch),
        static_cast<long long>(in.heads), static_cast<long long>(in.n),
        static_cast<long long>(in.p), threads, median, ms.front(), static_cast<long long>(repeat),
        bytes);
  }
  return kExitOk;
}

}  // namespace skein::cli
