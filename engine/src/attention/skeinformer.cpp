#include "attention/skeinformer.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <skein/error.h>

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

// The pilot block's probabilities from pass 1 are kept for pass 2 (instead of
// recomputing scores and exponentials) for as many key blocks as fit in this
// budget per thread; the remaining blocks are recomputed. Measured on the
// build machine (1 thread, 2 heads, n = 16384, d = 256, process CPU time, two
// interleaved runs each on a heavily loaded host): recomputing every block
// 73 and 68 ms, storing every block 59 and 64 ms.
constexpr size_t kStoreBudgetBytes = size_t{32} << 20;

size_t key_blocks(size_t m) {
  return (m + kKeyBlock - 1) / kKeyBlock;
}

// Key blocks of a head with `dpad` padded pilot rows whose probabilities are stored.
size_t stored_blocks(size_t m, size_t dpad) {
  return std::min(key_blocks(m), kStoreBudgetBytes / (dpad * kKeyBlock * sizeof(float)));
}

size_t round_up(size_t n, size_t to) {
  return (n + to - 1) / to * to;
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

// Keeps the `capacity` best candidates offered so far in a heap whose front is
// the worst of them. Gumbel-top-k / exponential race (Efraimidis–Spirakis):
// the kept set is distributed as successive weighted draws without replacement.
class TopK {
 public:
  TopK(Candidate* storage, size_t capacity) : heap_(storage), capacity_(capacity) {}

  void offer(int64_t index, double weight, double uniform) {
    if (!(weight > 0.0) || capacity_ == 0) return;  // zero weight: never drawn
    const Candidate c{std::log(uniform) / weight, index, weight};
    if (size_ < capacity_) {
      heap_[size_++] = c;
      std::push_heap(heap_, heap_ + size_, better);
    } else if (better(c, heap_[0])) {
      std::pop_heap(heap_, heap_ + size_, better);
      heap_[size_ - 1] = c;
      std::push_heap(heap_, heap_ + size_, better);
    }
  }

  /// The kept candidates, sorted by index.
  std::span<Candidate> finish() {
    std::sort(heap_, heap_ + size_,
              [](const Candidate& a, const Candidate& b) { return a.index < b.index; });
    return {heap_, size_};
  }

 private:
  Candidate* heap_;
  size_t capacity_;
  size_t size_ = 0;
};

bool uses_pilot(SkeinVariant variant) {
  return variant != SkeinVariant::kUniform;
}

bool reuses_pilot(SkeinVariant variant) {
  return variant == SkeinVariant::kSkeinformer || variant == SkeinVariant::kSimpleNorm ||
         variant == SkeinVariant::kNoNorm;
}

// The rows of one (sequence, head): pointers at the sequence's first row and
// the head's first column.
struct Head {
  const float* q;
  const float* k;
  const float* v;
  float* out;
  size_t ld;  // floats between rows
  size_t m;   // tokens
  size_t p;   // head_dim
};

// A thread's scratch. "_t" arrays are transposed (one row per feature, one
// column per query) because the kernels vectorise across queries.
struct Scratch {
  size_t dpad;         // capacity in pilot rows / columns, a multiple of kPanelWidth
  float* pilot_q_t;    // [p][dpad] pilot queries scaled by 1/√p, zero-padded
  float* pilot_acc_t;  // [p][dpad] unnormalised B_J·V accumulator
  float* pilot_max;    // [dpad] row max of the pilot scores
  float* pilot_sum;    // [dpad] row sum, then its inverse (0 for padding rows)
  float* pilot_rows;   // [dpad][p] exact pilot outputs
  float* q_t;          // [p][kQueryBlock]
  float* out_t;        // [p][kQueryBlock]
  float* keys;         // [kKeyBlock][p]
  float* values;       // [kKeyBlock][p]
  float* probs;        // [max(kKeyBlock, dpad)][kPanelWidth]
  float* col_acc;      // [kKeyBlock][kPanelWidth] per-lane Σ B_J[r, i]²
  float* row_max;      // [kQueryBlock]
  float* row_sum;      // [kQueryBlock]
  float* new_max;      // [kPanelWidth]
  float* rescale;      // [kPanelWidth]
  float* gmean;        // [kPanelWidth] e^(mean_j t_ij - max)
  float* denom;        // [kPanelWidth]
  float* sel_keys;     // [dpad][p] the selected keys
  float* sel_values;   // [dpad][p] the selected values (times 1/(d'π_j) for skein-nonorm)
  float* vrest;        // [p] ΣV − Σ_{J'} v_j
  double* sum_v;       // [p] ΣV, then ΣV − Σ_{J'} v_j when d' > 0
  int64_t* pilot;      // [dpad]
  Candidate* heap;     // [dpad]
  float* store;        // stored pilot probabilities: [block][panel][kKeyBlock][kPanelWidth]
  float* block_max;    // [block][dpad] pilot row max after each stored block
};

// Capacities of the store and block_max arrays for heads of up to max_len tokens.
size_t store_floats(size_t dpad, size_t max_len) {
  return std::min(kStoreBudgetBytes / sizeof(float), dpad * key_blocks(max_len) * kKeyBlock);
}
size_t block_max_floats(size_t dpad, size_t max_len) {
  return std::min(kStoreBudgetBytes / (sizeof(float) * kKeyBlock), dpad * key_blocks(max_len));
}

size_t scratch_bytes(size_t p, size_t dpad, size_t max_len) {
  const auto f = [](size_t count) { return aligned_size(count * sizeof(float)); };
  return 2 * f(p * dpad) + 2 * f(dpad) + f(dpad * p) + 2 * f(p * kQueryBlock) +
         2 * f(kKeyBlock * p) + f(std::max(kKeyBlock, dpad) * kPanelWidth) +
         f(kKeyBlock * kPanelWidth) + 2 * f(kQueryBlock) + 4 * f(kPanelWidth) + 2 * f(dpad * p) +
         f(p) + aligned_size(p * sizeof(double)) + aligned_size(dpad * sizeof(int64_t)) +
         aligned_size(dpad * sizeof(Candidate)) + f(store_floats(dpad, max_len)) +
         f(block_max_floats(dpad, max_len));
}

Scratch carve_scratch(std::byte* base, size_t p, size_t dpad, size_t max_len) {
  auto take = [&base](size_t bytes) {
    std::byte* at = base;
    base += aligned_size(bytes);
    return at;
  };
  auto floats = [&take](size_t count) {
    return reinterpret_cast<float*>(take(count * sizeof(float)));
  };
  Scratch s;
  s.dpad = dpad;
  s.pilot_q_t = floats(p * dpad);
  s.pilot_acc_t = floats(p * dpad);
  s.pilot_max = floats(dpad);
  s.pilot_sum = floats(dpad);
  s.pilot_rows = floats(dpad * p);
  s.q_t = floats(p * kQueryBlock);
  s.out_t = floats(p * kQueryBlock);
  s.keys = floats(kKeyBlock * p);
  s.values = floats(kKeyBlock * p);
  s.probs = floats(std::max(kKeyBlock, dpad) * kPanelWidth);
  s.col_acc = floats(kKeyBlock * kPanelWidth);
  s.row_max = floats(kQueryBlock);
  s.row_sum = floats(kQueryBlock);
  s.new_max = floats(kPanelWidth);
  s.rescale = floats(kPanelWidth);
  s.gmean = floats(kPanelWidth);
  s.denom = floats(kPanelWidth);
  s.sel_keys = floats(dpad * p);
  s.sel_values = floats(dpad * p);
  s.vrest = floats(p);
  s.sum_v = reinterpret_cast<double*>(take(p * sizeof(double)));
  s.pilot = reinterpret_cast<int64_t*>(take(dpad * sizeof(int64_t)));
  s.heap = reinterpret_cast<Candidate*>(take(dpad * sizeof(Candidate)));
  s.store = floats(store_floats(dpad, max_len));
  s.block_max = floats(block_max_floats(dpad, max_len));
  return s;
}

// rows × p floats from rows `ld` apart to contiguous `to`.
void copy_rows(const float* from, size_t ld, size_t rows, size_t p, float* to) {
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < p; ++c) to[r * p + c] = from[r * ld + c];
  }
}

