#include "attention/skeinformer.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
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

using simd::Batch;
using simd::kLanes;
using simd::kPanelWidth;

// Query rows per block of the sketched pass, and keys per block of the pilot
// passes (the same blocking as exact attention, engine/src/attention/exact.cpp).
constexpr size_t kQueryBlock = 256;
constexpr size_t kKeyBlock = 192;
static_assert(kQueryBlock % kPanelWidth == 0);

// The pilot passes split a head's keys into chunks of whole key blocks: at
// least kMinChunkBlocks blocks, at most kMaxChunks chunks. The split depends on
// the sequence length only, and chunk results are merged in chunk order, so
// the output does not depend on the thread count.
constexpr size_t kMinChunkBlocks = 8;
constexpr size_t kMaxChunks = 64;

// (sequence, head) tasks whose per-head state is held at once. Bounds the
// workspace for large batches; enough tasks to keep the threads busy.
constexpr size_t kMaxWave = 16;

size_t key_blocks(size_t m) {
  return (m + kKeyBlock - 1) / kKeyBlock;
}

size_t chunk_keys(size_t m) {
  const size_t blocks = std::max(kMinChunkBlocks, (key_blocks(m) + kMaxChunks - 1) / kMaxChunks);
  return blocks * kKeyBlock;
}

size_t chunk_count(size_t m) {
  return m == 0 ? 0 : (m + chunk_keys(m) - 1) / chunk_keys(m);
}

// The most chunks any head of up to max_len tokens has (chunk_count is not
// monotonic in m: a longer sequence may get longer chunks).
size_t max_chunks(size_t max_len) {
  return std::min(kMaxChunks, std::max<size_t>(1, (max_len + kMinChunkBlocks * kKeyBlock - 1) /
                                                      (kMinChunkBlocks * kKeyBlock)));
}

// One candidate column of the sampler.
struct Candidate {
  double key;  // log(u) / w: the d largest are drawn
  int64_t index;
  double weight;
};

// Strict "a is drawn before b": larger key, ties to the smaller index.
bool better(const Candidate& a, const Candidate& b) {
  return a.key > b.key || (a.key == b.key && a.index < b.index);
}

// Keeps the `capacity` best candidates offered so far. Gumbel-top-k /
// exponential race (Efraimidis–Spirakis): the kept set is distributed as
// successive weighted draws without replacement. The kept set does not depend
// on the order of the offers, so per-chunk sets merge into the same result as
// one pass over all keys. Offers better than the worst kept at the last
// compaction collect in a buffer of 2·capacity; a full buffer is cut back to
// its best `capacity` by a selection. That costs O(1) per accepted offer,
// where a heap's sift with an unpredictable comparison per level cost more
// than the products of the key block.
class TopK {
 public:
  /// `storage` has room for 2·capacity candidates.
  TopK(Candidate* storage, size_t capacity) : buffer_(storage), capacity_(capacity) {}

  void offer(int64_t index, double weight, double uniform) {
    if (!(weight > 0.0)) return;  // zero weight: never drawn
    // Once `capacity` are kept most offers lose. log(u) <= u - 1 bounds the
    // key by (u - 1) / w, so a bound below the worst kept key (with a margin
    // far above rounding) rejects without the log.
    if (full_ && uniform - 1.0 < worst_.key * (1.0 + 1e-9) * weight) return;
    offer(Candidate{std::log(uniform) / weight, index, weight});
  }

  void offer(const Candidate& c) {
    if (capacity_ == 0 || (full_ && !better(c, worst_))) return;
    buffer_[size_++] = c;
    if (size_ == 2 * capacity_) compact();
  }

  /// The kept candidates, in no particular order.
  std::span<Candidate> kept() {
    if (size_ > capacity_) compact();
    return {buffer_, size_};
  }

  /// The kept candidates, sorted by index.
  std::span<Candidate> finish() {
    const std::span<Candidate> best = kept();
    std::sort(best.begin(), best.end(),
              [](const Candidate& a, const Candidate& b) { return a.index < b.index; });
    return best;
  }

 private:
  void compact() {
    std::nth_element(buffer_, buffer_ + capacity_ - 1, buffer_ + size_, better);
    size_ = capacity_;
    worst_ = buffer_[capacity_ - 1];
    full_ = true;
  }

  Candidate* buffer_;
  size_t capacity_;
  size_t size_ = 0;
  bool full_ = false;  // `capacity` kept, worst_ the worst of them
  Candidate worst_{};
};

bool uses_pilot(SkeinVariant variant) {
  return variant != SkeinVariant::kUniform;
}

bool reuses_pilot(SkeinVariant variant) {
  return variant == SkeinVariant::kSkeinformer || variant == SkeinVariant::kSimpleNorm ||
         variant == SkeinVariant::kNoNorm;
}

// The rows of one (sequence, head).
using Head = attn::HeadView;
using attn::round_up;

using attn::Carver;

