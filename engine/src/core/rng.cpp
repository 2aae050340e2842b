#include "core/rng.h"

#include <cstddef>

namespace skein {
namespace {

constexpr uint32_t kMul0 = 0xD2511F53u;
constexpr uint32_t kMul1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u;
constexpr uint32_t kWeyl1 = 0xBB67AE85u;

__extension__ typedef unsigned __int128 Uint128;

// Uniform in (0, 1] with 53 random bits, from words w and w + 1 of a block.
double uniform_from(const std::array<uint32_t, 4>& block, std::size_t w) {
  const uint64_t bits = (uint64_t{block[w]} << 32 | block[w + 1]) >> 11;
  return static_cast<double>(bits + 1) * 0x1p-53;
}

}  // namespace

std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> c, std::array<uint32_t, 2> key) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key[0] += kWeyl0;
      key[1] += kWeyl1;
    }
    const uint64_t p0 = uint64_t{kMul0} * c[0];
    const uint64_t p1 = uint64_t{kMul1} * c[2];
    const auto hi0 = static_cast<uint32_t>(p0 >> 32);
    const auto lo0 = static_cast<uint32_t>(p0);
    const auto hi1 = static_cast<uint32_t>(p1 >> 32);
    const auto lo1 = static_cast<uint32_t>(p1);
    c = {hi1 ^ c[1] ^ key[0], lo1, hi0 ^ c[3] ^ key[1], lo0};
  }
  return c;
}

PhiloxStream::PhiloxStream(uint64_t seed, int64_t layer, int64_t sequence, uint32_t head)
    : key_{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)},
      head_(head),
      sequence_(static_cast<uint32_t>(sequence)),
      layer_(static_cast<uint32_t>(layer)) {}

uint32_t PhiloxStream::u32(uint64_t i) const {
  const auto block = philox4x32_10({static_cast<uint32_t>(i >> 2), head_, sequence_, layer_}, key_);
  return block[i & 3];
}

float PhiloxStream::uniform_float(uint64_t i) const {
  // (x + 1) / 2^24 for x in [0, 2^24): never 0, exactly representable.
  return static_cast<float>((u32(i) >> 8) + 1) * 0x1p-24f;
}

double PhiloxStream::uniform_double(uint64_t i) const {
  const auto block =
      philox4x32_10({static_cast<uint32_t>((2 * i) >> 2), head_, sequence_, layer_}, key_);
  return uniform_from(block, (2 * i) & 3);  // 0 or 2: both words from one block
}

void PhiloxStream::uniform_doubles(uint64_t first, size_t count, double* out) const {
  // Values 2b and 2b + 1 share Philox block b: each block is computed once.
  for (uint64_t i = first; i < first + count;) {
    const auto block =
        philox4x32_10({static_cast<uint32_t>(i >> 1), head_, sequence_, layer_}, key_);
    out[i - first] = uniform_from(block, (i & 1) * 2);
    if ((i & 1) == 0 && i + 1 < first + count) out[i + 1 - first] = uniform_from(block, 2);
    i = (i | 1) + 1;
  }
}

uint64_t PhiloxStream::below(uint64_t i, uint64_t n) const {
  const auto block =
      philox4x32_10({static_cast<uint32_t>((2 * i) >> 2), head_, sequence_, layer_}, key_);
  const std::size_t w = (2 * i) & 3;
  const uint64_t bits = uint64_t{block[w]} << 32 | block[w + 1];
  return static_cast<uint64_t>((static_cast<Uint128>(bits) * n) >> 64);
}

}  // namespace skein
