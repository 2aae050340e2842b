#include "attention/exact.h"

#include "attention/dense_block.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <skein/error.h>

#include "simd/batch.h"
#include "simd/exp.h"
#include "simd/panel_matmul.h"

namespace skein {
namespace {

using simd::Batch;
using simd::kLanes;
using simd::kPanelWidth;

// One task computes kQueryBlock query rows of one head of one sequence,
// sweeping the sequence's keys in blocks of kKeyBlock. Each key block is
// copied to contiguous scratch once per task, then every panel (kPanelWidth
// queries) of the query block reuses it from L2; one panel's score tile
// (kKeyBlock × kPanelWidth floats, 12 KiB) stays in L1.
//
// Measured on the build machine (single thread, n = 4096, 2 heads, CPU-time
// GFLOP/s, best of interleaved runs on a shared and noisy host):
// - query blocks of 64 rows: ~35; 128 or 256 rows: ~55 (fewer passes over K
//   and V per flop); copying key/value blocks to scratch instead of reading
//   them strided in place: ~58-67. Key blocks of 96-384 were within noise.
// - the products through simd::panel_matmul (xsimd register tiles): 58
//   (head_dim 32) and 66 (head_dim 64); the same online-softmax loop with
//   oneDNN 2.6 matmul primitives for Q·Kᵀ and P·V (row-major tiles, its best
//   blocks 256 × 512, full blocks only): 56.5 and 62.5. We keep the xsimd
//   kernels: slightly faster, any tail shape without extra primitives, and
//   they fuse the block max and the accumulator rescale into the products.
constexpr size_t kQueryBlock = 256;
constexpr size_t kKeyBlock = 192;
static_assert(kQueryBlock % kPanelWidth == 0);

size_t float_bytes(size_t count) {
  return aligned_size(count * sizeof(float));
}

// A thread's scratch, carved from the workspace. The "_t" arrays are
// transposed (one row per feature, one column per query) because the kernels
// vectorise across queries: running max/sum and rescaling are then lane-wise.
struct Scratch {
  float* queries_t;  // panel-major [head_dim × kQueryBlock]: the block's queries, scaled by 1/√p
  float* out_t;      // panel-major [head_dim × kQueryBlock]: unnormalised output accumulator
  float* keys;       // [kKeyBlock][head_dim]: the current key block
  float* values;     // [kKeyBlock][head_dim]: the current value block
  float* probs;      // [kKeyBlock][kPanelWidth]: one panel's scores, then e^(score - max)
  float* row_max;    // [kQueryBlock]: running max of each query's scores
  float* row_sum;    // [kQueryBlock]: running Σ e^(score - row_max)
  float* new_max;    // [kPanelWidth]: the current panel's max including the current key block
  float* rescale;    // [kPanelWidth]: e^(previous max - new max) for the current panel
};

size_t scratch_bytes(size_t head_dim) {
  return 2 * float_bytes(head_dim * kQueryBlock) + 2 * float_bytes(kKeyBlock * head_dim) +
         float_bytes(kKeyBlock * kPanelWidth) + 2 * float_bytes(kQueryBlock) +
         2 * float_bytes(kPanelWidth);
}

Scratch carve_scratch(std::byte* base, size_t head_dim) {
  auto take = [&base](size_t count) {
    float* floats = reinterpret_cast<float*>(base);
    base += float_bytes(count);
    return floats;
  };
  Scratch s;
  s.queries_t = take(head_dim * kQueryBlock);
  s.out_t = take(head_dim * kQueryBlock);
  s.keys = take(kKeyBlock * head_dim);
  s.values = take(kKeyBlock * head_dim);
  s.probs = take(kKeyBlock * kPanelWidth);
  s.row_max = take(kQueryBlock);
  s.row_sum = take(kQueryBlock);
  s.new_max = take(kPanelWidth);
  s.rescale = take(kPanelWidth);
  return s;
}

// Shared part of the workspace: the index of each sequence's first task.
size_t task_index_bytes(int64_t num_seqs) {
  return aligned_size(static_cast<size_t>(num_seqs + 1) * sizeof(int64_t));
}

int64_t query_blocks(int64_t seq_len) {
  const auto block = static_cast<int64_t>(kQueryBlock);
  return (seq_len + block - 1) / block;
}

void check_shape(const AttentionShape& shape) {
  if (shape.num_heads < 1 || shape.head_dim < 1) {
    throw Error("exact attention: num_heads and head_dim must be >= 1, got " +
                std::to_string(shape.num_heads) + " and " + std::to_string(shape.head_dim));
  }
  if (shape.num_seqs < 0 || shape.total_tokens < 0) {
    throw Error("exact attention: negative num_seqs or total_tokens");
  }
}

void check_problem(const AttentionProblem& problem) {
  const AttentionShape& shape = problem.shape;
  check_shape(shape);
  const auto& offsets = problem.seq_offsets;
  if (offsets.size() != static_cast<size_t>(shape.num_seqs + 1)) {
    throw Error("exact attention: seq_offsets has " + std::to_string(offsets.size()) +
                " entries, expected num_seqs + 1 = " + std::to_string(shape.num_seqs + 1));
  }
  if (offsets.front() != 0 || offsets.back() != shape.total_tokens) {
    throw Error("exact attention: seq_offsets must run from 0 to total_tokens = " +
                std::to_string(shape.total_tokens));
  }
  if (!std::is_sorted(offsets.begin(), offsets.end())) {
    throw Error("exact attention: seq_offsets must be non-decreasing");
  }
  if (shape.total_tokens > 0 && (!problem.q || !problem.k || !problem.v || !problem.out)) {
    throw Error("exact attention: q, k, v and out must not be null");
  }
}

// queries_t and out_t are panel-major: the head_dim × kPanelWidth panel of
// queries [panel, panel + kPanelWidth) starts at panel · head_dim, its rows
// kPanelWidth floats apart. (With one row per feature across the whole block,
// rows 1 KiB apart, a panel's rows share 4 of the 64 L1 sets and evict each other.)
size_t panel_major(size_t head_dim, size_t i, size_t d) {
  return (i / kPanelWidth) * head_dim * kPanelWidth + d * kPanelWidth + i % kPanelWidth;
}

struct QueryBlock {
  int64_t seq_begin;  // first row of the sequence
  int64_t seq_len;
  int64_t first_query;  // within the sequence
  int64_t queries;
  int64_t head;
};

void attend(const AttentionProblem& problem, const QueryBlock& block, const Scratch& s) {
  const auto head_dim = static_cast<size_t>(problem.shape.head_dim);
  const size_t ld = static_cast<size_t>(problem.shape.num_heads) * head_dim;
  const size_t column = static_cast<size_t>(block.head) * head_dim;
  const auto queries = static_cast<size_t>(block.queries);
  const size_t padded = (queries + kPanelWidth - 1) / kPanelWidth * kPanelWidth;

  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const float* q_rows =
      problem.q + static_cast<size_t>(block.seq_begin + block.first_query) * ld + column;
  for (size_t i = 0; i < padded; ++i) {
    for (size_t d = 0; d < head_dim; ++d) {
      s.queries_t[panel_major(head_dim, i, d)] = i < queries ? q_rows[i * ld + d] * scale : 0.0f;
    }
  }
  std::fill_n(s.row_max, padded, -std::numeric_limits<float>::infinity());
  std::fill_n(s.row_sum, padded, 0.0f);

  const float* k_seq = problem.k + static_cast<size_t>(block.seq_begin) * ld + column;
  const float* v_seq = problem.v + static_cast<size_t>(block.seq_begin) * ld + column;
  const auto seq_len = static_cast<size_t>(block.seq_len);
  // The key block is the row-major left factor of scoresᵀ = K·Q_blockᵀ (depth
  // = features); the value block, read transposed, that of outᵀ = Vᵀ·Pᵀ (depth = keys).
  const auto feature_stride = static_cast<ptrdiff_t>(head_dim);
  const simd::StridedMatrix key_block{s.keys, feature_stride, 1};
  const simd::StridedMatrix value_block_t{s.values, 1, feature_stride};
  for (size_t key0 = 0; key0 < seq_len; key0 += kKeyBlock) {
    const size_t keys = std::min(kKeyBlock, seq_len - key0);
    attn::copy_rows(k_seq + key0 * ld, ld, keys, head_dim, s.keys);
    attn::copy_rows(v_seq + key0 * ld, ld, keys, head_dim, s.values);
    for (size_t panel = 0; panel < padded; panel += kPanelWidth) {
      std::copy_n(s.row_max + panel, kPanelWidth, s.new_max);
      simd::panel_matmul_max(s.queries_t + panel * head_dim, kPanelWidth, key_block, keys, head_dim,
                             s.probs, kPanelWidth, s.new_max);
      attn::update_softmax(s.probs, keys, s.new_max, s.row_max + panel, s.row_sum + panel,
                           s.rescale);
      float* out_panel = s.out_t + panel * head_dim;
      if (key0 == 0) {
        simd::panel_matmul(s.probs, kPanelWidth, value_block_t, head_dim, keys, out_panel,
                           kPanelWidth);
      } else {
        simd::panel_matmul_scaled_add(s.probs, kPanelWidth, value_block_t, head_dim, keys,
                                      out_panel, kPanelWidth, s.rescale);
      }
    }
  }

  float* out_rows =
      problem.out + static_cast<size_t>(block.seq_begin + block.first_query) * ld + column;
  for (size_t i = 0; i < queries; ++i) {
    const float inverse_sum = 1.0f / s.row_sum[i];
    for (size_t d = 0; d < head_dim; ++d) {
      out_rows[i * ld + d] = s.out_t[panel_major(head_dim, i, d)] * inverse_sum;
    }
  }
}

}  // namespace

size_t ExactAttention::workspace_bytes(const AttentionShape& shape, int threads) const {
  check_shape(shape);
  if (threads < 1) {
    throw Error("exact attention: threads must be >= 1, got " + std::to_string(threads));
  }
  return task_index_bytes(shape.num_seqs) +
         static_cast<size_t>(threads) * scratch_bytes(static_cast<size_t>(shape.head_dim));
}

void ExactAttention::run(const AttentionProblem& problem, std::span<std::byte> workspace) const {
  check_problem(problem);
  const AttentionShape& shape = problem.shape;
  const auto head_dim = static_cast<size_t>(shape.head_dim);
  const size_t shared = task_index_bytes(shape.num_seqs);
  const size_t per_thread = scratch_bytes(head_dim);
  if (reinterpret_cast<uintptr_t>(workspace.data()) % kWorkspaceAlignment != 0 ||
      workspace.size() < shared + per_thread) {
    throw Error("exact attention: workspace must be 64-byte aligned and hold workspace_bytes() = " +
                std::to_string(shared + per_thread) + " bytes for one thread, got " +
                std::to_string(workspace.size()));
  }
  // A workspace sized for fewer threads than OpenMP offers caps the thread
  // count; results do not depend on it.
  const int threads = static_cast<int>(std::min<size_t>(static_cast<size_t>(omp_get_max_threads()),
                                                        (workspace.size() - shared) / per_thread));

  // Tasks are (sequence, head, query block), numbered sequence-major.
  auto* first_task = reinterpret_cast<int64_t*>(workspace.data());
  const auto& offsets = problem.seq_offsets;
  first_task[0] = 0;
  for (int64_t seq = 0; seq < shape.num_seqs; ++seq) {
    first_task[seq + 1] =
        first_task[seq] + shape.num_heads * query_blocks(offsets[seq + 1] - offsets[seq]);
  }
  const int64_t num_tasks = first_task[shape.num_seqs];
  const int64_t* const task_begin = first_task;
  const int64_t* const task_end = first_task + shape.num_seqs + 1;

  std::byte* scratch_base = workspace.data() + shared;
#pragma omp parallel num_threads(threads)
  {
    const Scratch scratch = carve_scratch(
        scratch_base + static_cast<size_t>(omp_get_thread_num()) * per_thread, head_dim);
    // Dynamic: tasks of different sequences differ in cost (∝ length). Each
    // output element is computed by one task in a fixed order, so results are
    // identical for any thread count and schedule.
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < num_tasks; ++task) {
      const int64_t seq = std::upper_bound(task_begin, task_end, task) - task_begin - 1;
      const int64_t seq_len = offsets[seq + 1] - offsets[seq];
      const int64_t blocks = query_blocks(seq_len);
      const int64_t within = task - first_task[seq];
      QueryBlock block;
      block.seq_begin = offsets[seq];
      block.seq_len = seq_len;
      block.head = within / blocks;
      block.first_query = (within % blocks) * static_cast<int64_t>(kQueryBlock);
      block.queries = std::min(static_cast<int64_t>(kQueryBlock), seq_len - block.first_query);
      attend(problem, block, scratch);
    }
  }
}