// Online-softmax step of one panel (see exact.cpp): scores in `probs` become
// e^(score − new max), the running sum is rescaled, `rescale` gets the factor.
void update_softmax(float* probs, size_t keys, const float* new_max, float* row_max, float* row_sum,
                    float* rescale) {
  for (size_t half = 0; half < kPanelWidth; half += kLanes) {
    const Batch max = Batch::load_aligned(new_max + half);
    Batch block_sum(0.0f);
    for (size_t j = 0; j < keys; ++j) {
      float* at = probs + j * kPanelWidth + half;
      const Batch e = simd::exp(Batch::load_aligned(at) - max);
      e.store_aligned(at);
      block_sum += e;
    }
    const Batch factor = simd::exp(Batch::load_aligned(row_max + half) - max);
    xsimd::fma(Batch::load_aligned(row_sum + half), factor, block_sum)
        .store_aligned(row_sum + half);
    max.store_aligned(row_max + half);
    factor.store_aligned(rescale + half);
  }
}

// Fills q_t ([p][ld_t], columns [0, padded)) with `rows` query rows (their
// indices given by `row_of`) scaled by `scale`, zero beyond `rows`.
template <class RowOf>
void load_queries_t(const Head& h, size_t rows, size_t padded, RowOf row_of, float scale,
                    float* q_t, size_t ld_t) {
  for (size_t i = 0; i < padded; ++i) {
    const float* q_row = i < rows ? h.q + row_of(i) * h.ld : nullptr;
    for (size_t c = 0; c < h.p; ++c) q_t[c * ld_t + i] = q_row ? q_row[c] * scale : 0.0f;
  }
}

