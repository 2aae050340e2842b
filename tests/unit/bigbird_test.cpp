// BigBird (engine/src/attention/bigbird.*): injected random blocks against an
// independent double-precision reference, the drawn blocks' rules, short
// sequences being exact, determinism, packing, extreme logits.
#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include <doctest/doctest.h>
#include <skein/error.h>
#include <nlohmann/json.hpp>

#include "attention/bigbird.h"
#include "baseline_fixture.h"

namespace skein {
namespace {

using testing::DoubleHead;
using testing::PackedProblem;

// The key set of each query block, from the definition in bigbird.h.
std::vector<double> reference(const DoubleHead& h, size_t b,
                              const std::vector<std::vector<int64_t>>& random) {
  const size_t nb = (h.m + b - 1) / b, p = h.p;
  std::vector<double> out(h.m * p);
  for (size_t i = 0; i < nb; ++i) {
    std::set<size_t> blocks;
    if (i == 0 || i + 1 == nb) {
      for (size_t t = 0; t < nb; ++t) blocks.insert(t);
    } else {
      for (size_t t : {size_t{0}, nb - 1, i - 1, i, i + 1}) blocks.insert(t);
      for (int64_t t : random[i]) blocks.insert(static_cast<size_t>(t));
    }
    std::vector<double> q, k, v;
    for (size_t r = i * b; r < std::min(h.m, (i + 1) * b); ++r)
      q.insert(q.end(), h.q.begin() + static_cast<ptrdiff_t>(r * p),
               h.q.begin() + static_cast<ptrdiff_t>((r + 1) * p));
    for (size_t t : blocks) {
      for (size_t r = t * b; r < std::min(h.m, (t + 1) * b); ++r) {
        k.insert(k.end(), h.k.begin() + static_cast<ptrdiff_t>(r * p),
                 h.k.begin() + static_cast<ptrdiff_t>((r + 1) * p));
        v.insert(v.end(), h.v.begin() + static_cast<ptrdiff_t>(r * p),
                 h.v.begin() + static_cast<ptrdiff_t>((r + 1) * p));
      }
    }
    const std::vector<double> rows = testing::softmax_attention(q, k, v, p, h.scale());
    std::copy(rows.begin(), rows.end(), out.begin() + static_cast<ptrdiff_t>(i * b * p));
  }
  return out;
}

TEST_CASE("bigbird: injected random blocks match the double reference within 1e-5") {
  PackedProblem problem({30, 700}, 2, 8, 31, 1.5f);
  const BigBirdAttention method(64, 3);
  // 11 blocks (the last of 60 tokens); block i's random blocks avoid 0, 10, i ± 1, i.
  std::vector<std::vector<int64_t>> random(11);
  random[1] = {5, 7, 9};
  random[2] = {4, 8};
  random[3] = {9};
  random[5] = {1, 2, 3};
  random[8] = {2, 3, 4};
  random[9] = {1, 5, 6};
  std::fill(problem.out.begin(), problem.out.end(), 0.0f);
  method.run_head_with_blocks(problem.view(), 1, 1, random);
  const DoubleHead h(problem, 1, 1);
  testing::check_close(testing::head_rows(problem, problem.out, 1, 1), reference(h, 64, random));
  CHECK_THROWS_AS(method.run_head_with_blocks(problem.view(), 1, 1, {{}, {2}}), Error);
  random[4] = {3};  // a window block of query block 4
  CHECK_THROWS_AS(method.run_head_with_blocks(problem.view(), 1, 1, random), Error);
}

TEST_CASE("bigbird: drawn blocks follow the rules, and run() uses them") {
  PackedProblem problem({1000, 150}, 2, 16, 4);
  problem.seed = 5;
  const BigBirdAttention method(32, 3);
  const std::vector<float> out = testing::run_method(method, problem);
  for (size_t s = 0; s < 2; ++s) {
    for (int hd = 0; hd < 2; ++hd) {
      const auto random = method.draw_blocks(problem.view(), static_cast<int64_t>(s), hd);
      const auto nb = static_cast<int64_t>(random.size());
      for (int64_t i = 0; i < nb; ++i) {
        const auto& list = random[static_cast<size_t>(i)];
        if (i == 0 || i == nb - 1) {
          CHECK(list.empty());
          continue;
        }
        const std::set<int64_t> distinct(list.begin(), list.end());
        CHECK(distinct.size() == list.size());
        const std::set<int64_t> fixed{0, nb - 1, i - 1, i, i + 1};
        CHECK(list.size() == std::min<size_t>(3, static_cast<size_t>(nb) - fixed.size()));
        for (int64_t t : list) CHECK((t >= 0 && t < nb && !fixed.count(t)));
      }
      testing::check_close(testing::head_rows(problem, out, s, static_cast<size_t>(hd)),
                           reference(DoubleHead(problem, s, static_cast<size_t>(hd)), 32, random));
    }
  }
  CHECK(method.draw_blocks(problem.view(), 0, 0) != method.draw_blocks(problem.view(), 0, 1));
}

TEST_CASE("bigbird: a sequence of up to 4 + r blocks is exact attention") {
  PackedProblem problem({440}, 1, 8, 2);  // 7 blocks: every query block sees all
  const std::vector<float> out = testing::run_method(BigBirdAttention(64, 3), problem);
  const DoubleHead h(problem, 0, 0);
  testing::check_close(testing::head_rows(problem, out, 0, 0),
                       testing::softmax_attention(h.q, h.k, h.v, h.p, h.scale()));
}

TEST_CASE("bigbird: determinism, packing, extreme logits") {
  const BigBirdAttention method(16, 2);
  testing::check_thread_determinism(method);
  testing::check_packing(method);
  testing::check_extreme_logits(method);
}

TEST_CASE("make_attention: bigbird, block and random_blocks") {
  const auto plain = make_attention({{"method", "bigbird"}});
  CHECK(dynamic_cast<const BigBirdAttention&>(*plain).block() == 64);
  CHECK(dynamic_cast<const BigBirdAttention&>(*plain).random_blocks() == 3);
  const auto custom = make_attention({{"method", "bigbird"}, {"block", 32}, {"random_blocks", 0}});
  CHECK(dynamic_cast<const BigBirdAttention&>(*custom).block() == 32);
  CHECK_THROWS_AS(make_attention({{"method", "bigbird"}, {"block", 0}}), Error);
  CHECK_THROWS_AS(make_attention({{"method", "bigbird"}, {"random_blocks", -1}}), Error);
  CHECK_THROWS_AS(make_attention({{"method", "bigbird"}, {"features", 8}}), Error);
}

}  // namespace
}  // namespace skein
