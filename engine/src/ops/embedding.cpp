#include "ops/embedding.h"

#include <algorithm>

namespace skein::ops {
namespace {

constexpr int64_t kPrefetchTokens = 8;
constexpr int64_t kFloatsPerLine = 16;
constexpr int64_t kParallelMinElements = int64_t{1} << 14;  // smaller batches run on one thread

}  // namespace

uint32_t ngram_row(const int32_t* ids, int n, uint32_t buckets) {
  constexpr uint32_t kFnvOffset = 2166136261u, kFnvPrime = 16777619u;
  uint32_t h = (kFnvOffset ^ static_cast<uint32_t>(n)) * kFnvPrime;
  for (int k = 0; k < n; ++k) h = (h ^ static_cast<uint32_t>(ids[k])) * kFnvPrime;
  h ^= h >> 16;
  h *= 0x45d9f3bu;
  h ^= h >> 16;
  return h % buckets;
}

void embedding(const int32_t* ids, std::span<const int64_t> offsets, const float* token,
               const float* position, int64_t dim, float* y, const NgramTable& ngrams) {
  const auto buckets = static_cast<uint32_t>(ngrams.buckets);
  // One parallel region for the whole batch, and no barrier between sequences: on a busy
  // machine every region and barrier waits for the slowest thread to be scheduled.
  const bool parallel = !offsets.empty() && offsets.back() * dim >= kParallelMinElements;
#pragma omp parallel if (parallel)
  for (size_t s = 0; s + 1 < offsets.size(); ++s) {
    int64_t begin = offsets[s];
    int64_t len = offsets[s + 1] - begin;
#pragma omp for schedule(static) nowait
    for (int64_t t = 0; t < len; ++t) {
      const float* tok = token + int64_t{ids[begin + t]} * dim;
      const float* pos = position + t * dim;
      float* out = y + (begin + t) * dim;
      for (int64_t c = 0; c < dim; ++c) out[c] = tok[c] + pos[c];
      if (ngrams.rows == nullptr) continue;
      // The rows are random lines of a table larger than L2: ask for a later token's rows now.
      if (int64_t ahead = t + kPrefetchTokens; ahead < len) {
        int reach = static_cast<int>(std::min<int64_t>(ngrams.max_n, ahead + 1));
        for (int n = 2; n <= reach; ++n) {
          const float* row =
              ngrams.rows + int64_t{ngram_row(ids + begin + ahead - n + 1, n, buckets)} * dim;
          for (int64_t c = 0; c < dim; c += kFloatsPerLine) __builtin_prefetch(row + c);
        }
      }
      int longest = static_cast<int>(std::min<int64_t>(ngrams.max_n, t + 1));
      for (int n = 2; n <= longest; ++n) {
        const float* row =
            ngrams.rows + int64_t{ngram_row(ids + begin + t - n + 1, n, buckets)} * dim;
        for (int64_t c = 0; c < dim; ++c) out[c] += row[c];
      }
    }
  }
}

}  // namespace skein::ops
