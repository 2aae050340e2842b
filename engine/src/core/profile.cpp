#include "skein/profile.h"

#include <algorithm>
#include <cmath>

namespace skein {

int64_t percentile_ns(const std::vector<int64_t>& samples, double p) {
  if (samples.empty()) return 0;
  std::vector<int64_t> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  // Nearest-rank percentile: the smallest sample with at least p of the samples at or below it.
  auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

int64_t median_ns(const std::vector<int64_t>& samples) {
  if (samples.empty()) return 0;
  std::vector<int64_t> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  size_t n = sorted.size();
  return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

}  // namespace skein