// Online softmax over all keys for the `padded` queries in q_t (leading
// dimension ld_t): leaves their row max and row sum, and when `acc_t` is not
// null the unnormalised Σ e^(s − max) v in acc_t ([p][ld_t]).
// The first `store` key blocks' probabilities e^(s − running max) go to
// s.store and the running max after each of them to s.block_max.
void full_softmax_pass(const Head& h, const Scratch& s, const float* q_t, size_t ld_t,
                       size_t padded, float* row_max, float* row_sum, float* acc_t,
                       size_t store = 0) {
  std::fill_n(row_max, padded, -std::numeric_limits<float>::infinity());
  std::fill_n(row_sum, padded, 0.0f);
  const auto stride = static_cast<ptrdiff_t>(h.p);
  const simd::StridedMatrix key_block{s.keys, stride, 1};
  const simd::StridedMatrix value_block_t{s.values, 1, stride};
  for (size_t key0 = 0; key0 < h.m; key0 += kKeyBlock) {
    const size_t keys = std::min(kKeyBlock, h.m - key0);
    copy_rows(h.k + key0 * h.ld, h.ld, keys, h.p, s.keys);
    if (acc_t) copy_rows(h.v + key0 * h.ld, h.ld, keys, h.p, s.values);
    for (size_t panel = 0; panel < padded; panel += kPanelWidth) {
      std::copy_n(row_max + panel, kPanelWidth, s.new_max);
      simd::panel_matmul_max(q_t + panel, ld_t, key_block, keys, h.p, s.probs, kPanelWidth,
                             s.new_max);
      update_softmax(s.probs, keys, s.new_max, row_max + panel, row_sum + panel, s.rescale);
      const size_t block = key0 / kKeyBlock;
      if (block < store) {
        std::copy_n(s.probs, keys * kPanelWidth,
                    s.store + (block * (padded / kPanelWidth) + panel / kPanelWidth) * kKeyBlock *
                                  kPanelWidth);
        std::copy_n(row_max + panel, kPanelWidth, s.block_max + block * padded + panel);
      }
      if (!acc_t) continue;
      if (key0 == 0) {
        simd::panel_matmul(s.probs, kPanelWidth, value_block_t, h.p, keys, acc_t + panel, ld_t);
      } else {
        simd::panel_matmul_scaled_add(s.probs, kPanelWidth, value_block_t, h.p, keys, acc_t + panel,
                                      ld_t, s.rescale);
      }
    }
  }
}

