#include "attention/linformer.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include <skein/error.h>

#include "attention/dense_block.h"
#include "core/rng.h"
#include "simd/panel_matmul.h"

namespace skein {
namespace {

using attn::round_up;
using simd::kPanelWidth;

// Keys per block of the projection products.
constexpr size_t kKeyBlock = 512;

struct Scratch {
  float* k_proj;   // [k][ppad] E·K
  float* v_proj;   // [k][ppad] E·V
  float* keys;     // [kKeyBlock][ppad] the key block, zero-padded
  float* values;   // [kKeyBlock][ppad]
  float* e_block;  // [k][kKeyBlock] drawn projection columns of the block
  float* ones;     // [kPanelWidth]
  attn::BlockScratch block;
};

Scratch carve(attn::Carver& c, size_t k, size_t p) {
  const size_t ppad = round_up(p, kPanelWidth);
  Scratch s;
  s.k_proj = c.floats(k * ppad);
  s.v_proj = c.floats(k * ppad);
  s.keys = c.floats(kKeyBlock * ppad);
  s.values = c.floats(kKeyBlock * ppad);
  s.e_block = c.floats(k * kKeyBlock);
  s.ones = c.floats(kPanelWidth);
  s.block = attn::carve_block_scratch(c, p);
  return s;
}

size_t scratch_bytes(size_t k, size_t p) {
  return attn::carved_bytes([&](attn::Carver& c) { carve(c, k, p); });
}

// Columns [j0, j0 + count) of the drawn projection of `head` into e ([k][ld]).
// Element t = j·k + r of the projection is output t % 2 of the Box–Muller
// pair t / 2; each pair is computed once.
void draw_columns(const AttentionProblem& problem, int head, size_t k, size_t j0, size_t count,
                  float* e, size_t ld) {
  attn::PhiloxWords words(problem.seed, problem.layer, PhiloxStream::kSequenceTag,
                          static_cast<uint32_t>(head));
  const double scale = 1.0 / std::sqrt(static_cast<double>(k));
  const uint64_t end = (j0 + count) * k;
  uint64_t t = j0 * k;
  size_t j = 0;  // element t is e[r][j]
  size_t r = 0;
  const auto put = [&](float g) {
    e[r * ld + j] = static_cast<float>(g * scale);
    if (++r == k) {
      r = 0;
      ++j;
    }
    ++t;
  };
  while (t < end) {
    const uint64_t pair = t / 2;
    const float u1 = static_cast<float>((words.word(2 * pair) >> 8) + 1) * 0x1p-24f;
    const float u2 = static_cast<float>((words.word(2 * pair + 1) >> 8) + 1) * 0x1p-24f;
    const float radius = std::sqrt(-2.0f * std::log(u1));
    const float angle = 2.0f * std::numbers::pi_v<float> * u2;
    if (t % 2 == 0) put(radius * std::cos(angle));
    if (t < end) put(radius * std::sin(angle));
  }
}

void process_head(const AttentionProblem& problem, int64_t seq, int head, size_t k,
                  const Scratch& s) {
  const attn::HeadView h = attn::head_of(problem, seq, head);
  if (h.m == 0) return;
  const size_t p = h.p;
  const size_t ppad = round_up(p, kPanelWidth);
  std::fill_n(s.ones, kPanelWidth, 1.0f);
  const float* e_head = problem.projection
                            ? problem.projection + static_cast<size_t>(head) * k *
                                                       static_cast<size_t>(problem.projection_len)
                            : nullptr;
  for (size_t key0 = 0; key0 < h.m; key0 += kKeyBlock) {
    const size_t keys = std::min(kKeyBlock, h.m - key0);
    for (size_t j = 0; j < keys; ++j) {
      std::copy_n(h.k + (key0 + j) * h.ld, p, s.keys + j * ppad);
      std::copy_n(h.v + (key0 + j) * h.ld, p, s.values + j * ppad);
      std::fill_n(s.keys + j * ppad + p, ppad - p, 0.0f);
      std::fill_n(s.values + j * ppad + p, ppad - p, 0.0f);
    }
    simd::StridedMatrix e{nullptr, 0, 1};
    if (e_head) {
      e = {e_head + key0, static_cast<ptrdiff_t>(problem.projection_len), 1};
    } else {
      draw_columns(problem, head, k, key0, keys, s.e_block, kKeyBlock);
      e = {s.e_block, static_cast<ptrdiff_t>(kKeyBlock), 1};
    }
    for (size_t c0 = 0; c0 < ppad; c0 += kPanelWidth) {
      if (key0 == 0) {
        simd::panel_matmul(s.keys + c0, ppad, e, k, keys, s.k_proj + c0, ppad);
        simd::panel_matmul(s.values + c0, ppad, e, k, keys, s.v_proj + c0, ppad);
      } else {
        simd::panel_matmul_scaled_add(s.keys + c0, ppad, e, k, keys, s.k_proj + c0, ppad, s.ones);
        simd::panel_matmul_scaled_add(s.values + c0, ppad, e, k, keys, s.v_proj + c0, ppad, s.ones);
      }
    }
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(p));
  attn::softmax_attend({h.q, h.ld, h.m}, nullptr, h.m, {s.k_proj, ppad, k}, {s.v_proj, ppad, k}, p,
                       scale, 0, s.block, h.out, h.ld);
}

}  // namespace

LinformerAttention::LinformerAttention(int64_t features) : features_(features) {
  if (features < 1) {
    throw Error("attention method \"linformer\": features must be a positive integer, got " +
                std::to_string(features));
  }
}

namespace {
size_t rows_for(const AttentionShape& shape, int64_t features) {
  return static_cast<size_t>(shape.projection_rows > 0 ? shape.projection_rows : features);
}
}  // namespace

size_t LinformerAttention::workspace_bytes(const AttentionShape& shape, int threads) const {
  attn::check_shape(shape, name());
  return attn::threads_times(
      shape, threads,
      scratch_bytes(rows_for(shape, features_), static_cast<size_t>(shape.head_dim)), name());
}

void LinformerAttention::run(const AttentionProblem& problem,
                             std::span<std::byte> workspace) const {
  attn::check_problem(problem, name());
  const AttentionShape& shape = problem.shape;
  if (problem.projection && (shape.projection_rows < 1 || problem.projection_len < shape.max_len)) {
    throw Error("linformer attention: the projection E has " +
                std::to_string(shape.projection_rows) + " rows and length " +
                std::to_string(problem.projection_len) + ", need >= 1 rows and length >= " +
                std::to_string(shape.max_len) + " (the longest sequence)");
  }
  const size_t k = rows_for(shape, features_);
  const auto p = static_cast<size_t>(shape.head_dim);
  attn::for_each_head(problem, workspace, scratch_bytes(k, p), name(),
                      [&](int64_t seq, int head, std::byte* base) {
                        attn::Carver carver(base);
                        process_head(problem, seq, head, k, carve(carver, k, p));
                      });
}

std::vector<float> LinformerAttention::draw_projection(const AttentionProblem& problem, int head,
                                                       size_t columns) const {
  const size_t k = rows_for(problem.shape, features_);
  std::vector<float> e(k * columns);
  draw_columns(problem, head, k, 0, columns, e.data(), columns);
  return e;
}

double LinformerAttention::flops(std::span<const int64_t> seq_offsets, int num_heads,
                                 int head_dim) const {
  double total = 0.0;
  for (size_t s = 0; s + 1 < seq_offsets.size(); ++s) {
    total += 8.0 * static_cast<double>(seq_offsets[s + 1] - seq_offsets[s]) *
             static_cast<double>(features_) * head_dim;
  }
  return total * num_heads;
}

}  // namespace skein