// A thread's scratch. "_t" arrays are transposed (one row per feature, one
// column per query) because the kernels vectorise across queries.
struct Scratch {
  float* q_t;             // [kQueryBlock / kPanelWidth][p][kPanelWidth], panel-major
  float* out_t;           // [kQueryBlock / kPanelWidth][p][kPanelWidth], panel-major
  float* keys;            // [kKeyBlock][p]
  float* values_t;        // [p][kKeyBlock] a key block's values, transposed
  float* probs;           // [max(kKeyBlock, dpad)][kPanelWidth]
  float* col_acc;         // [kKeyBlock][kPanelWidth] per-lane Σ B_J[r, i]²
  float* v_norm2;         // [kKeyBlock] ‖v_i‖²
  double* uniforms;       // [kKeyBlock] the column draw's uniforms
  Candidate* candidates;  // [2 · dpad] a chunk's column draw (TopK storage)
  float* row_max;         // [kQueryBlock]
  float* row_sum;         // [kQueryBlock]
  float* new_max;         // [kPanelWidth]
  float* ones;            // [kPanelWidth]
  float* gmean;           // [kPanelWidth] e^(mean_j t_ij - max)
  float* denom;           // [kPanelWidth]

  Scratch(Carver& c, size_t p, size_t dpad)
      : q_t(c.take<float>(p * kQueryBlock)),
        out_t(c.take<float>(p * kQueryBlock)),
        keys(c.take<float>(kKeyBlock * p)),
        values_t(c.take<float>(p * kKeyBlock)),
        probs(c.take<float>(std::max(kKeyBlock, dpad) * kPanelWidth)),
        col_acc(c.take<float>(kKeyBlock * kPanelWidth)),
        v_norm2(c.take<float>(kKeyBlock)),
        uniforms(c.take<double>(kKeyBlock)),
        candidates(c.take<Candidate>(2 * dpad)),
        row_max(c.take<float>(kQueryBlock)),
        row_sum(c.take<float>(kQueryBlock)),
        new_max(c.take<float>(kPanelWidth)),
        ones(c.take<float>(kPanelWidth)),
        gmean(c.take<float>(kPanelWidth)),
        denom(c.take<float>(kPanelWidth)) {
    if (ones) std::fill_n(ones, kPanelWidth, 1.0f);
  }
};

// The state of one (sequence, head) between the phases of run(): the pilot,
// the per-chunk partial results of the pilot passes and the selection.
struct HeadState {
  Head h{};
  int64_t seq = 0;
  int head = 0;
  size_t d = 0;       // pilot rows and the column budget
  size_t dpad = 0;    // d rounded up to kPanelWidth
  size_t chunks = 0;  // key chunks of the pilot passes
  size_t selected = 0;
  double weight_sum = 0;  // Σ_i w_i over all keys (skein-nonorm)

  int64_t* pilot;        // [cap] pilot rows, draw order
  float* pilot_q_t;      // [p × cap, panel-major] pilot queries scaled by 1/√p, zero-padded
  float* pilot_max;      // [cap] row max of the pilot scores
  float* pilot_inv_sum;  // [cap] 1 / row sum (0 for padding rows)
  float* pilot_rows;     // [cap][p] exact pilot outputs
  float* sel_keys;       // [cap][p] the selected keys
  float* sel_values_t;   // [p][dpad] the selected values, transposed (× 1/(d'π_j): skein-nonorm)
  float* vrest;          // [p] ΣV − Σ_{J'} v_j
  double* sum_v;         // [p] ΣV
  Candidate* heap;       // [2 · cap] the merged column draw (TopK storage)
  // Per chunk c:
  float* chunk_max;      // [chunks][cap] pilot row max over the chunk's keys
  float* chunk_sum;      // [chunks][cap] Σ e^(s − chunk max) over the chunk's keys
  float* chunk_acc;      // [chunks][p × cap, panel-major] Σ B_J[r, i] v_i over the chunk's keys
  Candidate* chunk_top;  // [chunks][cap] the chunk's best column candidates
  size_t* chunk_top_count;   // [chunks]
  double* chunk_sum_v;       // [chunks][p]
  double* chunk_weight_sum;  // [chunks]

  // Tests: injected columns (skip the draw), every key's weight, the drawn columns.
  const std::vector<int64_t>* injected_columns = nullptr;
  std::vector<double>* all_weights = nullptr;
  std::vector<int64_t>* drawn_columns = nullptr;

  HeadState(Carver& c, size_t p, size_t cap, size_t chunk_capacity)
      : pilot(c.take<int64_t>(cap)),
        pilot_q_t(c.take<float>(p * cap)),
        pilot_max(c.take<float>(cap)),
        pilot_inv_sum(c.take<float>(cap)),
        pilot_rows(c.take<float>(cap * p)),
        sel_keys(c.take<float>(cap * p)),
        sel_values_t(c.take<float>(cap * p)),
        vrest(c.take<float>(p)),
        sum_v(c.take<double>(p)),
        heap(c.take<Candidate>(2 * cap)),
        chunk_max(c.take<float>(chunk_capacity * cap)),
        chunk_sum(c.take<float>(chunk_capacity * cap)),
        chunk_acc(c.take<float>(chunk_capacity * p * cap)),
        chunk_top(c.take<Candidate>(chunk_capacity * cap)),
        chunk_top_count(c.take<size_t>(chunk_capacity)),
        chunk_sum_v(c.take<double>(chunk_capacity * p)),
        chunk_weight_sum(c.take<double>(chunk_capacity)) {}