struct Selection {
  size_t count = 0;       // d'
  double weight_sum = 0;  // Σ_i w_i over all keys (skein-nonorm)
};

// Pilot pass 1 (exact pilot rows, their softmax max and sums), pilot pass 2
// (column norms of B_J, ΣV, the column draw), then the selected keys and
// values packed. With `injected_columns` the draw is skipped; `all_weights`
// (if not null, size m) receives every w_i.
Selection prepare(const Head& h, const Scratch& s, SkeinVariant variant, size_t d,
                  const PhiloxStream& column_stream, const std::vector<int64_t>* injected_columns,
                  std::vector<double>* all_weights, std::vector<int64_t>* drawn_columns) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(h.p));
  const size_t dpad = round_up(d, kPanelWidth);
  const bool pilot = uses_pilot(variant);
  if (pilot) {
    load_queries_t(
        h, d, dpad, [&s](size_t r) { return static_cast<size_t>(s.pilot[r]); }, scale, s.pilot_q_t,
        dpad);
    full_softmax_pass(h, s, s.pilot_q_t, dpad, dpad, s.pilot_max, s.pilot_sum, s.pilot_acc_t,
                      stored_blocks(h.m, dpad));
    for (size_t r = 0; r < dpad; ++r) {
      const float inverse = r < d ? 1.0f / s.pilot_sum[r] : 0.0f;
      s.pilot_sum[r] = inverse;
      if (r < d) {
        for (size_t c = 0; c < h.p; ++c)
          s.pilot_rows[r * h.p + c] = s.pilot_acc_t[c * dpad + r] * inverse;
      }
    }
  }

  std::fill_n(s.sum_v, h.p, 0.0);
  TopK top(s.heap, d);
  double weight_sum = 0.0;
  const simd::StridedMatrix key_block{s.keys, static_cast<ptrdiff_t>(h.p), 1};
  for (size_t key0 = 0; key0 < h.m; key0 += kKeyBlock) {
    const size_t keys = std::min(kKeyBlock, h.m - key0);
    const size_t block = key0 / kKeyBlock;
    if (pilot && block < stored_blocks(h.m, dpad)) {
      // B_J[r, i] = stored e^(s − running max) · e^(running max − max) / sum.
      std::fill_n(s.col_acc, keys * kPanelWidth, 0.0f);
      for (size_t panel = 0; panel < dpad; panel += kPanelWidth) {
        const float* stored = s.store + (block * (dpad / kPanelWidth) + panel / kPanelWidth) *
                                            kKeyBlock * kPanelWidth;
        for (size_t half = 0; half < kPanelWidth; half += kLanes) {
          const Batch factor =
              simd::exp(Batch::load_aligned(s.block_max + block * dpad + panel + half) -
                        Batch::load_aligned(s.pilot_max + panel + half)) *
              Batch::load_aligned(s.pilot_sum + panel + half);
          for (size_t j = 0; j < keys; ++j) {
            const Batch b = Batch::load_aligned(stored + j * kPanelWidth + half) * factor;
            float* acc = s.col_acc + j * kPanelWidth + half;
            xsimd::fma(b, b, Batch::load_aligned(acc)).store_aligned(acc);
          }
        }
      }
    } else if (pilot) {
      copy_rows(h.k + key0 * h.ld, h.ld, keys, h.p, s.keys);
      std::fill_n(s.col_acc, keys * kPanelWidth, 0.0f);
      for (size_t panel = 0; panel < dpad; panel += kPanelWidth) {
        simd::panel_matmul(s.pilot_q_t + panel, dpad, key_block, keys, h.p, s.probs, kPanelWidth);
        for (size_t half = 0; half < kPanelWidth; half += kLanes) {
          const Batch max = Batch::load_aligned(s.pilot_max + panel + half);
          const Batch inverse = Batch::load_aligned(s.pilot_sum + panel + half);
          for (size_t j = 0; j < keys; ++j) {
            const Batch b =
                simd::exp(Batch::load_aligned(s.probs + j * kPanelWidth + half) - max) * inverse;
            float* acc = s.col_acc + j * kPanelWidth + half;
            xsimd::fma(b, b, Batch::load_aligned(acc)).store_aligned(acc);
          }
        }
      }
    }
    for (size_t j = 0; j < keys; ++j) {
      const float* v_row = h.v + (key0 + j) * h.ld;
      double v_norm2 = 0.0;
      for (size_t c = 0; c < h.p; ++c) {
        v_norm2 += double{v_row[c]} * v_row[c];
        s.sum_v[c] += v_row[c];
      }
      double weight = 1.0;
      if (pilot) {
        const float* acc = s.col_acc + j * kPanelWidth;
        const float b_norm2 =
            xsimd::hadd(Batch::load_aligned(acc) + Batch::load_aligned(acc + kLanes));
        weight = std::sqrt(double{b_norm2}) * std::sqrt(v_norm2);
      }
      weight_sum += weight;
      const auto index = static_cast<int64_t>(key0 + j);
      if (all_weights) (*all_weights)[key0 + j] = weight;
      if (!injected_columns) top.offer(index, weight, column_stream.uniform_double(key0 + j));
    }
  }

  // The selected columns, ascending, with the importance weight of skein-nonorm.
  std::span<Candidate> chosen = top.finish();
  std::vector<Candidate> injected;
  if (injected_columns) {
    for (int64_t index : *injected_columns) {
      injected.push_back({0.0, index, (*all_weights)[static_cast<size_t>(index)]});
    }
    chosen = injected;
  }
  if (drawn_columns) {
    drawn_columns->clear();
    for (const Candidate& c : chosen) drawn_columns->push_back(c.index);
  }
  Selection sel;
  sel.count = chosen.size();
  sel.weight_sum = weight_sum;
  // sum_v becomes ΣV − Σ_{J'} v_j in place (it stays ΣV when nothing is selected).
  double* rest = s.sum_v;
  for (size_t j = 0; j < chosen.size(); ++j) {
    const auto index = static_cast<size_t>(chosen[j].index);
    const float* k_row = h.k + index * h.ld;
    const float* v_row = h.v + index * h.ld;
    const float factor = variant == SkeinVariant::kNoNorm
                             ? static_cast<float>(weight_sum / (static_cast<double>(chosen.size()) *
                                                                chosen[j].weight))
                             : 1.0f;
    for (size_t c = 0; c < h.p; ++c) {
      s.sel_keys[j * h.p + c] = k_row[c];
      s.sel_values[j * h.p + c] = v_row[c] * factor;
      rest[c] -= v_row[c];
    }
  }
  for (size_t c = 0; c < h.p; ++c) s.vrest[c] = static_cast<float>(rest[c]);
  return sel;
}

