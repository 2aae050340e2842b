// Exact attention (engine/src/attention/exact.*) against the plain formula,
// and make_attention()'s errors.
#include <omp.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <skein/error.h>
#include <nlohmann/json.hpp>

#include "attention/attention.h"
#include "attention/exact.h"

namespace skein {
namespace {

constexpr float kGuardValue = -12345.5f;
constexpr size_t kGuardFloats = 64;
constexpr std::byte kGuardByte{0xA5};
constexpr size_t kGuardBytes = 256;

// A 64-byte aligned workspace with guard bytes after the part run() may use.
class GuardedWorkspace {
 public:
  explicit GuardedWorkspace(size_t bytes)
      : bytes_(bytes),
        data_(static_cast<std::byte*>(::operator new (bytes + kGuardBytes, std::align_val_t{64}))) {
    std::memset(data_, 0xFF, bytes_);  // NaN floats: run() must not read before writing
    std::memset(data_ + bytes_, static_cast<int>(kGuardByte), kGuardBytes);
  }
  ~GuardedWorkspace() { ::operator delete (data_, std::align_val_t{64}); }
  GuardedWorkspace(const GuardedWorkspace&) = delete;
  GuardedWorkspace& operator=(const GuardedWorkspace&) = delete;

  std::span<std::byte> span() { return {data_, bytes_}; }
  bool guard_intact() const {
    for (size_t i = 0; i < kGuardBytes; ++i) {
      if (data_[bytes_ + i] != kGuardByte) return false;
    }
    return true;
  }

 private:
  size_t bytes_;
  std::byte* data_;
};

// q, k, v uniform in [-1, 1] (q times logit_scale), packed as attention.h says;
// out has guard floats before and after.
struct RandomProblem {
  std::vector<int64_t> offsets{0};
  std::vector<float> q, k, v, out_storage;
  AttentionShape shape;

  RandomProblem(const std::vector<int64_t>& lengths, int heads, int head_dim, uint32_t seed,
                float logit_scale = 1.0f) {
    for (int64_t len : lengths) {
      offsets.push_back(offsets.back() + len);
      shape.max_len = std::max(shape.max_len, len);
    }
    shape.num_seqs = static_cast<int64_t>(lengths.size());
    shape.total_tokens = offsets.back();
    shape.num_heads = heads;
    shape.head_dim = head_dim;
    const size_t count = static_cast<size_t>(shape.total_tokens) * heads * head_dim;
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    for (auto* values : {&q, &k, &v}) {
      values->resize(count);
      for (float& x : *values) x = uniform(rng);
    }
    for (float& x : q) x *= logit_scale;
    out_storage.assign(count + 2 * kGuardFloats, kGuardValue);
  }

  float* out() { return out_storage.data() + kGuardFloats; }
  size_t size() const { return out_storage.size() - 2 * kGuardFloats; }

  AttentionProblem problem() {
    return AttentionProblem{q.data(), k.data(), v.data(), out(), offsets, shape};
  }

  bool guards_intact() const {
    for (size_t i = 0; i < kGuardFloats; ++i) {
      if (out_storage[i] != kGuardValue || out_storage[out_storage.size() - 1 - i] != kGuardValue) {
        return false;
      }
    }
    return true;
  }
};

// Runs exact attention with a workspace sized for `threads`, as many OpenMP
// threads, and checks that no write strayed outside out and the workspace.
std::vector<float> run_exact(RandomProblem& p, int threads) {
  const ExactAttention exact;
  const int saved_threads = omp_get_max_threads();
  omp_set_num_threads(threads);
  GuardedWorkspace workspace(exact.workspace_bytes(p.shape, threads));
  exact.run(p.problem(), workspace.span());
  omp_set_num_threads(saved_threads);
  CHECK(workspace.guard_intact());
  CHECK(p.guards_intact());
  return {p.out(), p.out() + p.size()};
}

std::vector<float> run_reference(RandomProblem& p) {
  std::vector<float> expected(p.size());
  AttentionProblem problem = p.problem();
  problem.out = expected.data();
  exact_attention_ref(problem);
  return expected;
}

float max_abs_difference(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  float worst = 0.0f;
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(std::isfinite(a[i]));
    worst = std::max(worst, std::fabs(a[i] - b[i]));
  }
  return worst;
}

// Outputs are convex combinations of v rows in [-1, 1], so O(1). FP32 error
// sources: scores (p-term dot products, relative ~p·2^-24), e^x (< 1.5 ulp),
// and n-term running sums with rescaling; the measured worst case is 1.5e-7,
// so 1e-5 leaves margin without hiding a wrong weight (a misplaced or missing
// key moves outputs by ~1/n >= 1e-3 for the lengths tested).
constexpr float kTolerance = 1e-5f;

void check_against_reference(const std::vector<int64_t>& lengths, int heads, int head_dim) {
  CAPTURE(heads);
  CAPTURE(head_dim);
  RandomProblem p(lengths, heads, head_dim, static_cast<uint32_t>(heads * 1000 + head_dim));
  const std::vector<float> expected = run_reference(p);
  CHECK(max_abs_difference(run_exact(p, 2), expected) <= kTolerance);
}

TEST_CASE("exact attention matches the plain formula on single sequences") {
  for (int64_t len : {1, 2, 7, 63, 64, 65, 129}) {
    CAPTURE(len);
    check_against_reference({len}, 1, 32);
    check_against_reference({len}, 2, 64);
    check_against_reference({len}, 3, 7);
  }
  check_against_reference({1000}, 2, 32);
  check_against_reference({1000}, 1, 64);
}

TEST_CASE("exact attention matches the plain formula on a packed batch, any head_dim") {
  // Mixed lengths, including an empty sequence and tails of every block size.
  const std::vector<int64_t> lengths{65, 1, 200, 0, 7, 64, 129};
  for (int head_dim : {1, 2, 7, 16, 32, 33, 64, 65}) {
    for (int heads : {1, 3}) check_against_reference(lengths, heads, head_dim);
  }
}

TEST_CASE("exact attention stays finite and correct for logits of +-1e4") {
  // q scaled so q·k/√p reaches ~1e4: e^score alone would overflow. Tolerance:
  // a float score of size L = 1e4 from a 32-term dot product carries a
  // rounding error of up to 32·2^-24·L = 2e-2, typically √32·2^-24·L = 3e-3
  // (measured: 1.1e-4), and a score error δ moves a softmax-weighted mean of
  // values in [-1, 1] by at most 2δ. 1e-2 still fails loudly on a wrong
  // softmax, whose error would be O(1).
  for (int64_t len : {129, 1000}) {
    CAPTURE(len);
    RandomProblem p({len}, 2, 32, 7, 16000.0f);
    float largest_logit = 0.0f;
    for (int64_t j = 0; j < len; ++j) {
      float dot = 0.0f;
      for (int d = 0; d < 32; ++d) dot += p.q[d] * p.k[static_cast<size_t>(j) * 64 + d];
      largest_logit = std::max(largest_logit, std::fabs(dot) / std::sqrt(32.0f));
    }
    CHECK(largest_logit > 1e4f);
    const std::vector<float> expected = run_reference(p);
    CHECK(max_abs_difference(run_exact(p, 2), expected) <= 1e-2f);
  }
}

TEST_CASE("exact attention gives bit-identical results for 1 and 2 threads") {
  RandomProblem p({300, 5, 1000, 64, 129}, 2, 32, 11);
  const std::vector<float> one = run_exact(p, 1);
  const std::vector<float> two = run_exact(p, 2);
  CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);
}

