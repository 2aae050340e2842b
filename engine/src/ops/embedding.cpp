#include "ops/embedding.h"

namespace skein::ops {

void embedding(const int32_t* ids, std::span<const int64_t> offsets, const float* token,
               const float* position, int64_t dim, float* y) {
  for (size_t s = 0; s + 1 < offsets.size(); ++s) {
    int64_t begin = offsets[s];
    int64_t len = offsets[s + 1] - begin;
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < len; ++t) {
      const float* tok = token + int64_t{ids[begin + t]} * dim;
      const float* pos = position + t * dim;
      float* out = y + (begin + t) * dim;
      for (int64_t c = 0; c < dim; ++c) out[c] = tok[c] + pos[c];
    }
  }
}

}  // namespace skein::ops