// The sketched rows of every query, then the pilot rows replaced by their exact values.
void sketch_rows(const Head& h, const Scratch& s, SkeinVariant variant, size_t d,
                 const Selection& sel) {
  const size_t dsel = sel.count;
  if (dsel == 0) {  // no column has positive weight: every row is the mean of V
    for (size_t i = 0; i < h.m; ++i) {
      for (size_t c = 0; c < h.p; ++c) {
        h.out[i * h.ld + c] = static_cast<float>(s.sum_v[c] / static_cast<double>(h.m));
      }
    }
    return;
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(h.p));
  const auto stride = static_cast<ptrdiff_t>(h.p);
  const simd::StridedMatrix sel_key_rows{s.sel_keys, stride, 1};
  const simd::StridedMatrix sel_values_t{s.sel_values, 1, stride};
  const Batch unselected(static_cast<float>(h.m - dsel));
  const Batch inverse_dsel(1.0f / static_cast<float>(dsel));
  const bool nonorm = variant == SkeinVariant::kNoNorm;
  const bool simplenorm = variant == SkeinVariant::kSimpleNorm;
  for (size_t q0 = 0; q0 < h.m; q0 += kQueryBlock) {
    const size_t rows = std::min(kQueryBlock, h.m - q0);
    const size_t padded = round_up(rows, kPanelWidth);
    load_queries_t(
        h, rows, padded, [q0](size_t i) { return q0 + i; }, scale, s.q_t, kQueryBlock);
    if (nonorm) full_softmax_pass(h, s, s.q_t, kQueryBlock, padded, s.row_max, s.row_sum, nullptr);
    for (size_t panel = 0; panel < padded; panel += kPanelWidth) {
      std::fill_n(s.new_max, kPanelWidth, -std::numeric_limits<float>::infinity());
      simd::panel_matmul_max(s.q_t + panel, kQueryBlock, sel_key_rows, dsel, h.p, s.probs,
                             kPanelWidth, s.new_max);
      for (size_t half = 0; half < kPanelWidth; half += kLanes) {
        const Batch max = Batch::load_aligned((nonorm ? s.row_max + panel : s.new_max) + half);
        Batch t_sum(0.0f);
        Batch e_sum(0.0f);
        for (size_t j = 0; j < dsel; ++j) {
          float* at = s.probs + j * kPanelWidth + half;
          const Batch t = Batch::load_aligned(at);
          t_sum += t;
          const Batch e = simd::exp(t - max);
          e.store_aligned(at);
          e_sum += e;
        }
        Batch g(0.0f);
        Batch denom = e_sum;
        if (nonorm) {
          denom = Batch::load_aligned(s.row_sum + panel + half);
        } else if (!simplenorm) {
          // mean_j t_ij <= max_j t_ij, so g <= 1: finite for any logits.
          g = simd::exp(t_sum * inverse_dsel - max);
          denom = xsimd::fma(unselected, g, e_sum);
        }
        g.store_aligned(s.gmean + half);
        denom.store_aligned(s.denom + half);
      }
      float* out_panel = s.out_t + panel;
      simd::panel_matmul(s.probs, kPanelWidth, sel_values_t, h.p, dsel, out_panel, kQueryBlock);
      for (size_t half = 0; half < kPanelWidth; half += kLanes) {
        const Batch g = Batch::load_aligned(s.gmean + half);
        const Batch inverse = Batch(1.0f) / Batch::load_aligned(s.denom + half);
        for (size_t c = 0; c < h.p; ++c) {
          float* at = out_panel + c * kQueryBlock + half;
          (xsimd::fma(g, Batch(s.vrest[c]), Batch::load_aligned(at)) * inverse).store_aligned(at);
        }
      }
    }
    for (size_t i = 0; i < rows; ++i) {
      float* out_row = h.out + (q0 + i) * h.ld;
      for (size_t c = 0; c < h.p; ++c) out_row[c] = s.out_t[c * kQueryBlock + i];
    }
  }
  if (reuses_pilot(variant)) {
    for (size_t r = 0; r < d; ++r) {
      float* out_row = h.out + static_cast<size_t>(s.pilot[r]) * h.ld;
      for (size_t c = 0; c < h.p; ++c) out_row[c] = s.pilot_rows[r * h.p + c];
    }
  }
}

