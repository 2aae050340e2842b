#include "attention/performer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include <skein/error.h>

#include "attention/dense_block.h"
#include "core/rng.h"
#include "simd/batch.h"
#include "simd/exp.h"
#include "simd/panel_matmul.h"

namespace skein {
namespace {

using attn::round_up;
using simd::Batch;
using simd::kLanes;
using simd::kPanelWidth;

// Keys or queries per block of the feature maps.
constexpr size_t kBlock = 64;
static_assert(kBlock % kPanelWidth == 0);

// A thread's scratch for rpad features and head_dim p (ppad = p rounded up to kPanelWidth).
struct Scratch {
  float* w;       // [rpad][p] directions, zero rows beyond r
  float* x_t;     // [p][kBlock] scaled keys or queries, transposed
  float* diag;    // [kBlock] ‖x'‖²/2
  float* feat;    // [rpad][kBlock] w·x' − ‖x'‖²/2, then φ
  float* values;  // [kBlock][ppad] the value block, zero-padded
  float* acc;     // [rpad][ppad] Σ_j φ(k_j) v_jᵀ
  float* ksum;    // [rpad] Σ_j φ(k_j)
  float* out_t;   // [ppad][kBlock]
  float* factor;  // [kPanelWidth] the rescale factor, broadcast
  double* gram;   // [p][p] Gram–Schmidt work
};

Scratch carve(attn::Carver& c, size_t rpad, size_t p) {
  const size_t ppad = round_up(p, kPanelWidth);
  Scratch s;
  s.w = c.floats(rpad * p);
  s.x_t = c.floats(p * kBlock);
  s.diag = c.floats(kBlock);
  s.feat = c.floats(rpad * kBlock);
  s.values = c.floats(kBlock * ppad);
  s.acc = c.floats(rpad * ppad);
  s.ksum = c.floats(rpad);
  s.out_t = c.floats(ppad * kBlock);
  s.factor = c.floats(kPanelWidth);
  s.gram = c.doubles(p * p);
  return s;
}

size_t scratch_bytes(size_t rpad, size_t p) {
  return attn::carved_bytes([&](attn::Carver& c) { carve(c, rpad, p); });
}

double gaussian(const PhiloxStream& stream, uint64_t t) {
  const double u1 = stream.uniform_double(2 * t);
  const double u2 = stream.uniform_double(2 * t + 1);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

// W ([rpad][p], zero rows beyond r) for the stream, as the header states.
void draw_directions(const PhiloxStream& stream, size_t r, size_t rpad, size_t p, float* w,
                     double* gram) {
  std::fill_n(w, rpad * p, 0.0f);
  uint64_t next = 0;
  for (size_t row0 = 0; row0 < r; row0 += p) {
    for (size_t i = 0; i < p * p; ++i) gram[i] = gaussian(stream, next++);
    // Modified Gram–Schmidt on the rows.
    for (size_t i = 0; i < p; ++i) {
      double* a = gram + i * p;
      for (size_t j = 0; j < i; ++j) {
        const double* b = gram + j * p;
        double dot = 0.0;
        for (size_t c = 0; c < p; ++c) dot += a[c] * b[c];
        for (size_t c = 0; c < p; ++c) a[c] -= dot * b[c];
      }
      double norm = 0.0;
      for (size_t c = 0; c < p; ++c) norm += a[c] * a[c];
      norm = std::sqrt(norm);
      for (size_t c = 0; c < p; ++c) a[c] /= norm;
    }
    for (size_t i = 0; i < p && row0 + i < r; ++i) {
      for (size_t c = 0; c < p; ++c) w[(row0 + i) * p + c] = static_cast<float>(gram[i * p + c]);
    }
  }
  const uint64_t norms_begin = ((r + p - 1) / p) * p * p;
  for (size_t f = 0; f < r; ++f) {
    double norm = 0.0;
    for (size_t c = 0; c < p; ++c) {
      const double g = gaussian(stream, norms_begin + f * p + c);
      norm += g * g;
    }
    const auto scale = static_cast<float>(std::sqrt(norm));
    for (size_t c = 0; c < p; ++c) w[f * p + c] *= scale;
  }
}

// x_t and diag for `rows` rows of x (ld apart) scaled by `normaliser`; zero beyond.
void load_block(const float* x, size_t ld, size_t rows, size_t p, float normaliser,
                const Scratch& s) {
  for (size_t i = 0; i < kBlock; ++i) {
    double sq = 0.0;
    for (size_t c = 0; c < p; ++c) {
      const float value = i < rows ? x[i * ld + c] * normaliser : 0.0f;
      s.x_t[c * kBlock + i] = value;
      sq += double{value} * value;
    }
    s.diag[i] = static_cast<float>(0.5 * sq);
  }
}

// feat[f][i] = w_f·x'_i − diag_i for f < rpad (rows beyond r give −diag).
void feature_logits(const Scratch& s, size_t rpad, size_t p) {
  const simd::StridedMatrix directions{s.w, static_cast<ptrdiff_t>(p), 1};
  for (size_t panel = 0; panel < kBlock; panel += kPanelWidth) {
    simd::panel_matmul(s.x_t + panel, kBlock, directions, rpad, p, s.feat + panel, kBlock);
  }
  for (size_t f = 0; f < rpad; ++f) {
    float* row = s.feat + f * kBlock;
    for (size_t i = 0; i < kBlock; i += kLanes) {
      (Batch::load_aligned(row + i) - Batch::load_aligned(s.diag + i)).store_aligned(row + i);
    }
  }
}

struct HeadParams {
  size_t r, rpad, p;
  float normaliser;
};

void process_head(const attn::HeadView& h, const HeadParams& hp, const Scratch& s) {
  const size_t p = hp.p, r = hp.r, rpad = hp.rpad;
  const size_t ppad = round_up(p, kPanelWidth);
  // Keys: one streamed pass with a running maximum c_k.
  float key_max = -std::numeric_limits<float>::infinity();
  std::fill_n(s.ksum, rpad, 0.0f);
  std::fill_n(s.values, kBlock * ppad, 0.0f);
  const simd::StridedMatrix feat_rows{s.feat, static_cast<ptrdiff_t>(kBlock), 1};
  for (size_t key0 = 0; key0 < h.m; key0 += kBlock) {
    const size_t keys = std::min(kBlock, h.m - key0);
    load_block(h.k + key0 * h.ld, h.ld, keys, p, hp.normaliser, s);
    feature_logits(s, rpad, p);
    float block_max = -std::numeric_limits<float>::infinity();
    for (size_t f = 0; f < r; ++f) {
      for (size_t i = 0; i < keys; ++i) block_max = std::max(block_max, s.feat[f * kBlock + i]);
    }
    const float new_max = std::max(key_max, block_max);
    const float factor = std::exp(key_max - new_max);  // 0 on the first block
    key_max = new_max;
    const Batch shift(new_max);
    for (size_t f = 0; f < rpad; ++f) {
      float* row = s.feat + f * kBlock;
      if (f >= r) {
        std::fill_n(row, kBlock, 0.0f);
        continue;
      }
      for (size_t i = 0; i < kBlock; i += kLanes) {
        simd::exp(Batch::load_aligned(row + i) - shift).store_aligned(row + i);
      }
      std::fill(row + keys, row + kBlock, 0.0f);
      float sum = 0.0f;
      for (size_t i = 0; i < keys; ++i) sum += row[i];
      s.ksum[f] = s.ksum[f] * factor + sum;
    }
    for (size_t i = 0; i < kBlock; ++i) {
      for (size_t c = 0; c < p; ++c)
        s.values[i * ppad + c] = i < keys ? h.v[(key0 + i) * h.ld + c] : 0.0f;
    }
    std::fill_n(s.factor, kPanelWidth, factor);
    for (size_t c0 = 0; c0 < ppad; c0 += kPanelWidth) {
      if (key0 == 0) {
        simd::panel_matmul(s.values + c0, ppad, feat_rows, rpad, kBlock, s.acc + c0, ppad);
      } else {
        simd::panel_matmul_scaled_add(s.values + c0, ppad, feat_rows, rpad, kBlock, s.acc + c0,
                                      ppad, s.factor);
      }
    }
  }
  // Queries: φ(q) with the query's own maximum, then φ(q)·acc / φ(q)·ksum.
  const simd::StridedMatrix acc_t{s.acc, 1, static_cast<ptrdiff_t>(ppad)};
  for (size_t q0 = 0; q0 < h.m; q0 += kBlock) {
    const size_t rows = std::min(kBlock, h.m - q0);
    load_block(h.q + q0 * h.ld, h.ld, rows, p, hp.normaliser, s);
    feature_logits(s, rpad, p);
    for (size_t i = 0; i < kBlock; i += kLanes) {
      Batch max(-std::numeric_limits<float>::infinity());
      for (size_t f = 0; f < r; ++f)
        max = xsimd::max(max, Batch::load_aligned(s.feat + f * kBlock + i));
      for (size_t f = 0; f < r; ++f) {
        float* at = s.feat + f * kBlock + i;
        simd::exp(Batch::load_aligned(at) - max).store_aligned(at);
      }
      for (size_t f = r; f < rpad; ++f) Batch(0.0f).store_aligned(s.feat + f * kBlock + i);
    }
    for (size_t panel = 0; panel < kBlock; panel += kPanelWidth) {
      simd::panel_matmul(s.feat + panel, kBlock, acc_t, p, rpad, s.out_t + panel, kBlock);
    }
    for (size_t i = 0; i < rows; ++i) {
      float denominator = 0.0f;
      for (size_t f = 0; f < r; ++f) denominator += s.feat[f * kBlock + i] * s.ksum[f];
      const float inverse = 1.0f / std::max(denominator, std::numeric_limits<float>::min());
      float* out_row = h.out + (q0 + i) * h.ld;
      for (size_t c = 0; c < p; ++c) out_row[c] = s.out_t[c * kBlock + i] * inverse;
    }
  }
}

HeadParams params_for(int64_t features, size_t p, bool paper_code_scaling) {
  const auto r = static_cast<size_t>(features);
  const double normaliser = paper_code_scaling ? 1.0 / std::sqrt(static_cast<double>(p))
                                               : 1.0 / std::sqrt(std::sqrt(static_cast<double>(p)));
  return HeadParams{r, round_up(r, kPanelWidth), p, static_cast<float>(normaliser)};
}

struct OwnedScratch {
  std::vector<std::byte> bytes;
  Scratch scratch;
  OwnedScratch(size_t rpad, size_t p) : bytes(scratch_bytes(rpad, p) + kWorkspaceAlignment) {
    auto at = reinterpret_cast<uintptr_t>(bytes.data());
    const size_t skip = (kWorkspaceAlignment - at % kWorkspaceAlignment) % kWorkspaceAlignment;
    attn::Carver carver(bytes.data() + skip);
    scratch = carve(carver, rpad, p);
  }
};

}  // namespace

PerformerAttention::PerformerAttention(int64_t features, bool paper_code_scaling)
    : features_(features), paper_code_scaling_(paper_code_scaling) {
  if (features < 1) {
    throw Error("attention method \"performer\": features must be a positive integer, got " +
                std::to_string(features));
  }
}

size_t PerformerAttention::workspace_bytes(const AttentionShape& shape, int threads) const {
  attn::check_shape(shape, name());
  const auto p = static_cast<size_t>(shape.head_dim);
  return attn::threads_times(shape, threads, scratch_bytes(params_for(features_, p, false).rpad, p),
                             name());
}

void PerformerAttention::run(const AttentionProblem& problem,
                             std::span<std::byte> workspace) const {
  attn::check_problem(problem, name());
  const auto p = static_cast<size_t>(problem.shape.head_dim);
  const HeadParams hp = params_for(features_, p, paper_code_scaling_);
  attn::for_each_head(problem, workspace, scratch_bytes(hp.rpad, p), name(),
                      [&](int64_t seq, int head, std::byte* base) {
                        const attn::HeadView h = attn::head_of(problem, seq, head);
                        if (h.m == 0) return;
                        attn::Carver carver(base);
                        const Scratch s = carve(carver, hp.rpad, p);
                        const PhiloxStream stream(problem.seed, problem.layer, seq,
                                                  static_cast<uint32_t>(head));
                        draw_directions(stream, hp.r, hp.rpad, p, s.w, s.gram);
                        process_head(h, hp, s);
                      });
}

std::vector<float> PerformerAttention::draw_features(const AttentionProblem& problem, int64_t seq,
                                                     int head) const {
  const auto p = static_cast<size_t>(problem.shape.head_dim);
  const HeadParams hp = params_for(features_, p, paper_code_scaling_);
  std::vector<float> w(hp.rpad * p);
  std::vector<double> gram(p * p);
  draw_directions(PhiloxStream(problem.seed, problem.layer, seq, static_cast<uint32_t>(head)), hp.r,
                  hp.rpad, p, w.data(), gram.data());
  w.resize(hp.r * p);
  return w;
}

void PerformerAttention::run_head_with_features(const AttentionProblem& problem, int64_t seq,
                                                int head, const std::vector<float>& w) const {
  attn::check_problem(problem, name());
  const auto p = static_cast<size_t>(problem.shape.head_dim);
  if (w.empty() || w.size() % p != 0) {
    throw Error("performer attention: injected features must be [r][head_dim], got " +
                std::to_string(w.size()) + " floats");
  }
  const HeadParams hp = params_for(static_cast<int64_t>(w.size() / p), p, paper_code_scaling_);
  OwnedScratch owned(hp.rpad, p);
  std::fill_n(owned.scratch.w, hp.rpad * p, 0.0f);
  std::copy(w.begin(), w.end(), owned.scratch.w);
  const attn::HeadView h = attn::head_of(problem, seq, head);
  if (h.m > 0) process_head(h, hp, owned.scratch);
}

double PerformerAttention::flops(std::span<const int64_t> seq_offsets, int num_heads,
                                 int head_dim) const {
  double total = 0.0;
  for (size_t s = 0; s + 1 < seq_offsets.size(); ++s) {
    total += 8.0 * static_cast<double>(seq_offsets[s + 1] - seq_offsets[s]) *
             static_cast<double>(features_) * head_dim;
  }
  return total * num_heads;
}

}  // namespace skein
