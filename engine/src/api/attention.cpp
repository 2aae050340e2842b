// skein::attention(): the padded [batch, heads, n, p] tensors are packed into
// the engine's layout ([tokens, heads * p], sequences without padding), the
// method runs through make_attention(), and its output is unpacked with zero
// padding rows.
#include "skein/attention.h"

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <vector>

#include <nlohmann/json.hpp>

#include "attention/attention.h"
#include "skein/error.h"

namespace skein {
namespace {

struct AlignedFree {
  void operator()(std::byte* p) const {
    ::operator delete (p, std::align_val_t{kWorkspaceAlignment});
  }
};

// Copies the real rows between the padded layout and the packed one.
enum class Direction { kPack, kUnpack };

void copy_rows(const AttentionDims& d, std::span<const int64_t> lengths,
               std::span<const int64_t> offsets, const float* src, float* dst, Direction dir) {
  const int64_t width = d.heads * d.head_dim;
  const size_t row_bytes = static_cast<size_t>(d.head_dim) * sizeof(float);
  for (int64_t b = 0; b < d.batch; ++b) {
    for (int64_t h = 0; h < d.heads; ++h) {
      for (int64_t t = 0; t < lengths[static_cast<size_t>(b)]; ++t) {
        const int64_t padded = ((b * d.heads + h) * d.n + t) * d.head_dim;
        const int64_t packed = (offsets[static_cast<size_t>(b)] + t) * width + h * d.head_dim;
        if (dir == Direction::kPack) {
          std::memcpy(dst + packed, src + padded, row_bytes);
        } else {
          std::memcpy(dst + padded, src + packed, row_bytes);
        }
      }
    }
  }
}

void check_dims(const AttentionDims& d, std::span<const int64_t> lengths) {
  if (d.batch < 1 || d.heads < 1 || d.n < 1 || d.head_dim < 1) {
    throw Error("attention: shape [batch, heads, n, p] = [" + std::to_string(d.batch) + ", " +
                std::to_string(d.heads) + ", " + std::to_string(d.n) + ", " +
                std::to_string(d.head_dim) + "] must have every dimension >= 1");
  }
  if (d.heads > std::numeric_limits<int>::max() || d.head_dim > std::numeric_limits<int>::max()) {
    throw Error("attention: too many heads or too large a head dimension");
  }
  if (!lengths.empty() && static_cast<int64_t>(lengths.size()) != d.batch) {
    throw Error("attention: " + std::to_string(lengths.size()) + " lengths for batch " +
                std::to_string(d.batch));
  }
  for (size_t b = 0; b < lengths.size(); ++b) {
    if (lengths[b] < 1 || lengths[b] > d.n) {
      throw Error("attention: length " + std::to_string(lengths[b]) + " of row " +
                  std::to_string(b) + " is outside [1, n = " + std::to_string(d.n) + "]");
    }
  }
}

}  // namespace

void attention(const float* q, const float* k, const float* v, float* out,
               const AttentionDims& dims, std::span<const int64_t> lengths,
               const AttentionOptions& options) {
  check_dims(dims, lengths);
  if (options.features < 0) {
    throw Error("attention: features must be >= 0, got " + std::to_string(options.features));
  }
  if (options.threads < 0) {
    throw Error("attention: threads must be >= 0 (0 = all cores), got " +
                std::to_string(options.threads));
  }
  nlohmann::json spec = {{"method", options.method}};
  if (options.features > 0) spec["features"] = options.features;
  const std::unique_ptr<AttentionMethod> method = make_attention(spec);

  std::vector<int64_t> all(lengths.empty() ? static_cast<size_t>(dims.batch) : 0, dims.n);
  if (lengths.empty()) lengths = all;
  std::vector<int64_t> offsets(static_cast<size_t>(dims.batch) + 1, 0);
  for (size_t b = 0; b < lengths.size(); ++b) offsets[b + 1] = offsets[b] + lengths[b];

  AttentionShape shape;
  shape.num_seqs = dims.batch;
  shape.total_tokens = offsets.back();
  shape.max_len = *std::max_element(lengths.begin(), lengths.end());
  shape.num_heads = static_cast<int>(dims.heads);
  shape.head_dim = static_cast<int>(dims.head_dim);

  const size_t packed = static_cast<size_t>(shape.total_tokens * dims.heads * dims.head_dim);
  std::vector<float> pq(packed), pk(packed), pv(packed), pout(packed);
  copy_rows(dims, lengths, offsets, q, pq.data(), Direction::kPack);
  copy_rows(dims, lengths, offsets, k, pk.data(), Direction::kPack);
  copy_rows(dims, lengths, offsets, v, pv.data(), Direction::kPack);

  const int threads = options.threads == 0 ? omp_get_num_procs() : options.threads;
  omp_set_num_threads(threads);
  const size_t bytes = method->workspace_bytes(shape, threads);
  const std::unique_ptr<std::byte, AlignedFree> workspace(static_cast<std::byte*>(::operator new (
      std::max<size_t>(bytes, kWorkspaceAlignment), std::align_val_t{kWorkspaceAlignment})));

  AttentionProblem problem;
  problem.q = pq.data();
  problem.k = pk.data();
  problem.v = pv.data();
  problem.out = pout.data();
  problem.seq_offsets = offsets;
  problem.shape = shape;
  problem.seed = options.seed;
  problem.layer = 0;
  method->run(problem, std::span<std::byte>(workspace.get(), bytes));

  std::fill(out, out + dims.batch * dims.heads * dims.n * dims.head_dim, 0.0f);
  copy_rows(dims, lengths, offsets, pout.data(), out, Direction::kUnpack);
}

}  // namespace skein