  size_t chunk_begin(size_t c) const { return c * chunk_keys(h.m); }
  size_t chunk_end(size_t c) const { return std::min(h.m, (c + 1) * chunk_keys(h.m)); }
};

// Bytes of one thread's scratch and of one HeadState.
size_t scratch_bytes(size_t p, size_t dpad) {
  return attn::carved_bytes([&](Carver& c) { Scratch{c, p, dpad}; });
}
size_t head_state_bytes(size_t p, size_t cap, size_t chunk_capacity) {
  return attn::carved_bytes([&](Carver& c) { HeadState{c, p, cap, chunk_capacity}; });
}

// Transposed arrays are panel-major: the p × kPanelWidth panel of queries
// [panel, panel + kPanelWidth) starts at panel · p and its rows are
// kPanelWidth floats apart. Contiguous panels keep the kernels' operands in
// distinct cache sets (a row stride of 1 KiB maps a panel's 32 rows onto 4 of
// the 64 L1 sets and evicts them).
size_t panel_major(size_t p, size_t i, size_t c) {
  return (i / kPanelWidth) * p * kPanelWidth + c * kPanelWidth + i % kPanelWidth;
}

// Query rows come from memory once per block; with the 32 scalar stores per row
// between them, the loads would wait on one cache miss after another. Asking for
// the row 16 ahead: 40.1–40.3 ms instead of 41.3–43.4 for the whole kernel at
// n = 65,536 (2 heads, AVX-512).
constexpr size_t kPrefetchRows = 16;
constexpr size_t kFloatsPerLine = 64 / sizeof(float);

// Fills q_t (panel-major, queries [0, padded)) with `rows` query rows (their
// indices given by `row_of`) scaled by `scale`, zero beyond `rows`.
template <class RowOf>
void load_queries_t(const Head& h, size_t rows, size_t padded, RowOf row_of, float scale,
                    float* q_t) {
  for (size_t i = 0; i < padded; ++i) {
    if (i + kPrefetchRows < rows) {
      const float* ahead = h.q + row_of(i + kPrefetchRows) * h.ld;
      for (size_t c = 0; c < h.p; c += kFloatsPerLine) __builtin_prefetch(ahead + c);
    }
    const float* q_row = i < rows ? h.q + row_of(i) * h.ld : nullptr;
    for (size_t c = 0; c < h.p; ++c) q_t[panel_major(h.p, i, c)] = q_row ? q_row[c] * scale : 0.0f;
  }
}

// Row max and row sum of e^(s − max) of the `padded` queries in q_t
// (panel-major) over the keys [begin, end), by an online softmax.
void softmax_stats(const Head& h, const Scratch& s, const float* q_t, size_t padded, size_t begin,
                   size_t end, float* row_max, float* row_sum) {
  std::fill_n(row_max, padded, -std::numeric_limits<float>::infinity());
  std::fill_n(row_sum, padded, 0.0f);
  const simd::StridedMatrix key_block{s.keys, static_cast<ptrdiff_t>(h.p), 1};
  for (size_t key0 = begin; key0 < end; key0 += kKeyBlock) {
    const size_t keys = std::min(kKeyBlock, end - key0);
    attn::copy_rows(h.k + key0 * h.ld, h.ld, keys, h.p, s.keys);
    for (size_t panel = 0; panel < padded; panel += kPanelWidth) {
      std::copy_n(row_max + panel, kPanelWidth, s.new_max);
      simd::panel_matmul_max(q_t + panel * h.p, kPanelWidth, key_block, keys, h.p, s.probs,
                             kPanelWidth, s.new_max);
      attn::update_softmax_sums(s.probs, keys, s.new_max, row_max + panel, row_sum + panel);
    }
  }
}

// Phase 1, one chunk: the pilot rows' max and sum over the chunk's keys.
void pilot_stats_chunk(HeadState& st, size_t c, const Scratch& s) {
  softmax_stats(st.h, s, st.pilot_q_t, st.dpad, st.chunk_begin(c), st.chunk_end(c),
                st.chunk_max + c * st.dpad, st.chunk_sum + c * st.dpad);
}

// Phase 1 merged over the chunks, in chunk order: pilot_max and pilot_inv_sum.
void merge_pilot_stats(HeadState& st) {
  for (size_t r = 0; r < st.dpad; ++r) {
    float max = -std::numeric_limits<float>::infinity();
    for (size_t c = 0; c < st.chunks; ++c) max = std::max(max, st.chunk_max[c * st.dpad + r]);
    float sum = 0.0f;
    for (size_t c = 0; c < st.chunks; ++c) {
      sum += st.chunk_sum[c * st.dpad + r] * std::exp(st.chunk_max[c * st.dpad + r] - max);
    }
    st.pilot_max[r] = max;
    st.pilot_inv_sum[r] = r < st.d ? 1.0f / sum : 0.0f;
  }
}

// `rows` rows of p floats (ld apart) into to[c·kKeyBlock + r]: the B_J·V tile
// then reads each feature's values in sequence.
void copy_transposed(const float* from, size_t ld, size_t rows, size_t p, float* to) {
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < p; ++c) to[c * kKeyBlock + r] = from[r * ld + c];
  }
}

