// Shared parts of the baseline attention methods (nystrom, performer,
// linformer, informer, bigbird): problem checks, one (sequence, head) as a
// strided view, the per-thread dispatch over (sequence, head) tasks, and dense
// softmax attention of a set of queries against a set of keys, computed
// flash-attention style with the panel kernels (the same blocking as
// engine/src/attention/exact.cpp). exact.cpp and skeinformer.cpp use its row
// copy and online-softmax step; skeinformer.cpp its problem checks and head view.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>

#include "attention/attention.h"
#include "core/rng.h"

namespace skein::attn {

/// Words of the Philox stream (seed, layer, sequence, head), in order: word w
/// equals PhiloxStream(seed, layer, sequence, head).u32(w) (the counter layout
/// of core/rng.h), but each block of four words is computed once.
class PhiloxWords {
 public:
  PhiloxWords(uint64_t seed, int64_t layer, int64_t sequence, uint32_t head)
      : key_{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)},
        head_(head),
        sequence_(static_cast<uint32_t>(sequence)),
        layer_(static_cast<uint32_t>(layer)) {}
  uint32_t word(uint64_t w) {
    const uint64_t block = w >> 2;
    if (block != block_) {
      words_ = philox4x32_10({static_cast<uint32_t>(block), head_, sequence_, layer_}, key_);
      block_ = block;
    }
    return words_[w & 3];
  }

 private:
  std::array<uint32_t, 2> key_;
  uint32_t head_, sequence_, layer_;
  uint64_t block_ = std::numeric_limits<uint64_t>::max();
  std::array<uint32_t, 4> words_{};
};

/// Queries per block of softmax_attend(), keys per block of its key sweep.
inline constexpr size_t kQueryBlock = 256;
inline constexpr size_t kKeyBlock = 192;

size_t round_up(size_t n, size_t to);

/// `count` rows of p floats, row r at data + r·ld.
struct Rows {
  const float* data;
  size_t ld;
  size_t count;
};

/// One (sequence, head): pointers at the sequence's first row and the head's
/// first column; rows are ld floats apart.
struct HeadView {
  const float* q;
  const float* k;
  const float* v;
  float* out;
  size_t ld;
  size_t m;  // real tokens
  size_t p;  // head_dim
};

HeadView head_of(const AttentionProblem& problem, int64_t seq, int head);

/// rows × p floats from rows `ld` apart to contiguous `to`.
void copy_rows(const float* from, size_t ld, size_t rows, size_t p, float* to);

/// Online-softmax step of one kPanelWidth-wide panel: the scores in `probs`
/// ([keys][kPanelWidth]) become e^(score − new max), the running row sum is
/// rescaled to the new max and the max stored; `rescale` gets the factor
/// e^(old max − new max) for the caller's accumulator.
void update_softmax(float* probs, size_t keys, const float* new_max, float* row_max, float* row_sum,
                    float* rescale);

/// update_softmax for callers that need only the row max and sum (no
/// accumulator): `probs` is read, not overwritten, and no factor is returned.
void update_softmax_sums(const float* probs, size_t keys, const float* new_max, float* row_max,
                         float* row_sum);

/// Throws skein::Error (prefixed with `name`) on a bad shape or problem.
void check_shape(const AttentionShape& shape, const std::string& name);
void check_problem(const AttentionProblem& problem, const std::string& name);

/// Scratch of softmax_attend() for one thread.
struct BlockScratch {
  float* q_t;      // [p][kQueryBlock] scaled queries, transposed
  float* out_t;    // [p][kQueryBlock] unnormalised output, transposed
  float* row_max;  // [kQueryBlock]
  float* row_sum;  // [kQueryBlock]
  float* keys;     // [kKeyBlock][p]
  float* values;   // [kKeyBlock][p]
  float* probs;    // [kKeyBlock][kPanelWidth]
  float* new_max;  // [kPanelWidth]
  float* rescale;  // [kPanelWidth]
};

/// Bump allocator over a thread's workspace slice (64-byte aligned pieces). With a null base
/// it only counts: every piece is null and used() is the bytes the same carving takes, so a
/// scratch layout is written once, in its carve function.
class Carver {
 public:
  explicit Carver(std::byte* base) : base_(base) {}
  template <class T>
  T* take(size_t count) {
    T* at = base_ ? reinterpret_cast<T*>(base_ + used_) : nullptr;
    used_ += aligned_size(count * sizeof(T));
    return at;
  }
  float* floats(size_t count) { return take<float>(count); }
  double* doubles(size_t count) { return take<double>(count); }
  int64_t* ints(size_t count) { return take<int64_t>(count); }
  size_t used() const { return used_; }

 private:
  std::byte* base_;
  size_t used_ = 0;
};

/// The bytes carve(Carver&) takes, counted on a null base.
template <class Carve>
size_t carved_bytes(Carve carve) {
  Carver c(nullptr);
  carve(c);
  return c.used();
}

/// Carves a BlockScratch from `c`.
BlockScratch carve_block_scratch(Carver& c, size_t p);

/// Dense softmax attention: for r < rows, with query row i = index ? index[r] : r,
///   out[i] = Σ_j e^(scale·q_i·k_j) v_j / Σ_j e^(scale·q_i·k_j)
/// over the keys.count keys plus `zero_keys` extra keys with k = 0 and v = 0
/// (logit 0). Exponents are taken after subtracting the row maximum, so the
/// result is finite for any finite logits. keys.count >= 1.
void softmax_attend(Rows queries, const int64_t* index, size_t rows, Rows keys, Rows values,
                    size_t p, float scale, size_t zero_keys, const BlockScratch& s, float* out,
                    size_t out_ld);

/// C = X·Y for n × n row-major matrices (n a multiple of kPanelWidth, 64-byte aligned).
void square_matmul(const float* x, const float* y, float* c, size_t n);

/// Runs task(seq, head, thread_base) for every (sequence, head) of the problem
/// in an OpenMP region; thread t gets workspace + t·per_thread (the thread
/// count is capped by what the workspace holds). One task is computed by one
/// thread start to end, so results do not depend on thread count or schedule.
void for_each_head(const AttentionProblem& problem, std::span<std::byte> workspace,
                   size_t per_thread, const std::string& name,
                   const std::function<void(int64_t, int, std::byte*)>& task);

/// threads · per_thread after checking shape and threads.
size_t threads_times(const AttentionShape& shape, int threads, size_t per_thread,
                     const std::string& name);

}  // namespace skein::attn