size_t features_for(int64_t features, int64_t m) {
  return static_cast<size_t>(std::max<int64_t>(0, std::min(features, m - 1)));
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

Head head_of(const AttentionProblem& problem, int64_t seq, int head) {
  const auto p = static_cast<size_t>(problem.shape.head_dim);
  const size_t ld = static_cast<size_t>(problem.shape.num_heads) * p;
  const auto begin = static_cast<size_t>(problem.seq_offsets[static_cast<size_t>(seq)]);
  const size_t offset = begin * ld + static_cast<size_t>(head) * p;
  const auto m = static_cast<size_t>(problem.seq_offsets[static_cast<size_t>(seq) + 1]) - begin;
  return Head{
      problem.q + offset, problem.k + offset, problem.v + offset, problem.out + offset, ld, m, p};
}

// One (sequence, head); injected indices (tests) or drawn ones.
void process_head(const AttentionProblem& problem, int64_t seq, int head, SkeinVariant variant,
                  int64_t features, const Scratch& s, const SkeinIndices* injected,
                  SkeinIndices* record) {
  const Head h = head_of(problem, seq, head);
  if (h.m == 0) return;
  if (h.m == 1) {  // softmax over one key: the value itself
    for (size_t c = 0; c < h.p; ++c) h.out[c] = h.v[c];
    if (record) *record = {};
    return;
  }
  const size_t d = features_for(features, static_cast<int64_t>(h.m));
  const bool pilot = uses_pilot(variant);
  size_t pilot_count = pilot ? d : 0;
  if (injected && pilot) pilot_count = injected->pilot.size();
  if (pilot) {
    if (injected) {
      std::copy(injected->pilot.begin(), injected->pilot.end(), s.pilot);
    } else {
      const PhiloxStream pilot_stream(problem.seed, problem.layer, seq, PhiloxStream::kSequenceTag);
      for (size_t r = 0; r < d; ++r) {
        s.pilot[r] = static_cast<int64_t>(pilot_stream.below(r, h.m));
      }
    }
  }
  const PhiloxStream column_stream(problem.seed, problem.layer, seq, static_cast<uint32_t>(head));
  std::vector<double> all_weights;
  if (injected) all_weights.resize(h.m);
  std::vector<int64_t> drawn;
  const Selection sel = prepare(h, s, variant, pilot ? pilot_count : d, column_stream,
                                injected ? &injected->columns : nullptr,
                                injected ? &all_weights : nullptr, record ? &drawn : nullptr);
  if (record) {
    record->pilot.assign(s.pilot, s.pilot + pilot_count);
    record->columns = drawn;
  }
  sketch_rows(h, s, variant, pilot_count, sel);
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
size_t dpad_for(const AttentionShape& shape, int64_t features) {
  return round_up(std::max<size_t>(1, features_for(features, shape.max_len)), kPanelWidth);
}
size_t max_len_of(const AttentionShape& shape) {
  return static_cast<size_t>(shape.max_len);
}
}  // namespace

size_t SkeinformerAttention::workspace_bytes(const AttentionShape& shape, int threads) const {
  check_shape(shape, name());
  if (threads < 1) {
    throw Error(name() + " attention: threads must be >= 1, got " + std::to_string(threads));
  }
  return static_cast<size_t>(threads) * scratch_bytes(static_cast<size_t>(shape.head_dim),
                                                      dpad_for(shape, features_),
                                                      max_len_of(shape));
}

void SkeinformerAttention::run(const AttentionProblem& problem,
                               std::span<std::byte> workspace) const {
  check_problem(problem, name());
  const AttentionShape& shape = problem.shape;
  const auto p = static_cast<size_t>(shape.head_dim);
  const size_t dpad = dpad_for(shape, features_);
  const size_t per_thread = scratch_bytes(p, dpad, max_len_of(shape));
  if (reinterpret_cast<uintptr_t>(workspace.data()) % kWorkspaceAlignment != 0 ||
      workspace.size() < per_thread) {
    throw Error(name() +
                " attention: workspace must be 64-byte aligned and hold workspace_bytes() = " +
                std::to_string(per_thread) + " bytes for one thread, got " +
                std::to_string(workspace.size()));
  }
  const int threads = static_cast<int>(
      std::min<size_t>(static_cast<size_t>(omp_get_max_threads()), workspace.size() / per_thread));
  const int64_t num_tasks = shape.num_seqs * shape.num_heads;
  std::byte* base = workspace.data();
  const SkeinVariant variant = variant_;
  const int64_t features = features_;
#pragma omp parallel num_threads(threads)
  {
    const Scratch scratch = carve_scratch(
        base + static_cast<size_t>(omp_get_thread_num()) * per_thread, p, dpad, max_len_of(shape));
    // One task per (sequence, head), computed by one thread start to end:
    // results do not depend on the thread count or schedule.
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < num_tasks; ++task) {
      const int64_t seq = task / shape.num_heads;
      const auto head = static_cast<int>(task % shape.num_heads);
      process_head(problem, seq, head, variant, features, scratch, nullptr, nullptr);
    }
  }
}

