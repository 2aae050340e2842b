#include "attention/dense_block.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>

#include <skein/error.h>

#include "simd/batch.h"
#include "simd/exp.h"
#include "simd/panel_matmul.h"

namespace skein::attn {
namespace {

using simd::Batch;
using simd::kLanes;
using simd::kPanelWidth;

static_assert(kQueryBlock % kPanelWidth == 0);

}  // namespace

void copy_rows(const float* from, size_t ld, size_t rows, size_t p, float* to) {
  if (p % kLanes != 0) {
    for (size_t r = 0; r < rows; ++r) std::copy_n(from + r * ld, p, to + r * p);
    return;
  }
  // Inline vector copies: a memmove call per short row (128 bytes at p = 32)
  // cost more than the copy.
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < p; c += kLanes)
      Batch::load_unaligned(from + r * ld + c).store_unaligned(to + r * p + c);
  }
}

// Online-softmax step of one panel: the running sum is rescaled to the new
// max and the block's e^(score − new max) added. With writable `probs` the
// scores become those exponentials and `rescale` gets the factor.
template <class Probs>
void online_softmax_step(Probs* probs, size_t keys, const float* new_max, float* row_max,
                         float* row_sum, float* rescale) {
  constexpr bool kStore = !std::is_const_v<Probs>;
  // Both halves of the panel per key: two independent sums keep the
  // exponentials' latency hidden.
  const Batch max0 = Batch::load_aligned(new_max);
  const Batch max1 = Batch::load_aligned(new_max + kLanes);
  Batch sum0(0.0f);
  Batch sum1(0.0f);
  for (size_t j = 0; j < keys; ++j) {
    Probs* at = probs + j * kPanelWidth;
    const Batch e0 = simd::softmax_exp(Batch::load_aligned(at) - max0);
    const Batch e1 = simd::softmax_exp(Batch::load_aligned(at + kLanes) - max1);
    if constexpr (kStore) {
      e0.store_aligned(at);
      e1.store_aligned(at + kLanes);
    }
    sum0 += e0;
    sum1 += e1;
  }
  for (size_t half = 0; half < kPanelWidth; half += kLanes) {
    const Batch max = half == 0 ? max0 : max1;
    const Batch factor = simd::softmax_exp(Batch::load_aligned(row_max + half) - max);
    simd::fma(Batch::load_aligned(row_sum + half), factor, half == 0 ? sum0 : sum1)
        .store_aligned(row_sum + half);
    max.store_aligned(row_max + half);
    if constexpr (kStore) factor.store_aligned(rescale + half);
  }
}

void update_softmax_sums(const float* probs, size_t keys, const float* new_max, float* row_max,
                         float* row_sum) {
  online_softmax_step(probs, keys, new_max, row_max, row_sum, nullptr);
}

void update_softmax(float* probs, size_t keys, const float* new_max, float* row_max, float* row_sum,
                    float* rescale) {
  online_softmax_step(probs, keys, new_max, row_max, row_sum, rescale);
}

size_t round_up(size_t n, size_t to) {
  return (n + to - 1) / to * to;
}

HeadView head_of(const AttentionProblem& problem, int64_t seq, int head) {
  const auto p = static_cast<size_t>(problem.shape.head_dim);
  const size_t ld = static_cast<size_t>(problem.shape.num_heads) * p;
  const auto begin = static_cast<size_t>(problem.seq_offsets[static_cast<size_t>(seq)]);
  const size_t offset = begin * ld + static_cast<size_t>(head) * p;
  const auto m = static_cast<size_t>(problem.seq_offsets[static_cast<size_t>(seq) + 1]) - begin;
  return HeadView{
      problem.q + offset, problem.k + offset, problem.v + offset, problem.out + offset, ld, m, p};
}

void check_shape(const AttentionShape& shape, const std::string& name) {
  if (shape.num_heads < 1 || shape.head_dim < 1) {
    throw Error(name + " attention: num_heads and head_dim must be >= 1, got " +
                std::to_string(shape.num_heads) + " and " + std::to_string(shape.head_dim));
  }
  if (shape.num_seqs < 0 || shape.total_tokens < 0 || shape.max_len < 0) {
    throw Error(name + " attention: negative num_seqs, total_tokens or max_len");
  }
}

void check_problem(const AttentionProblem& problem, const std::string& name) {
  const AttentionShape& shape = problem.shape;
  check_shape(shape, name);
  const auto& offsets = problem.seq_offsets;
  if (offsets.size() != static_cast<size_t>(shape.num_seqs + 1)) {
    throw Error(name + " attention: seq_offsets has " + std::to_string(offsets.size()) +
                " entries, expected num_seqs + 1 = " + std::to_string(shape.num_seqs + 1));
  }
  if (offsets.front() != 0 || offsets.back() != shape.total_tokens) {
    throw Error(name + " attention: seq_offsets must run from 0 to total_tokens = " +
                std::to_string(shape.total_tokens));
  }
  for (size_t s = 0; s + 1 < offsets.size(); ++s) {
    const int64_t len = offsets[s + 1] - offsets[s];
    if (len < 0 || len > shape.max_len) {
      throw Error(name + " attention: sequence " + std::to_string(s) + " has length " +
                  std::to_string(len) + ", outside [0, max_len = " + std::to_string(shape.max_len) +
                  "]");
    }
  }
  if (shape.total_tokens > 0 && (!problem.q || !problem.k || !problem.v || !problem.out)) {
    throw Error(name + " attention: q, k, v and out must not be null");
  }
}