TEST_CASE("exact attention uses fewer threads when the workspace is sized for fewer") {
  RandomProblem p({200, 70}, 2, 32, 5);
  const ExactAttention exact;
  const std::vector<float> expected = run_exact(p, 1);
  const int saved_threads = omp_get_max_threads();
  omp_set_num_threads(2);
  GuardedWorkspace workspace(exact.workspace_bytes(p.shape, 1));
  exact.run(p.problem(), workspace.span());
  omp_set_num_threads(saved_threads);
  CHECK(workspace.guard_intact());
  CHECK(std::memcmp(expected.data(), p.out(), expected.size() * sizeof(float)) == 0);
}

TEST_CASE("exact attention rejects bad problems with skein::Error") {
  RandomProblem p({10, 20}, 2, 8, 3);
  const ExactAttention exact;
  GuardedWorkspace workspace(exact.workspace_bytes(p.shape, 1));

  SUBCASE("workspace too small") {
    CHECK_THROWS_AS(exact.run(p.problem(), workspace.span().first(64)), Error);
  }
  SUBCASE("offsets not ending at total_tokens") {
    p.offsets.back() = 29;
    CHECK_THROWS_AS(exact.run(p.problem(), workspace.span()), Error);
  }
  SUBCASE("decreasing offsets") {
    p.offsets[1] = 31;
    p.offsets.back() = 30;
    CHECK_THROWS_AS(exact.run(p.problem(), workspace.span()), Error);
  }
  SUBCASE("wrong number of offsets") {
    p.shape.num_seqs = 3;
    CHECK_THROWS_AS(exact.run(p.problem(), workspace.span()), Error);
  }
  SUBCASE("zero head_dim") {
    p.shape.head_dim = 0;
    CHECK_THROWS_AS(exact.run(p.problem(), workspace.span()), Error);
    CHECK_THROWS_AS(static_cast<void>(exact.workspace_bytes(p.shape, 1)), Error);
  }
  SUBCASE("zero threads") {
    CHECK_THROWS_AS(static_cast<void>(exact.workspace_bytes(p.shape, 0)), Error);
  }
}

TEST_CASE("exact attention on an empty batch does nothing") {
  RandomProblem p({}, 2, 32, 1);
  const std::vector<float> out = run_exact(p, 2);
  CHECK(out.empty());
}

TEST_CASE("exact_attention_flops counts 4·n²·p per sequence and head") {
  const std::vector<int64_t> offsets{0, 10, 10, 40};
  CHECK(exact_attention_flops(offsets, 2, 32) == 4.0 * (100 + 900) * 32 * 2);
}

std::string error_of(const nlohmann::json& spec) {
  try {
    make_attention(spec);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST_CASE("make_attention builds exact and names what is wrong otherwise") {
  const auto exact = make_attention(nlohmann::json{{"method", "exact"}});
  REQUIRE(exact != nullptr);
  CHECK(exact->name() == "exact");

  const std::string unknown = error_of({{"method", "fancy"}});
  CHECK(unknown.find("\"fancy\"") != std::string::npos);
  CHECK(unknown.find("known methods: exact") != std::string::npos);

  const std::string parameter = error_of({{"method", "exact"}, {"features", 32}});
  CHECK(parameter.find("\"exact\"") != std::string::npos);
  CHECK(parameter.find("\"features\"") != std::string::npos);
  CHECK(parameter.find("known methods: exact") != std::string::npos);

  for (const auto& bad : {nlohmann::json::array(), nlohmann::json::object(),
                          nlohmann::json{{"method", 3}}, nlohmann::json("exact")}) {
    CAPTURE(bad.dump());
    const std::string message = error_of(bad);
    CHECK(message.find("known methods: exact") != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
}

}  // namespace
}  // namespace skein
