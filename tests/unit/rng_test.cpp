// Philox4x32-10 (engine/src/core/rng.*): the Random123 known-answer vectors,
// and the stream's keying and ranges.
#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

#include <doctest/doctest.h>

#include "core/rng.h"

namespace skein {
namespace {

TEST_CASE("philox4x32_10 matches the Random123 known-answer vectors") {
  // Random123 kat_vectors: counter (4 words), key (2 words) -> output (4 words).
  CHECK(philox4x32_10({0, 0, 0, 0}, {0, 0}) ==
        std::array<uint32_t, 4>{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
  CHECK(philox4x32_10({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                      {0xffffffffu, 0xffffffffu}) ==
        std::array<uint32_t, 4>{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
  CHECK(philox4x32_10({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
                      {0xa4093822u, 0x299f31d0u}) ==
        std::array<uint32_t, 4>{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u});
}

TEST_CASE("PhiloxStream: word i is block i/4 of (index, head, sequence, layer) keyed by the seed") {
  const uint64_t seed = 0x0123456789abcdefull;
  const PhiloxStream stream(seed, 3, 7, 5);
  const auto block = philox4x32_10({2, 5, 7, 3}, {0x89abcdefu, 0x01234567u});
  for (uint64_t w = 0; w < 4; ++w) CHECK(stream.u32(8 + w) == block[w]);
  // Pure function of (stream, i): any order, any repetition.
  CHECK(stream.u32(1000) == PhiloxStream(seed, 3, 7, 5).u32(1000));
}

TEST_CASE("PhiloxStream: seed, layer, sequence and head each change the stream") {
  const PhiloxStream base(1, 2, 3, 4);
  std::set<uint32_t> firsts{base.u32(0)};
  firsts.insert(PhiloxStream(2, 2, 3, 4).u32(0));
  firsts.insert(PhiloxStream(1, 3, 3, 4).u32(0));
  firsts.insert(PhiloxStream(1, 2, 4, 4).u32(0));
  firsts.insert(PhiloxStream(1, 2, 3, 5).u32(0));
  firsts.insert(PhiloxStream(1, 2, 3, PhiloxStream::kSequenceTag).u32(0));
  firsts.insert(PhiloxStream(uint64_t{1} << 32 | 1, 2, 3, 4).u32(0));  // high seed bits count
  CHECK(firsts.size() == 7);
}

TEST_CASE("PhiloxStream: uniform draws lie in (0, 1], below(n) in [0, n), means are right") {
  const PhiloxStream stream(42, 0, 0, 0);
  constexpr int kDraws = 100000;
  double sum_f = 0.0, sum_d = 0.0, sum_b = 0.0;
  for (int i = 0; i < kDraws; ++i) {
    const float f = stream.uniform_float(static_cast<uint64_t>(i));
    const double d = stream.uniform_double(static_cast<uint64_t>(i));
    const uint64_t b = stream.below(static_cast<uint64_t>(i), 10);
    REQUIRE(f > 0.0f);
    REQUIRE(f <= 1.0f);
    REQUIRE(d > 0.0);
    REQUIRE(d <= 1.0);
    REQUIRE(b < 10);
    sum_f += f;
    sum_d += d;
    sum_b += static_cast<double>(b);
  }
  // Standard errors: 0.29/√N ≈ 0.0009 for the uniforms, 2.87/√N ≈ 0.009 for below(10).
  CHECK(std::abs(sum_f / kDraws - 0.5) < 0.005);
  CHECK(std::abs(sum_d / kDraws - 0.5) < 0.005);
  CHECK(std::abs(sum_b / kDraws - 4.5) < 0.05);
  CHECK(stream.below(7, 1) == 0);
}

TEST_CASE("PhiloxStream: uniform_doubles equals uniform_double at odd and even starts") {
  const PhiloxStream stream(7, 1, 2, 3);
  for (const uint64_t first : {uint64_t{0}, uint64_t{1}, uint64_t{6}, uint64_t{9}}) {
    for (const size_t count : {size_t{0}, size_t{1}, size_t{2}, size_t{5}}) {
      std::vector<double> out(count + 1, -1.0);
      stream.uniform_doubles(first, count, out.data());
      for (size_t j = 0; j < count; ++j) CHECK(out[j] == stream.uniform_double(first + j));
      CHECK(out[count] == -1.0);  // nothing written past count
    }
  }
}

}  // namespace
}  // namespace skein