BlockScratch carve_block_scratch(Carver& c, size_t p) {
  BlockScratch s;
  s.q_t = c.floats(p * kQueryBlock);
  s.out_t = c.floats(p * kQueryBlock);
  s.row_max = c.floats(kQueryBlock);
  s.row_sum = c.floats(kQueryBlock);
  s.keys = c.floats(kKeyBlock * p);
  s.values = c.floats(kKeyBlock * p);
  s.probs = c.floats(kKeyBlock * kPanelWidth);
  s.new_max = c.floats(kPanelWidth);
  s.rescale = c.floats(kPanelWidth);
  return s;
}

void softmax_attend(Rows queries, const int64_t* index, size_t rows, Rows keys, Rows values,
                    size_t p, float scale, size_t zero_keys, const BlockScratch& s, float* out,
                    size_t out_ld) {
  const auto stride = static_cast<ptrdiff_t>(p);
  const simd::StridedMatrix key_block{s.keys, stride, 1};
  const simd::StridedMatrix value_block_t{s.values, 1, stride};
  const auto row_of = [index](size_t r) { return index ? static_cast<size_t>(index[r]) : r; };
  for (size_t q0 = 0; q0 < rows; q0 += kQueryBlock) {
    const size_t count = std::min(kQueryBlock, rows - q0);
    const size_t padded = round_up(count, kPanelWidth);
    for (size_t i = 0; i < padded; ++i) {
      const float* q_row = i < count ? queries.data + row_of(q0 + i) * queries.ld : nullptr;
      for (size_t c = 0; c < p; ++c) s.q_t[c * kQueryBlock + i] = q_row ? q_row[c] * scale : 0.0f;
    }
    std::fill_n(s.row_max, padded, -std::numeric_limits<float>::infinity());
    std::fill_n(s.row_sum, padded, 0.0f);
    for (size_t key0 = 0; key0 < keys.count; key0 += kKeyBlock) {
      const size_t block = std::min(kKeyBlock, keys.count - key0);
      copy_rows(keys.data + key0 * keys.ld, keys.ld, block, p, s.keys);
      copy_rows(values.data + key0 * values.ld, values.ld, block, p, s.values);
      for (size_t panel = 0; panel < padded; panel += kPanelWidth) {
        std::copy_n(s.row_max + panel, kPanelWidth, s.new_max);
        simd::panel_matmul_max(s.q_t + panel, kQueryBlock, key_block, block, p, s.probs,
                               kPanelWidth, s.new_max);
        update_softmax(s.probs, block, s.new_max, s.row_max + panel, s.row_sum + panel, s.rescale);
        float* out_panel = s.out_t + panel;
        if (key0 == 0) {
          simd::panel_matmul(s.probs, kPanelWidth, value_block_t, p, block, out_panel, kQueryBlock);
        } else {
          simd::panel_matmul_scaled_add(s.probs, kPanelWidth, value_block_t, p, block, out_panel,
                                        kQueryBlock, s.rescale);
        }
      }
    }
    for (size_t i = 0; i < count; ++i) {
      float numerator_scale = 1.0f;
      float denominator = s.row_sum[i];
      if (zero_keys > 0) {  // keys with logit 0 and value 0 join the softmax
        const float max = std::max(s.row_max[i], 0.0f);
        numerator_scale = std::exp(s.row_max[i] - max);
        denominator =
            denominator * numerator_scale + static_cast<float>(zero_keys) * std::exp(-max);
      }
      const float factor = numerator_scale / denominator;
      float* out_row = out + row_of(q0 + i) * out_ld;
      for (size_t c = 0; c < p; ++c) out_row[c] = s.out_t[c * kQueryBlock + i] * factor;
    }
  }
}

void square_matmul(const float* x, const float* y, float* c, size_t n) {
  const simd::StridedMatrix left{x, static_cast<ptrdiff_t>(n), 1};
  for (size_t j0 = 0; j0 < n; j0 += kPanelWidth) {
    simd::panel_matmul(y + j0, n, left, n, n, c + j0, n);
  }
}

size_t threads_times(const AttentionShape& shape, int threads, size_t per_thread,
                     const std::string& name) {
  check_shape(shape, name);
  if (threads < 1) {
    throw Error(name + " attention: threads must be >= 1, got " + std::to_string(threads));
  }
  return static_cast<size_t>(threads) * per_thread;
}

void for_each_head(const AttentionProblem& problem, std::span<std::byte> workspace,
                   size_t per_thread, const std::string& name,
                   const std::function<void(int64_t, int, std::byte*)>& task) {
  if (reinterpret_cast<uintptr_t>(workspace.data()) % kWorkspaceAlignment != 0 ||
      workspace.size() < per_thread) {
    throw Error(name +
                " attention: workspace must be 64-byte aligned and hold workspace_bytes() = " +
                std::to_string(per_thread) + " bytes for one thread, got " +
                std::to_string(workspace.size()));
  }
  const int threads =
      static_cast<int>(std::min<size_t>(static_cast<size_t>(omp_get_max_threads()),
                                        workspace.size() / std::max<size_t>(per_thread, 1)));
  const int64_t heads = problem.shape.num_heads;
  const int64_t num_tasks = problem.shape.num_seqs * heads;
  std::byte* base = workspace.data();
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t t = 0; t < num_tasks; ++t) {
    task(t / heads, static_cast<int>(t % heads),
         base + static_cast<size_t>(omp_get_thread_num()) * per_thread);
  }
}

}  // namespace skein::attn
