#include "attention/bigbird.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <skein/error.h>

#include "attention/dense_block.h"
#include "core/rng.h"

namespace skein {
namespace {

// Draws per query block before the deterministic fallback (never reached in
// practice: each draw is acceptable with probability >= 1/(r + 6)).
constexpr uint64_t kDrawsPerBlock = 4096;

struct Scratch {
  float* keys;      // [(5 + r)·b][p] the gathered keys
  float* values;    // [(5 + r)·b][p]
  int64_t* chosen;  // [5 + r] key blocks of the current query block
  int64_t* random;  // [r] its random blocks
  attn::BlockScratch block;
};

size_t key_capacity(size_t b, size_t r) {
  return (5 + r) * b;
}

Scratch carve(attn::Carver& c, size_t b, size_t r, size_t p) {
  Scratch s;
  s.keys = c.floats(key_capacity(b, r) * p);
  s.values = c.floats(key_capacity(b, r) * p);
  s.chosen = c.ints(5 + r);
  s.random = c.ints(std::max<size_t>(r, 1));
  s.block = attn::carve_block_scratch(c, p);
  return s;
}

size_t scratch_bytes(size_t b, size_t r, size_t p) {
  return attn::carved_bytes([&](attn::Carver& c) { carve(c, b, r, p); });
}

bool is_fixed(int64_t block, int64_t i, int64_t nb) {
  return block == 0 || block == nb - 1 || (block >= i - 1 && block <= i + 1);
}

// The random blocks of query block i (1 <= i <= nb − 2) into `out`; returns how many.
size_t draw_random(const PhiloxStream& stream, int64_t i, int64_t nb, size_t r, int64_t* out) {
  const int64_t fixed = std::min<int64_t>(nb, 2 + 3 - (i - 1 == 0) - (i + 1 == nb - 1));
  const auto available = static_cast<size_t>(nb - fixed);
  const size_t want = std::min(r, available);
  size_t got = 0;
  for (uint64_t k = 0; k < kDrawsPerBlock && got < want; ++k) {
    const auto block = static_cast<int64_t>(
        stream.below(static_cast<uint64_t>(i) * kDrawsPerBlock + k, static_cast<uint64_t>(nb)));
    if (is_fixed(block, i, nb) || std::find(out, out + got, block) != out + got) continue;
    out[got++] = block;
  }
  for (int64_t block = 0; block < nb && got < want; ++block) {  // fallback, smallest first
    if (!is_fixed(block, i, nb) && std::find(out, out + got, block) == out + got)
      out[got++] = block;
  }
  std::sort(out, out + got);
  return got;
}

// Query block i of h with the random blocks random[0..count).
void attend_block(const attn::HeadView& h, size_t b, int64_t i, int64_t nb, const int64_t* random,
                  size_t count, const Scratch& s) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(h.p));
  const size_t q0 = static_cast<size_t>(i) * b;
  const size_t rows = std::min(b, h.m - q0);
  const attn::Rows queries{h.q + q0 * h.ld, h.ld, rows};
  float* out = h.out + q0 * h.ld;
  if (i == 0 || i == nb - 1) {
    attn::softmax_attend(queries, nullptr, rows, {h.k, h.ld, h.m}, {h.v, h.ld, h.m}, h.p, scale, 0,
                         s.block, out, h.ld);
    return;
  }
  size_t blocks = 0;
  for (int64_t block : {int64_t{0}, i - 1, i, i + 1, nb - 1}) s.chosen[blocks++] = block;
  for (size_t t = 0; t < count; ++t) s.chosen[blocks++] = random[t];
  std::sort(s.chosen, s.chosen + blocks);
  blocks = static_cast<size_t>(std::unique(s.chosen, s.chosen + blocks) - s.chosen);
  size_t keys = 0;
  for (size_t t = 0; t < blocks; ++t) {
    const size_t k0 = static_cast<size_t>(s.chosen[t]) * b;
    const size_t len = std::min(b, h.m - k0);
    for (size_t j = 0; j < len; ++j) {
      std::copy_n(h.k + (k0 + j) * h.ld, h.p, s.keys + (keys + j) * h.p);
      std::copy_n(h.v + (k0 + j) * h.ld, h.p, s.values + (keys + j) * h.p);
    }
    keys += len;
  }
  attn::softmax_attend(queries, nullptr, rows, {s.keys, h.p, keys}, {s.values, h.p, keys}, h.p,
                       scale, 0, s.block, out, h.ld);
}

int64_t blocks_of(size_t m, size_t b) {
  return static_cast<int64_t>((m + b - 1) / b);
}

}  // namespace

BigBirdAttention::BigBirdAttention(int64_t block, int64_t random_blocks)
    : block_(block), random_blocks_(random_blocks) {
  if (block < 1 || random_blocks < 0) {
    throw Error("attention method \"bigbird\": block must be >= 1 and random_blocks >= 0, got " +
                std::to_string(block) + " and " + std::to_string(random_blocks));
  }
}

