#include "simd/exp.h"

namespace skein::simd {

void exp(const float* in, float* out, size_t n) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    simd::exp(Batch::load_unaligned(in + i)).store_unaligned(out + i);
  }
  if (i == n) return;
  // Tail: go through a full-width buffer so no lane reads or writes past n.
  alignas(64) float tail[kLanes] = {};
  for (size_t t = 0; i + t < n; ++t) tail[t] = in[i + t];
  simd::exp(Batch::load_aligned(tail)).store_aligned(tail);
  for (size_t t = 0; i + t < n; ++t) out[i + t] = tail[t];
}

}  // namespace skein::simd