double exact_attention_flops(std::span<const int64_t> seq_offsets, int num_heads, int head_dim) {
  double flops = 0.0;
  for (size_t s = 0; s + 1 < seq_offsets.size(); ++s) {
    const auto n = static_cast<double>(seq_offsets[s + 1] - seq_offsets[s]);
    flops += 4.0 * n * n * head_dim * num_heads;
  }
  return flops;
}

void exact_attention_ref(const AttentionProblem& problem) {
  const AttentionShape& shape = problem.shape;
  const auto head_dim = static_cast<size_t>(shape.head_dim);
  const size_t ld = static_cast<size_t>(shape.num_heads) * head_dim;
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  std::vector<double> scores;
  std::vector<double> acc(head_dim);
  for (size_t s = 0; s + 1 < problem.seq_offsets.size(); ++s) {
    const auto begin = static_cast<size_t>(problem.seq_offsets[s]);
    const auto end = static_cast<size_t>(problem.seq_offsets[s + 1]);
    scores.resize(end - begin);
    for (size_t h = 0; h < static_cast<size_t>(shape.num_heads); ++h) {
      const size_t column = h * head_dim;
      for (size_t i = begin; i < end; ++i) {
        double max_score = -std::numeric_limits<double>::infinity();
        for (size_t j = begin; j < end; ++j) {
          double dot = 0.0;
          for (size_t d = 0; d < head_dim; ++d) {
            dot += double{problem.q[i * ld + column + d]} * double{problem.k[j * ld + column + d]};
          }
          scores[j - begin] = dot * scale;
          max_score = std::max(max_score, scores[j - begin]);
        }
        double total = 0.0;
        for (double& score : scores) {
          score = std::exp(score - max_score);
          total += score;
        }
        std::fill(acc.begin(), acc.end(), 0.0);
        for (size_t j = begin; j < end; ++j) {
          for (size_t d = 0; d < head_dim; ++d) {
            acc[d] += scores[j - begin] * double{problem.v[j * ld + column + d]};
          }
        }
        for (size_t d = 0; d < head_dim; ++d) {
          problem.out[i * ld + column + d] = static_cast<float>(acc[d] / total);
        }
      }
    }
  }
}

double ExactAttention::flops(std::span<const int64_t> seq_offsets, int num_heads,
                             int head_dim) const {
  return exact_attention_flops(seq_offsets, num_heads, head_dim);
}

}  // namespace skein