size_t BigBirdAttention::workspace_bytes(const AttentionShape& shape, int threads) const {
  attn::check_shape(shape, name());
  return attn::threads_times(
      shape, threads,
      scratch_bytes(static_cast<size_t>(block_), static_cast<size_t>(random_blocks_),
                    static_cast<size_t>(shape.head_dim)),
      name());
}

void BigBirdAttention::run(const AttentionProblem& problem, std::span<std::byte> workspace) const {
  attn::check_problem(problem, name());
  const auto b = static_cast<size_t>(block_);
  const auto r = static_cast<size_t>(random_blocks_);
  const auto p = static_cast<size_t>(problem.shape.head_dim);
  attn::for_each_head(problem, workspace, scratch_bytes(b, r, p), name(),
                      [&](int64_t seq, int head, std::byte* base) {
                        const attn::HeadView h = attn::head_of(problem, seq, head);
                        attn::Carver carver(base);
                        const Scratch s = carve(carver, b, r, p);
                        const PhiloxStream stream(problem.seed, problem.layer, seq,
                                                  static_cast<uint32_t>(head));
                        const int64_t nb = blocks_of(h.m, b);
                        for (int64_t i = 0; i < nb; ++i) {
                          const size_t count =
                              (i == 0 || i == nb - 1) ? 0 : draw_random(stream, i, nb, r, s.random);
                          attend_block(h, b, i, nb, s.random, count, s);
                        }
                      });
}

std::vector<std::vector<int64_t>> BigBirdAttention::draw_blocks(const AttentionProblem& problem,
                                                                int64_t seq, int head) const {
  attn::check_problem(problem, name());
  const attn::HeadView h = attn::head_of(problem, seq, head);
  const int64_t nb = blocks_of(h.m, static_cast<size_t>(block_));
  const PhiloxStream stream(problem.seed, problem.layer, seq, static_cast<uint32_t>(head));
  std::vector<std::vector<int64_t>> all(static_cast<size_t>(nb));
  for (int64_t i = 1; i + 1 < nb; ++i) {
    std::vector<int64_t> drawn(static_cast<size_t>(random_blocks_));
    drawn.resize(draw_random(stream, i, nb, static_cast<size_t>(random_blocks_), drawn.data()));
    all[static_cast<size_t>(i)] = drawn;
  }
  return all;
}

void BigBirdAttention::run_head_with_blocks(const AttentionProblem& problem, int64_t seq, int head,
                                            const std::vector<std::vector<int64_t>>& random) const {
  attn::check_problem(problem, name());
  const auto b = static_cast<size_t>(block_);
  const auto r = static_cast<size_t>(random_blocks_);
  const auto p = static_cast<size_t>(problem.shape.head_dim);
  const attn::HeadView h = attn::head_of(problem, seq, head);
  const int64_t nb = blocks_of(h.m, b);
  if (random.size() != static_cast<size_t>(nb)) {
    throw Error("bigbird run_head_with_blocks: need one list per query block (" +
                std::to_string(nb) + "), got " + std::to_string(random.size()));
  }
  for (int64_t i = 0; i < nb; ++i) {
    const auto& list = random[static_cast<size_t>(i)];
    if (list.size() > r) throw Error("bigbird run_head_with_blocks: too many random blocks");
    for (int64_t block : list) {
      if (block < 0 || block >= nb || is_fixed(block, i, nb)) {
        throw Error("bigbird run_head_with_blocks: bad random block " + std::to_string(block));
      }
    }
  }
  std::vector<std::byte> bytes(scratch_bytes(b, r, p) + kWorkspaceAlignment);
  const auto at = reinterpret_cast<uintptr_t>(bytes.data());
  attn::Carver carver(bytes.data() +
                      (kWorkspaceAlignment - at % kWorkspaceAlignment) % kWorkspaceAlignment);
  const Scratch s = carve(carver, b, r, p);
  for (int64_t i = 0; i < nb; ++i) {
    const auto& list = random[static_cast<size_t>(i)];
    const bool global = i == 0 || i == nb - 1;
    attend_block(h, b, i, nb, list.data(), global ? 0 : list.size(), s);
  }
}

double BigBirdAttention::flops(std::span<const int64_t> seq_offsets, int num_heads,
                               int head_dim) const {
  double total = 0.0;
  const auto b = static_cast<double>(block_);
  for (size_t s = 0; s + 1 < seq_offsets.size(); ++s) {
    const auto m = static_cast<double>(seq_offsets[s + 1] - seq_offsets[s]);
    const double global_rows = std::min(m, 2 * b);
    const double keys = std::min(m, (5.0 + static_cast<double>(random_blocks_)) * b);
    total += 4.0 * head_dim * (global_rows * m + std::max(0.0, m - global_rows) * keys);
  }
  return total * num_heads;
}

}  // namespace skein