namespace {
struct OwnedScratch {
  std::vector<std::byte> bytes;
  Scratch scratch;
  OwnedScratch(size_t p, size_t dpad, size_t max_len)
      : bytes(scratch_bytes(p, dpad, max_len) + kWorkspaceAlignment) {
    auto at = reinterpret_cast<uintptr_t>(bytes.data());
    const size_t skip = (kWorkspaceAlignment - at % kWorkspaceAlignment) % kWorkspaceAlignment;
    scratch = carve_scratch(bytes.data() + skip, p, dpad, max_len);
  }
};
}  // namespace

SkeinIndices SkeinformerAttention::draw_indices(const AttentionProblem& problem, int64_t seq,
                                                int head) const {
  check_problem(problem, name());
  // Draw into a scratch copy of the output rows, so problem.out is untouched.
  AttentionProblem copy = problem;
  const size_t count = static_cast<size_t>(problem.shape.total_tokens) * problem.shape.num_heads *
                       problem.shape.head_dim;
  std::vector<float> out(count);
  copy.out = out.data();
  OwnedScratch owned(static_cast<size_t>(problem.shape.head_dim),
                     dpad_for(problem.shape, features_), max_len_of(problem.shape));
  SkeinIndices indices;
  process_head(copy, seq, head, variant_, features_, owned.scratch, nullptr, &indices);
  return indices;
}

