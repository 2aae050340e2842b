// Session: packed batches equal one-by-one runs, CLS handling, input errors,
// one Model shared by several threads.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <thread>

#include "model_fixture.h"
#include "skein/skein.h"

namespace {

std::vector<int32_t> random_ids(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> id(1, 256);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = id(rng);
  return v;
}

}  // namespace

TEST_CASE("a packed batch of mixed lengths equals one run per sequence") {
  for (const char* pooling : {"mean", "cls"}) {
    CAPTURE(pooling);
    skein::testing::TinyModel m(2, pooling);
    std::string dir = m.write(std::string("batch_") + pooling);
    auto model = skein::Model::load(dir);
    skein::Session session(model);
    std::vector<std::vector<int32_t>> seqs = {random_ids(32, 1), random_ids(17, 2),
                                              random_ids(1, 3)};
    std::vector<std::span<const int32_t>> batch(seqs.begin(), seqs.end());
    skein::RunResult all = session.run(batch, 32);
    CHECK(all.logits.rows == 3);
    CHECK(all.logits.cols == 3);
    CHECK(all.pooled.cols == 8);
    for (size_t s = 0; s < seqs.size(); ++s) {
      std::span<const int32_t> one[] = {seqs[s]};
      skein::RunResult single = session.run(one, 32);
      for (int64_t c = 0; c < 3; ++c) {
        // oneDNN may block differently for other row counts: float rounding only.
        CHECK(std::abs(single.logits.at(0, c) - all.logits.at(static_cast<int64_t>(s), c)) < 1e-5f);
      }
    }
    std::filesystem::remove_all(dir);
  }
}