// ‖v_j‖² of `keys` value rows (ld floats apart) into norm2, and the rows
// added to sum_v (in row order, in double).
void value_stats(const float* rows, size_t ld, size_t keys, size_t p, float* norm2, double* sum_v) {
  for (size_t j = 0; j < keys; ++j) {
    const float* row = rows + j * ld;
    size_t c = 0;
    Batch squares(0.0f);
    for (; c + kLanes <= p; c += kLanes) {
      const Batch v = Batch::load_unaligned(row + c);
      squares = simd::fma(v, v, squares);
    }
    float n2 = xsimd::hadd(squares);
    for (; c < p; ++c) n2 += row[c] * row[c];
    norm2[j] = n2;
    for (c = 0; c < p; ++c) sum_v[c] += row[c];
  }
}

// Phase 2, one chunk: B_J[r, i] = e^(s_ri − max_r) / sum_r for the chunk's
// keys i, their part of the exact pilot rows B_J·V, the column weights
// w_i = ‖B_J[:, i]‖·‖v_i‖ (1 without a pilot), ΣV, Σw and the chunk's best
// column candidates.
void pilot_weights_chunk(HeadState& st, size_t c, const Scratch& s, SkeinVariant variant,
                         const PhiloxStream& column_stream) {
  const Head& h = st.h;
  const bool pilot = uses_pilot(variant);
  const size_t begin = st.chunk_begin(c);
  const size_t end = st.chunk_end(c);
  double* sum_v = st.chunk_sum_v + c * h.p;
  std::fill_n(sum_v, h.p, 0.0);
  double weight_sum = 0.0;
  TopK top(s.candidates, st.injected_columns ? 0 : st.d);
  float* acc_t = st.chunk_acc + c * h.p * st.dpad;
  const auto stride = static_cast<ptrdiff_t>(h.p);
  const simd::StridedMatrix key_block{s.keys, stride, 1};
  const simd::StridedMatrix value_block_t{s.values_t, static_cast<ptrdiff_t>(kKeyBlock), 1};
  for (size_t key0 = begin; key0 < end; key0 += kKeyBlock) {
    const size_t keys = std::min(kKeyBlock, end - key0);
    if (pilot) {
      attn::copy_rows(h.k + key0 * h.ld, h.ld, keys, h.p, s.keys);
      copy_transposed(h.v + key0 * h.ld, h.ld, keys, h.p, s.values_t);
      std::fill_n(s.col_acc, keys * kPanelWidth, 0.0f);
      for (size_t panel = 0; panel < st.dpad; panel += kPanelWidth) {
        simd::panel_matmul_softmax_squares(st.pilot_q_t + panel * h.p, kPanelWidth, key_block, keys,
                                           h.p, s.probs, kPanelWidth, st.pilot_max + panel,
                                           st.pilot_inv_sum + panel, s.col_acc);
        if (key0 == begin) {
          simd::panel_matmul(s.probs, kPanelWidth, value_block_t, h.p, keys, acc_t + panel * h.p,
                             kPanelWidth);
        } else {
          simd::panel_matmul_scaled_add(s.probs, kPanelWidth, value_block_t, h.p, keys,
                                        acc_t + panel * h.p, kPanelWidth, s.ones);
        }
      }
    }
    value_stats(h.v + key0 * h.ld, h.ld, keys, h.p, s.v_norm2, sum_v);
    column_stream.uniform_doubles(key0, keys, s.uniforms);
    for (size_t j = 0; j < keys; ++j) {
      double weight = 1.0;
      if (pilot) {
        const float* col_acc = s.col_acc + j * kPanelWidth;
        const float b_norm2 =
            xsimd::hadd(Batch::load_aligned(col_acc) + Batch::load_aligned(col_acc + kLanes));
        weight = std::sqrt(double{b_norm2}) * std::sqrt(double{s.v_norm2[j]});
      }
      weight_sum += weight;
      if (st.all_weights) (*st.all_weights)[key0 + j] = weight;
      top.offer(static_cast<int64_t>(key0 + j), weight, s.uniforms[j]);
    }
  }
  const std::span<Candidate> best = top.kept();
  std::copy(best.begin(), best.end(), st.chunk_top + c * st.dpad);
  st.chunk_top_count[c] = best.size();
  st.chunk_weight_sum[c] = weight_sum;
}