void SkeinformerAttention::run_head_with_indices(const AttentionProblem& problem, int64_t seq,
                                                 int head, const SkeinIndices& indices) const {
  check_problem(problem, name());
  const size_t cap = std::max(indices.pilot.size(), indices.columns.size());
  const size_t dpad = round_up(std::max<size_t>(cap, 1), kPanelWidth);
  OwnedScratch owned(static_cast<size_t>(problem.shape.head_dim),
                     std::max(dpad, dpad_for(problem.shape, features_)), max_len_of(problem.shape));
  const int64_t m = problem.seq_offsets[static_cast<size_t>(seq) + 1] -
                    problem.seq_offsets[static_cast<size_t>(seq)];
  for (int64_t c : indices.columns) {
    if (c < 0 || c >= m) throw Error("run_head_with_indices: column index out of range");
  }
  for (int64_t r : indices.pilot) {
    if (r < 0 || r >= m) throw Error("run_head_with_indices: pilot index out of range");
  }
  process_head(problem, seq, head, variant_, features_, owned.scratch, &indices, nullptr);
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
  std::vector<Candidate> storage(count);
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
  double total = 0;
  for (size_t s = 0; s + 1 < seq_offsets.size(); ++s) {
    int64_t m = seq_offsets[s + 1] - seq_offsets[s];
    int64_t d = std::min(features_, m - 1);
    if (d > 0) total += 8.0 * static_cast<double>(m) * static_cast<double>(d) * head_dim;
  }
  return total * num_heads;
}

}  // namespace skein