TEST_CASE("mean pooling divides by the padded length") {
  skein::testing::TinyModel m(1, "mean");
  std::string dir = m.write("padded");
  auto model = skein::Model::load(dir);
  skein::Session session(model);
  std::vector<int32_t> ids = random_ids(5, 9);
  std::span<const int32_t> one[] = {ids};
  skein::RunResult at10 = session.run(one, 10);
  skein::RunResult at20 = session.run(one, 20);
  for (int64_t c = 0; c < 8; ++c) {
    CHECK(at20.pooled.at(0, c) == doctest::Approx(at10.pooled.at(0, c) / 2).epsilon(1e-5));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("bad inputs are errors and leave the session usable") {
  skein::testing::TinyModel m(1);
  std::string dir = m.write("bad_inputs");
  auto model = skein::Model::load(dir);
  skein::Session session(model);
  std::vector<int32_t> ok = random_ids(4, 1), empty, too_long = random_ids(33, 2),
                       bad_id = {1, 2, 999};
  auto run = [&](const std::vector<int32_t>& ids, int64_t padded) {
    std::span<const int32_t> one[] = {ids};
    return session.run(one, padded);
  };
  CHECK_THROWS_WITH_AS(run(empty, 0), doctest::Contains("sequence 0 is empty"), skein::Error);
  CHECK_THROWS_WITH_AS(run(too_long, 0),
                       doctest::Contains("has 33 tokens, more than the padded length 32"),
                       skein::Error);
  CHECK_THROWS_WITH_AS(run(ok, 33),
                       doctest::Contains("padded length 33 is outside [1, max_seq_len = 32]"),
                       skein::Error);
  CHECK_THROWS_WITH_AS(run(ok, 3), doctest::Contains("has 4 tokens, more than the padded length 3"),
                       skein::Error);
  CHECK_THROWS_WITH_AS(run(bad_id, 0), doctest::Contains("token id 999 is outside [0, vocab_size"),
                       skein::Error);
  CHECK(run(ok, 0).logits.rows == 1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("one Model shared by threads, each with its own Session, gives the same results") {
  skein::testing::TinyModel m(2);
  std::string dir = m.write("threads");
  auto model = skein::Model::load(dir);
  std::vector<std::vector<int32_t>> inputs;
  for (uint32_t i = 0; i < 8; ++i) inputs.push_back(random_ids(1 + (i * 7) % 32, i));
  std::vector<skein::Matrix> expected;
  {
    skein::SessionOptions single_thread;
    single_thread.threads = 1;
    skein::Session s(model, single_thread);
    for (const auto& ids : inputs) {
      std::span<const int32_t> one[] = {ids};
      expected.push_back(s.run(one, 32).logits);
    }
  }
  std::vector<float> worst(4, 0.0f);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      skein::SessionOptions single_thread;
      single_thread.threads = 1;
      skein::Session s(model, single_thread);
      for (int rep = 0; rep < 20; ++rep) {
        for (size_t i = 0; i < inputs.size(); ++i) {
          std::span<const int32_t> one[] = {inputs[i]};
          skein::Matrix got = s.run(one, 32).logits;
          for (size_t k = 0; k < got.data.size(); ++k) {
            worst[t] = std::max(worst[t], std::abs(got.data[k] - expected[i].data[k]));
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (float w : worst) CHECK(w == 0.0f);
  std::filesystem::remove_all(dir);
}

TEST_CASE("the profile has one entry per node and layer, with live bytes") {
  skein::testing::TinyModel m(2);
  std::string dir = m.write("profile");
  auto model = skein::Model::load(dir);
  skein::Session session(model);
  std::vector<int32_t> ids = random_ids(20, 4);
  std::span<const int32_t> one[] = {ids};
  session.run(one, 32);
  session.run(one, 32);
  skein::Profile p = session.profile();
  CHECK(p.runs == 2);
  CHECK(p.nodes.size() == 1 + 2 * 12 + 5);
  REQUIRE(p.layers.size() == 5);  // embed, 0, 1, final, head
  CHECK(p.layers[1].layer == "0");
  CHECK(p.layers[1].latency_ns.size() == 2);
  CHECK(p.layers[1].peak_live_bytes >= 4 * 20 * 8 * 4);
  // Linear layers 2·rows·in·out each, exact attention 4·n²·p per head.
  CHECK(p.layers[1].flops ==
        doctest::Approx(2.0 * 20 * 8 * (8 * 4 + 16 * 2) + 4.0 * 20 * 20 * 4 * 2));
  CHECK(p.arena_bytes > 0);
  session.reset_profile();
  CHECK(session.profile().runs == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a run planned above max_memory_bytes fails up front and the session stays usable") {
  skein::testing::TinyModel m(1);
  std::string dir = m.write("memory_limit");
  auto model = skein::Model::load(dir);
  std::vector<int32_t> short_ids = random_ids(2, 1), long_ids = random_ids(32, 2);
  std::span<const int32_t> short_batch[] = {short_ids}, long_batch[] = {long_ids};
  int64_t short_arena = 0, long_arena = 0;
  {
    skein::Session probe(model);
    probe.run(short_batch, 32);
    short_arena = probe.profile().arena_bytes;
    probe.run(long_batch, 32);
    long_arena = probe.profile().arena_bytes;
  }
  REQUIRE(long_arena > short_arena);
  skein::SessionOptions limited;
  limited.max_memory_bytes = short_arena;
  skein::Session session(model, limited);
  std::string expected = "-byte activation arena for 32 tokens, more than the session's limit of " +
                         std::to_string(short_arena) + " bytes";
  CHECK_THROWS_WITH_AS(session.run(long_batch, 32), doctest::Contains(expected.c_str()),
                       skein::Error);
  CHECK(session.run(short_batch, 32).logits.rows == 1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("row fusion: fused and unfused sessions agree on many blocks and threads") {
  skein::ModelConfig c = skein::testing::TinyModel::config(2, "mean");
  c.dim = 64;  // the reference dims: blocks of 48 rows, so many blocks per run
  c.hidden_dim = 128;
  c.num_heads = 2;
  c.head_dim = 32;
  c.max_seq_len = 1024;
  skein::SyntheticModel synthetic = skein::make_synthetic_model(c, 5, true);
  auto dir = std::filesystem::temp_directory_path() /
             ("skein_test_" + std::to_string(::getpid()) + "_fusion");
  synthetic.write(dir.string());
  auto model = skein::Model::load(dir.string());
  std::vector<std::vector<int32_t>> seqs = {random_ids(1000, 11), random_ids(259, 12),
                                            random_ids(1, 13), random_ids(47, 14)};
  std::vector<std::span<const int32_t>> batch(seqs.begin(), seqs.end());
  skein::SessionOptions unfused_options;
  unfused_options.threads = 1;
  unfused_options.fuse_rows = false;
  skein::Session unfused(model, unfused_options);
  const skein::RunResult want = unfused.run(batch);
  for (int threads : {1, 2, 3}) {
    CAPTURE(threads);
    skein::SessionOptions options;
    options.threads = threads;
    skein::Session fused(model, options);
    for (int repeat = 0; repeat < 3; ++repeat) {
      const skein::RunResult got = fused.run(batch);
      REQUIRE(got.pooled.data.size() == want.pooled.data.size());
      float worst = 0;
      for (size_t i = 0; i < want.pooled.data.size(); ++i) {
        worst = std::max(worst, std::abs(got.pooled.data[i] - want.pooled.data[i]));
      }
      // Register tiles instead of oneDNN: float rounding only (the pooled
      // values are O(1)).
      CHECK(worst < 1e-4f);
    }
    const skein::Profile profile = fused.profile();
    for (const skein::NodeProfile& node : profile.nodes) CHECK(node.latency_ns.size() == 3);
  }
  std::filesystem::remove_all(dir);
}
