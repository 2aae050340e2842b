// Counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel random
// numbers: as easy as 1, 2, 3", SC 2011). A stream is a key (the session seed)
// and a fixed part of the counter (layer, sequence, head); draw i is a pure
// function of the stream and i, so results never depend on thread count or on
// the order in which draws are made.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace skein {

/// The Philox4x32 block function with 10 rounds: four 32-bit outputs from a
/// 128-bit counter and a 64-bit key.
std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

/// One stream of uniform draws, keyed by (seed, layer, sequence, head).
/// Counter layout: word 0 = block index (draw index / 4), word 1 = head,
/// word 2 = sequence (low 32 bits), word 3 = layer (low 32 bits); key = seed.
/// Word i of the stream is output word i % 4 of block i / 4.
class PhiloxStream {
 public:
  /// The tag used as `head` for per-sequence streams shared by all heads.
  static constexpr uint32_t kSequenceTag = 0xFFFFFFFFu;

  PhiloxStream(uint64_t seed, int64_t layer, int64_t sequence, uint32_t head);

  /// The i-th 32-bit word of the stream (i < 2^34).
  uint32_t u32(uint64_t i) const;
  /// Uniform in (0, 1] with 24 random bits, from word i.
  float uniform_float(uint64_t i) const;
  /// Uniform in (0, 1] with 53 random bits, from words 2i and 2i + 1.
  double uniform_double(uint64_t i) const;
  /// out[j] = uniform_double(first + j) for j < count, each Philox block
  /// computed once (it holds two of these values).
  void uniform_doubles(uint64_t first, size_t count, double* out) const;
  /// Uniform integer in [0, n) from words 2i and 2i + 1 (multiply-shift;
  /// bias below n / 2^64). n must be >= 1.
  uint64_t below(uint64_t i, uint64_t n) const;

 private:
  std::array<uint32_t, 2> key_;
  uint32_t head_, sequence_, layer_;
};

}  // namespace skein