// Phase 3: the exact pilot rows, ΣV and Σw merged over the chunks in chunk
// order, the column draw (the best candidates of all chunks), and the
// selected keys and values packed.
void select_columns(HeadState& st, SkeinVariant variant) {
  const Head& h = st.h;
  if (uses_pilot(variant)) {
    for (size_t r = 0; r < st.d; ++r) {
      for (size_t col = 0; col < h.p; ++col) {
        float sum = 0.0f;
        for (size_t c = 0; c < st.chunks; ++c) {
          sum += st.chunk_acc[c * h.p * st.dpad + panel_major(h.p, r, col)];
        }
        st.pilot_rows[r * h.p + col] = sum;
      }
    }
  }
  std::fill_n(st.sum_v, h.p, 0.0);
  st.weight_sum = 0.0;
  TopK top(st.heap, st.d);
  for (size_t c = 0; c < st.chunks; ++c) {
    for (size_t col = 0; col < h.p; ++col) st.sum_v[col] += st.chunk_sum_v[c * h.p + col];
    st.weight_sum += st.chunk_weight_sum[c];
    for (size_t i = 0; i < st.chunk_top_count[c]; ++i) top.offer(st.chunk_top[c * st.dpad + i]);
  }
  std::span<Candidate> chosen = top.finish();
  std::vector<Candidate> injected;
  if (st.injected_columns) {
    for (int64_t index : *st.injected_columns) {
      injected.push_back({0.0, index, (*st.all_weights)[static_cast<size_t>(index)]});
    }
    chosen = injected;
  }
  if (st.drawn_columns) {
    st.drawn_columns->clear();
    for (const Candidate& c : chosen) st.drawn_columns->push_back(c.index);
  }
  st.selected = chosen.size();
  // sum_v becomes ΣV − Σ_{J'} v_j in place (it stays ΣV when nothing is selected).
  double* rest = st.sum_v;
  for (size_t j = 0; j < chosen.size(); ++j) {
    const auto index = static_cast<size_t>(chosen[j].index);
    const float* k_row = h.k + index * h.ld;
    const float* v_row = h.v + index * h.ld;
    const float factor =
        variant == SkeinVariant::kNoNorm
            ? static_cast<float>(st.weight_sum /
                                 (static_cast<double>(chosen.size()) * chosen[j].weight))
            : 1.0f;
    for (size_t col = 0; col < h.p; ++col) {
      st.sel_keys[j * h.p + col] = k_row[col];
      st.sel_values_t[col * st.dpad + j] = v_row[col] * factor;
      rest[col] -= v_row[col];
    }
  }
  for (size_t col = 0; col < h.p; ++col) st.vrest[col] = static_cast<float>(rest[col]);
}

// Phase 4, one block of query rows: the sketched rows, then the block's pilot
// rows replaced by their exact values.
void sketch_block(const HeadState& st, size_t block, const Scratch& s, SkeinVariant variant) {
  const Head& h = st.h;
  const size_t q0 = block * kQueryBlock;
  const size_t rows = std::min(kQueryBlock, h.m - q0);
  const size_t dsel = st.selected;
  if (dsel == 0) {  // no column has positive weight: every row is the mean of V
    for (size_t i = q0; i < q0 + rows; ++i) {
      for (size_t c = 0; c < h.p; ++c) {
        h.out[i * h.ld + c] = static_cast<float>(st.sum_v[c] / static_cast<double>(h.m));
      }
    }
    return;
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(h.p));
  const auto stride = static_cast<ptrdiff_t>(h.p);
  const simd::StridedMatrix sel_key_rows{st.sel_keys, stride, 1};
  // Row c of B is feature c of the selected values: read in sequence by the tile.
  const simd::StridedMatrix sel_values_t{st.sel_values_t, static_cast<ptrdiff_t>(st.dpad), 1};
  const Batch unselected(static_cast<float>(h.m - dsel));
  const Batch inverse_dsel(1.0f / static_cast<float>(dsel));
  const bool nonorm = variant == SkeinVariant::kNoNorm;
  const bool simplenorm = variant == SkeinVariant::kSimpleNorm;
  const size_t padded = round_up(rows, kPanelWidth);
  load_queries_t(
      h, rows, padded, [q0](size_t i) { return q0 + i; }, scale, s.q_t);
  if (nonorm) softmax_stats(h, s, s.q_t, padded, 0, h.m, s.row_max, s.row_sum);
  for (size_t panel = 0; panel < padded; panel += kPanelWidth) {
    std::fill_n(s.new_max, kPanelWidth, -std::numeric_limits<float>::infinity());
    simd::panel_matmul_max(s.q_t + panel * h.p, kPanelWidth, sel_key_rows, dsel, h.p, s.probs,
                           kPanelWidth, s.new_max);
    // Both halves of the panel per key: four independent sums keep the
    // exponentials' latency hidden.
    const float* max_at = nonorm ? s.row_max + panel : s.new_max;
    const Batch max0 = Batch::load_aligned(max_at);
    const Batch max1 = Batch::load_aligned(max_at + kLanes);
    Batch t_sum0(0.0f), t_sum1(0.0f), e_sum0(0.0f), e_sum1(0.0f);
    for (size_t j = 0; j < dsel; ++j) {
      float* at = s.probs + j * kPanelWidth;
      const Batch t0 = Batch::load_aligned(at);
      const Batch t1 = Batch::load_aligned(at + kLanes);
      t_sum0 += t0;
      t_sum1 += t1;
      const Batch e0 = simd::softmax_exp(t0 - max0);
      const Batch e1 = simd::softmax_exp(t1 - max1);
      e0.store_aligned(at);
      e1.store_aligned(at + kLanes);
      e_sum0 += e0;
      e_sum1 += e1;
    }
    for (size_t half = 0; half < kPanelWidth; half += kLanes) {
      const Batch max = half == 0 ? max0 : max1;
      const Batch t_sum = half == 0 ? t_sum0 : t_sum1;
      const Batch e_sum = half == 0 ? e_sum0 : e_sum1;
      Batch g(0.0f);
      Batch denom = e_sum;
      if (nonorm) {
        denom = Batch::load_aligned(s.row_sum + panel + half);
      } else if (!simplenorm) {
        // mean_j t_ij <= max_j t_ij, so g <= 1: finite for any logits.
        g = simd::softmax_exp(t_sum * inverse_dsel - max);
        denom = simd::fma(unselected, g, e_sum);
      }
      g.store_aligned(s.gmean + half);
      denom.store_aligned(s.denom + half);
    }
    float* out_panel = s.out_t + panel * h.p;
    simd::panel_matmul(s.probs, kPanelWidth, sel_values_t, h.p, dsel, out_panel, kPanelWidth);
    for (size_t half = 0; half < kPanelWidth; half += kLanes) {
      const Batch g = Batch::load_aligned(s.gmean + half);
      const Batch inverse = Batch(1.0f) / Batch::load_aligned(s.denom + half);
      for (size_t c = 0; c < h.p; ++c) {
        float* at = out_panel + c * kPanelWidth + half;
        (simd::fma(g, Batch(st.vrest[c]), Batch::load_aligned(at)) * inverse).store_aligned(at);
      }
    }
  }
  for (size_t i = 0; i < rows; ++i) {
    float* out_row = h.out + (q0 + i) * h.ld;
    for (size_t c = 0; c < h.p; ++c) out_row[c] = s.out_t[panel_major(h.p, i, c)];
  }
  // The block's pilot rows replaced by their exact values.
  if (!reuses_pilot(variant)) return;
  for (size_t r = 0; r < st.d; ++r) {
    const auto row = static_cast<size_t>(st.pilot[r]);
    if (row < q0 || row >= q0 + rows) continue;
    for (size_t c = 0; c < h.p; ++c) h.out[row * h.ld + c] = st.pilot_rows[r * h.p + c];
  }
}

