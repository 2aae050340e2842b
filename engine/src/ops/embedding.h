// Token + learned position embedding for packed sequences, with optional hashed n-grams.
#pragma once

#include <cstdint>
#include <span>

namespace skein::ops {

/// A hashed table of token n-gram embeddings (skein's addition to the reference model, like
/// fastText's hashed n-grams): position t gets row ngram_row(...) of `rows` for every
/// n = 2 .. max_n whose n-gram ids[t-n+1 .. t] lies inside its sequence.
struct NgramTable {
  const float* rows = nullptr;  // [buckets, dim]; nullptr: no table
  int64_t buckets = 0;
  int max_n = 0;
};

/// The table row of the n-gram ids[0 .. n-1] (ids >= 0): 32-bit FNV-1a over n and then each id,
/// one 32-bit word each, finished by h ^= h >> 16; h *= 0x45d9f3b; h ^= h >> 16; row h % buckets.
/// models/pytorch/reference.py (ngram_buckets) computes the same.
uint32_t ngram_row(const int32_t* ids, int n, uint32_t buckets);

/// For each sequence s (rows [offsets[s], offsets[s+1]) of `ids` and `y`), row
/// t of the sequence gets token[ids[t]] + position[t - offsets[s]] plus, with a
/// table, its n-gram rows. ids must lie in [0, vocab) (the session checks); y is [rows, dim].
void embedding(const int32_t* ids, std::span<const int64_t> offsets, const float* token,
               const float* position, int64_t dim, float* y, const NgramTable& ngrams = {});

}  // namespace skein::ops
