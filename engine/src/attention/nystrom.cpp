#include "attention/nystrom.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <skein/error.h>

#include "attention/dense_block.h"
#include "simd/panel_matmul.h"
#include "simd/reduce.h"
#include "simd/softmax.h"

namespace skein {
namespace {

using attn::round_up;
using simd::kPanelWidth;

size_t landmarks_for(int64_t features, size_t m) {
  return std::min(static_cast<size_t>(features), m);
}

// A thread's scratch for landmark capacity cpad (a multiple of kPanelWidth).
struct Scratch {
  float* lq;  // [cpad][p] landmark queries
  float* lk;  // [cpad][p] landmark keys
  float* a;   // [cpad][cpad] softmax(s·Q̃·K̃ᵀ), zero beyond c
  float* z;   // [cpad][cpad] pseudo-inverse iterate
  float* az;  // [cpad][cpad]
  float* t1;  // [cpad][cpad]
  float* t2;  // [cpad][cpad]
  float* bv;  // [cpad][p] B·V
  float* w;   // [cpad][p] Z·(B·V)
  attn::BlockScratch block;
};

Scratch carve(attn::Carver& c, size_t cpad, size_t p) {
  Scratch s;
  s.lq = c.floats(cpad * p);
  s.lk = c.floats(cpad * p);
  s.a = c.floats(cpad * cpad);
  s.z = c.floats(cpad * cpad);
  s.az = c.floats(cpad * cpad);
  s.t1 = c.floats(cpad * cpad);
  s.t2 = c.floats(cpad * cpad);
  s.bv = c.floats(cpad * p);
  s.w = c.floats(cpad * p);
  s.block = attn::carve_block_scratch(c, p);
  return s;
}

size_t scratch_bytes(size_t cpad, size_t p) {
  return attn::carved_bytes([&](attn::Carver& c) { carve(c, cpad, p); });
}

// Segment means of `rows` (m rows, ld apart) into c landmark rows of p floats.
void segment_means(const float* rows, size_t ld, size_t m, size_t c, size_t p, float* out) {
  for (size_t l = 0; l < c; ++l) {
    const size_t begin = l * m / c;
    const size_t end = (l + 1) * m / c;
    float* o = out + l * p;
    std::fill_n(o, p, 0.0f);
    for (size_t i = begin; i < end; ++i) {
      for (size_t d = 0; d < p; ++d) o[d] += rows[i * ld + d];
    }
    const float inverse = 1.0f / static_cast<float>(end - begin);
    for (size_t d = 0; d < p; ++d) o[d] *= inverse;
  }
}

// Z ← pinv(A) by the iteration of the paper's code; A and Z are cpad × cpad,
// zero outside the leading c × c block (which the iteration preserves).
void iterative_pinv(const Scratch& s, size_t c, size_t cpad) {
  float max_column_sum = 0.0f;
  for (size_t j = 0; j < c; ++j) {
    float sum = 0.0f;
    for (size_t i = 0; i < c; ++i) sum += s.a[i * cpad + j];
    max_column_sum = std::max(max_column_sum, sum);
  }
  const float init = 1.0f / max_column_sum;
  for (size_t i = 0; i < cpad; ++i) {
    for (size_t j = 0; j < cpad; ++j) s.z[i * cpad + j] = s.a[j * cpad + i] * init;
  }
  // t ← k·I − t on the leading c × c block (the rest stays 0).
  const auto k_identity_minus = [&](float* t, float k) {
    for (size_t i = 0; i < cpad * cpad; ++i) t[i] = -t[i];
    for (size_t i = 0; i < c; ++i) t[i * cpad + i] += k;
  };
  for (int step = 0; step < NystromAttention::kPinvIterations; ++step) {
    attn::square_matmul(s.a, s.z, s.az, cpad);  // AZ
    std::copy_n(s.az, cpad * cpad, s.t1);
    k_identity_minus(s.t1, 7.0f);                 // 7I − AZ
    attn::square_matmul(s.az, s.t1, s.t2, cpad);  // AZ(7I − AZ)
    k_identity_minus(s.t2, 15.0f);                // 15I − ...
    attn::square_matmul(s.az, s.t2, s.t1, cpad);  // AZ(15I − ...)
    k_identity_minus(s.t1, 13.0f);                // 13I − ...
    for (size_t i = 0; i < cpad * cpad; ++i) s.t1[i] *= 0.25f;
    attn::square_matmul(s.z, s.t1, s.t2, cpad);  // ¼·Z·(13I − ...)
    std::copy_n(s.t2, cpad * cpad, s.z);
  }
}

size_t cpad_for(const AttentionShape& shape, int64_t features) {
  return round_up(std::max<size_t>(1, landmarks_for(features, static_cast<size_t>(shape.max_len))),
                  kPanelWidth);
}

void process_head(const AttentionProblem& problem, int64_t seq, int head, int64_t features,
                  std::byte* base) {
  const attn::HeadView h = attn::head_of(problem, seq, head);
  if (h.m == 0) return;
  const size_t p = h.p;
  const size_t c = landmarks_for(features, h.m);
  const size_t cpad = round_up(c, kPanelWidth);
  attn::Carver carver(base);
  const Scratch s = carve(carver, cpad_for(problem.shape, features), p);
  const float scale = 1.0f / std::sqrt(static_cast<float>(p));
  segment_means(h.q, h.ld, h.m, c, p, s.lq);
  segment_means(h.k, h.ld, h.m, c, p, s.lk);
  // A = softmax(s·Q̃·K̃ᵀ), padded with zeros to cpad × cpad.
  std::fill_n(s.a, cpad * cpad, 0.0f);
  for (size_t i = 0; i < c; ++i) {
    float* row = s.a + i * cpad;
    for (size_t j = 0; j < c; ++j) row[j] = simd::dot(s.lq + i * p, s.lk + j * p, p) * scale;
    simd::softmax(row, c);
  }
  iterative_pinv(s, c, cpad);
  // B·V: the c landmark queries against all m keys.
  const attn::Rows keys{h.k, h.ld, h.m};
  const attn::Rows values{h.v, h.ld, h.m};
  attn::softmax_attend({s.lq, p, c}, nullptr, c, keys, values, p, scale, 0, s.block, s.bv, p);
  // W = Z·(B·V) (c × p), then out = softmax(s·Q·K̃ᵀ)·W.
  for (size_t i = 0; i < c; ++i) {
    float* w = s.w + i * p;
    std::fill_n(w, p, 0.0f);
    for (size_t j = 0; j < c; ++j) {
      const float zij = s.z[i * cpad + j];
      for (size_t d = 0; d < p; ++d) w[d] += zij * s.bv[j * p + d];
    }
  }
  attn::softmax_attend({h.q, h.ld, h.m}, nullptr, h.m, {s.lk, p, c}, {s.w, p, c}, p, scale, 0,
                       s.block, h.out, h.ld);
}

}  // namespace

NystromAttention::NystromAttention(int64_t features) : features_(features) {
  if (features < 1) {
    throw Error("attention method \"nystrom\": features must be a positive integer, got " +
                std::to_string(features));
  }
}

size_t NystromAttention::workspace_bytes(const AttentionShape& shape, int threads) const {
  attn::check_shape(shape, name());
  return attn::threads_times(
      shape, threads,
      scratch_bytes(cpad_for(shape, features_), static_cast<size_t>(shape.head_dim)), name());
}

void NystromAttention::run(const AttentionProblem& problem, std::span<std::byte> workspace) const {
  attn::check_problem(problem, name());
  const size_t per_thread = scratch_bytes(cpad_for(problem.shape, features_),
                                          static_cast<size_t>(problem.shape.head_dim));
  const int64_t features = features_;
  attn::for_each_head(problem, workspace, per_thread, name(),
                      [&](int64_t seq, int head, std::byte* base) {
                        process_head(problem, seq, head, features, base);
                      });
}

double NystromAttention::flops(std::span<const int64_t> seq_offsets, int num_heads,
                               int head_dim) const {
  double total = 0.0;
  for (size_t s = 0; s + 1 < seq_offsets.size(); ++s) {
    const auto m = static_cast<size_t>(seq_offsets[s + 1] - seq_offsets[s]);
    const auto c = static_cast<double>(landmarks_for(features_, m));
    const double p = head_dim;
    total +=
        8.0 * static_cast<double>(m) * c * p + 4.0 * c * c * p + kPinvIterations * 8.0 * c * c * c;
  }
  return total * num_heads;
}

}  // namespace skein