size_t query_blocks(const HeadState& st) {
  return st.chunks == 0 ? 0 : (st.h.m + kQueryBlock - 1) / kQueryBlock;
}

size_t features_for(int64_t features, int64_t m) {
  return static_cast<size_t>(std::max<int64_t>(0, std::min(features, m - 1)));
}

// Phase 0: the head's sizes, its pilot rows (drawn, or injected by tests)
// and their scaled queries. A head of one token is finished here (softmax
// over one key is the value itself); an empty one has nothing to do.
void setup_head(HeadState& st, const AttentionProblem& problem, int64_t seq, int head,
                SkeinVariant variant, int64_t features, const std::vector<int64_t>* pilot) {
  st.h = attn::head_of(problem, seq, head);
  st.seq = seq;
  st.head = head;
  st.chunks = 0;
  st.selected = 0;
  st.d = 0;
  const Head& h = st.h;
  if (h.m <= 1) {
    for (size_t c = 0; c < h.p && h.m == 1; ++c) h.out[c] = h.v[c];
    return;
  }
  st.d = features_for(features, static_cast<int64_t>(h.m));
  if (pilot && uses_pilot(variant)) st.d = pilot->size();
  st.dpad = round_up(std::max<size_t>(st.d, 1), kPanelWidth);
  st.chunks = chunk_count(h.m);
  if (!uses_pilot(variant)) return;
  if (pilot) {
    std::copy(pilot->begin(), pilot->end(), st.pilot);
  } else {
    const PhiloxStream stream(problem.seed, problem.layer, seq, PhiloxStream::kSequenceTag);
    for (size_t r = 0; r < st.d; ++r) st.pilot[r] = static_cast<int64_t>(stream.below(r, h.m));
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(h.p));
  load_queries_t(
      h, st.d, st.dpad, [&st](size_t r) { return static_cast<size_t>(st.pilot[r]); }, scale,
      st.pilot_q_t);
}

PhiloxStream column_stream(const AttentionProblem& problem, const HeadState& st) {
  return PhiloxStream(problem.seed, problem.layer, st.seq, static_cast<uint32_t>(st.head));
}

// Work items of a wave: (head state, chunk or query block), numbered across
// the wave's heads in order.
struct Item {
  size_t state;
  size_t index;
};
template <class Count>
Item locate(std::span<HeadState> states, size_t item, Count count) {
  size_t w = 0;
  while (item >= count(states[w])) item -= count(states[w++]);
  return {w, item};
}
template <class Count>
size_t total(std::span<HeadState> states, Count count) {
  size_t n = 0;
  for (const HeadState& st : states) n += count(st);
  return n;
}

size_t chunks_of(const HeadState& st) {
  return st.chunks;
}

}  // namespace

SkeinformerAttention::SkeinformerAttention(SkeinVariant variant, int64_t features)
    : variant_(variant), features_(features) {
  if (features < 1) {
    throw Error("attention method \"" + skein_variant_name(variant) +
                "\": features must be a positive integer, got " + std::to_string(features));
  }
}

std::string skein_variant_name(SkeinVariant variant) {
  switch (variant) {
    case SkeinVariant::kSkeinformer:
      return "skeinformer";
    case SkeinVariant::kUniform:
      return "skein-uniform";
    case SkeinVariant::kNoNorm:
      return "skein-nonorm";
    case SkeinVariant::kSimpleNorm:
      return "skein-simplenorm";
    case SkeinVariant::kNoPilot:
      return "skein-nopilot";
  }
  return "skeinformer";
}

std::string SkeinformerAttention::name() const {
  return skein_variant_name(variant_);
}

namespace {

// The workspace of run(): one Scratch per thread, then one HeadState per
// (sequence, head) of a wave.
struct Layout {
  size_t p;
  size_t dpad;
  size_t chunk_capacity;
  size_t wave;
  size_t per_thread;
  size_t per_state;

  Layout(const AttentionShape& shape, int64_t features) {
    p = static_cast<size_t>(shape.head_dim);
    dpad = round_up(std::max<size_t>(1, features_for(features, shape.max_len)), kPanelWidth);
    chunk_capacity = max_chunks(static_cast<size_t>(shape.max_len));
    const auto tasks = static_cast<size_t>(shape.num_seqs) * static_cast<size_t>(shape.num_heads);
    wave = std::clamp<size_t>(tasks, 1, kMaxWave);
    per_thread = scratch_bytes(p, dpad);
    per_state = head_state_bytes(p, dpad, chunk_capacity);
  }
  size_t bytes(size_t threads) const { return threads * per_thread + wave * per_state; }
};

}  // namespace

size_t SkeinformerAttention::workspace_bytes(const AttentionShape& shape, int threads) const {
  attn::check_shape(shape, name());
  if (threads < 1) {
    throw Error(name() + " attention: threads must be >= 1, got " + std::to_string(threads));
  }
  return Layout(shape, features_).bytes(static_cast<size_t>(threads));
}

void SkeinformerAttention::run(const AttentionProblem& problem,
                               std::span<std::byte> workspace) const {
  attn::check_problem(problem, name());
  const AttentionShape& shape = problem.shape;
  const Layout layout(shape, features_);
  if (reinterpret_cast<uintptr_t>(workspace.data()) % kWorkspaceAlignment != 0 ||
      workspace.size() < layout.bytes(1)) {
    throw Error(name() +
                " attention: workspace must be 64-byte aligned and hold workspace_bytes() = " +
                std::to_string(layout.bytes(1)) + " bytes for one thread, got " +
                std::to_string(workspace.size()));
  }
  const int threads = static_cast<int>(
      std::min<size_t>(static_cast<size_t>(omp_get_max_threads()),
                       (workspace.size() - layout.wave * layout.per_state) / layout.per_thread));
  std::byte* state_base = workspace.data() + static_cast<size_t>(threads) * layout.per_thread;
  std::vector<HeadState> states;
  states.reserve(layout.wave);
  for (size_t w = 0; w < layout.wave; ++w) {
    Carver carver(state_base + w * layout.per_state);
    states.emplace_back(carver, layout.p, layout.dpad, layout.chunk_capacity);
  }
  const auto num_tasks = static_cast<size_t>(shape.num_seqs * shape.num_heads);
  const SkeinVariant variant = variant_;
  const int64_t features = features_;
  const bool pilot = uses_pilot(variant);
  std::byte* scratch_base = workspace.data();
  // Every thread walks the same waves and phases; each phase is a work-shared
  // loop whose items write disjoint state, so the barriers between phases are
  // the only synchronisation. Items never depend on which thread runs them.
#pragma omp parallel num_threads(threads)
  {
    Carver carver(scratch_base + static_cast<size_t>(omp_get_thread_num()) * layout.per_thread);
    const Scratch scratch(carver, layout.p, layout.dpad);
    for (size_t first = 0; first < num_tasks; first += layout.wave) {
      const std::span<HeadState> wave(states.data(), std::min(layout.wave, num_tasks - first));
#pragma omp for schedule(dynamic, 1)
      for (size_t w = 0; w < wave.size(); ++w) {
        const size_t task = first + w;
        setup_head(wave[w], problem, static_cast<int64_t>(task / shape.num_heads),
                   static_cast<int>(task % shape.num_heads), variant, features, nullptr);
      }
      const size_t chunk_items = total(wave, chunks_of);
      if (pilot) {
#pragma omp for schedule(dynamic, 1)
        for (size_t item = 0; item < chunk_items; ++item) {
          const Item at = locate(wave, item, chunks_of);
          pilot_stats_chunk(wave[at.state], at.index, scratch);
        }
#pragma omp for schedule(dynamic, 1)
        for (size_t w = 0; w < wave.size(); ++w) merge_pilot_stats(wave[w]);
      }
#pragma omp for schedule(dynamic, 1)
      for (size_t item = 0; item < chunk_items; ++item) {
        const Item at = locate(wave, item, chunks_of);
        HeadState& st = wave[at.state];
        pilot_weights_chunk(st, at.index, scratch, variant, column_stream(problem, st));
      }
#pragma omp for schedule(dynamic, 1)
      for (size_t w = 0; w < wave.size(); ++w) {
        if (wave[w].chunks > 0) select_columns(wave[w], variant);
      }
      const size_t block_items = total(wave, query_blocks);
#pragma omp for schedule(dynamic, 1)
      for (size_t item = 0; item < block_items; ++item) {
        const Item at = locate(wave, item, query_blocks);
        sketch_block(wave[at.state], at.index, scratch, variant);
      }
    }
  }
}

namespace {

// One (sequence, head) through all phases on the calling thread, with
// injected indices or recording the drawn ones (tests).
void run_one_head(const AttentionProblem& problem, int64_t seq, int head, SkeinVariant variant,
                  int64_t features, const SkeinIndices* injected, SkeinIndices* record) {
  const int64_t m = problem.seq_offsets[static_cast<size_t>(seq) + 1] -
                    problem.seq_offsets[static_cast<size_t>(seq)];
  size_t cap = std::max<size_t>(1, features_for(features, m));
  if (injected) cap = std::max({cap, injected->pilot.size(), injected->columns.size()});
  cap = round_up(cap, kPanelWidth);
  const auto p = static_cast<size_t>(problem.shape.head_dim);
  const size_t chunk_capacity = max_chunks(static_cast<size_t>(std::max<int64_t>(m, 1)));
  std::vector<std::byte> bytes(scratch_bytes(p, cap) + head_state_bytes(p, cap, chunk_capacity) +
                               kWorkspaceAlignment);
  const auto address = reinterpret_cast<uintptr_t>(bytes.data());
  Carver carver(bytes.data() +
                (kWorkspaceAlignment - address % kWorkspaceAlignment) % kWorkspaceAlignment);
  const Scratch scratch(carver, p, cap);
  HeadState st(carver, p, cap, chunk_capacity);
  std::vector<double> all_weights;
  std::vector<int64_t> drawn;
  if (injected) {
    all_weights.resize(static_cast<size_t>(m));
    st.injected_columns = &injected->columns;
    st.all_weights = &all_weights;
  }
  if (record) st.drawn_columns = &drawn;
  setup_head(st, problem, seq, head, variant, features, injected ? &injected->pilot : nullptr);
  if (st.chunks > 0) {
    if (uses_pilot(variant)) {
      for (size_t c = 0; c < st.chunks; ++c) pilot_stats_chunk(st, c, scratch);
      merge_pilot_stats(st);
    }
    const PhiloxStream stream = column_stream(problem, st);
    for (size_t c = 0; c < st.chunks; ++c) pilot_weights_chunk(st, c, scratch, variant, stream);
    select_columns(st, variant);
    for (size_t b = 0; b < query_blocks(st); ++b) sketch_block(st, b, scratch, variant);
  }
  if (record) {
    record->pilot.assign(st.pilot, st.pilot + (uses_pilot(variant) ? st.d : 0));
    record->columns = drawn;
  }
}

}  // namespace

SkeinIndices SkeinformerAttention::draw_indices(const AttentionProblem& problem, int64_t seq,
                                                int head) const {
  attn::check_problem(problem, name());
  // Draw into a scratch copy of the output rows, so problem.out is untouched.
  AttentionProblem copy = problem;
  const size_t count = static_cast<size_t>(problem.shape.total_tokens) * problem.shape.num_heads *
                       problem.shape.head_dim;
  std::vector<float> out(count);
  copy.out = out.data();
  SkeinIndices indices;
  run_one_head(copy, seq, head, variant_, features_, nullptr, &indices);
  return indices;
}

void SkeinformerAttention::run_head_with_indices(const AttentionProblem& problem, int64_t seq,
                                                 int head, const SkeinIndices& indices) const {
  attn::check_problem(problem, name());
  const int64_t m = problem.seq_offsets[static_cast<size_t>(seq) + 1] -
                    problem.seq_offsets[static_cast<size_t>(seq)];
  for (int64_t c : indices.columns) {
    if (c < 0 || c >= m) throw Error("run_head_with_indices: column index out of range");
  }
  for (int64_t r : indices.pilot) {
    if (r < 0 || r >= m) throw Error("run_head_with_indices: pilot index out of range");
  }
  run_one_head(problem, seq, head, variant_, features_, &indices, nullptr);
}

double skeinformer_flops(std::span<const int64_t> seq_offsets, int num_heads, int head_dim,
                         int64_t features) {
  double flops = 0.0;
  for (size_t s = 0; s + 1 < seq_offsets.size(); ++s) {
    const int64_t n = seq_offsets[s + 1] - seq_offsets[s];
    flops += 8.0 * static_cast<double>(n) * static_cast<double>(features_for(features, n)) *
             head_dim * num_heads;
  }
  return flops;
}

std::vector<int64_t> sample_columns(std::span<const double> weights, size_t count,
                                    const PhiloxStream& stream) {
  std::vector<Candidate> storage(2 * count);
  TopK top(storage.data(), count);
  for (size_t i = 0; i < weights.size(); ++i) {
    top.offer(static_cast<int64_t>(i), weights[i], stream.uniform_double(i));
  }
  std::vector<int64_t> indices;
  for (const Candidate& c : top.finish()) indices.push_back(c.index);
  return indices;
}

double SkeinformerAttention::flops(std::span<const int64_t> seq_offsets, int num_heads,
                                   int head_dim) const {
  return skeinformer_flops(seq_offsets, num_heads, head_dim, features_);
}

}  // namespace skein
