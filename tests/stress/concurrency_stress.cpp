// Concurrency stress test: one Model shared by 8 threads, each with its own
// Sessions (threads = 1), a few hundred runs of mixed lengths (1..32), batch
// sizes (1..3), attention methods and seeds. Every result must equal, bit for
// bit, the result of the same run made single-threaded beforehand. Built
// normally (ctest `concurrency_stress`) and under ThreadSanitizer
// (`make test-tsan`), where it must also report no data race.
//
// usage: concurrency_stress [RUNS_PER_THREAD]   (default 50; 8 threads)
#include <barrier>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "model_fixture.h"
#include "skein/skein.h"

namespace {

constexpr int kThreads = 8;

struct Item {
  std::string method;
  uint64_t seed;
  std::vector<std::vector<int32_t>> sequences;  // batch of 1..3, lengths 1..32
};

struct Outcome {
  std::vector<float> logits;
  std::vector<float> pooled;
};

// Sessions of one thread, one per (method, seed), created on first use.
class SessionSet {
 public:
  explicit SessionSet(std::shared_ptr<const skein::Model> model) : model_(std::move(model)) {}

  Outcome run(const Item& item) {
    auto key = std::make_pair(item.method, item.seed);
    auto it = sessions_.find(key);
    if (it == sessions_.end()) {
      skein::SessionOptions options;
      options.threads = 1;
      options.seed = item.seed;
      options.attention = item.method;
      it = sessions_.emplace(key, std::make_unique<skein::Session>(model_, options)).first;
    }
    std::vector<std::span<const int32_t>> batch(item.sequences.begin(), item.sequences.end());
    skein::RunResult r = it->second->run(batch);
    return {std::move(r.logits.data), std::move(r.pooled.data)};
  }

 private:
  std::shared_ptr<const skein::Model> model_;
  std::map<std::pair<std::string, uint64_t>, std::unique_ptr<skein::Session>> sessions_;
};

// The methods this build knows among the candidates (others are being added
// concurrently to the registry; an unknown name is skipped, not a failure).
std::vector<std::string> available_methods(const std::shared_ptr<const skein::Model>& model) {
  std::vector<std::string> methods;
  for (const char* name : {"exact", "skeinformer"}) {
    try {
      skein::SessionOptions options;
      options.threads = 1;
      options.attention = name;
      skein::Session probe(model, options);
      methods.emplace_back(name);
    } catch (const skein::Error& e) {
      std::printf("method %s not available: %s\n", name, e.what());
    }
  }
  return methods;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int runs_per_thread = argc > 1 ? std::atoi(argv[1]) : 50;
  skein::testing::TinyModel tiny(2);
  const std::string dir = tiny.write("concurrency_stress");
  std::shared_ptr<const skein::Model> model = skein::Model::load(dir);
  std::filesystem::remove_all(dir);  // the weights stay mapped

  const std::vector<std::string> methods = available_methods(model);
  if (methods.empty()) {
    std::printf("FAIL: no attention method available\n");
    return 1;
  }

  // The work, fixed by one seed: each item's method, seed and batch.
  std::mt19937 rng(20261129);
  std::uniform_int_distribution<int32_t> token(1, 256);
  std::uniform_int_distribution<int> length(1, 32);
  std::uniform_int_distribution<int> batch_size(1, 3);
  std::uniform_int_distribution<size_t> method(0, methods.size() - 1);
  std::vector<Item> items(static_cast<size_t>(kThreads * runs_per_thread));
  for (Item& item : items) {
    item.method = methods[method(rng)];
    item.seed = std::uniform_int_distribution<uint64_t>(1, 3)(rng);
    item.sequences.resize(static_cast<size_t>(batch_size(rng)));
    for (auto& s : item.sequences) {
      s.resize(static_cast<size_t>(length(rng)));
      for (int32_t& id : s) id = token(rng);
    }
  }

  // Single-threaded reference results.
  std::vector<Outcome> expected;
  {
    SessionSet sessions(model);
    for (const Item& item : items) expected.push_back(sessions.run(item));
  }

  // 8 threads, each taking every 8th item in its own shuffled order, started
  // together so that runs overlap as much as possible.
  std::vector<Outcome> got(items.size());
  std::vector<std::string> errors(kThreads);
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<size_t> mine;
      for (size_t i = static_cast<size_t>(t); i < items.size(); i += kThreads) mine.push_back(i);
      std::shuffle(mine.begin(), mine.end(), std::mt19937(static_cast<uint32_t>(t) + 7));
      SessionSet sessions(model);
      start.arrive_and_wait();
      try {
        for (size_t i : mine) got[i] = sessions.run(items[i]);
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(t)] = e.what();
      }
    });
  }
  for (std::thread& th : threads) th.join();

  int failures = 0;
  for (int t = 0; t < kThreads; ++t) {
    if (!errors[static_cast<size_t>(t)].empty()) {
      std::printf("FAIL thread %d: %s\n", t, errors[static_cast<size_t>(t)].c_str());
      ++failures;
    }
  }
  std::map<std::string, int> per_method;
  for (size_t i = 0; i < items.size(); ++i) {
    ++per_method[items[i].method];
    if (!same_bits(got[i].logits, expected[i].logits) ||
        !same_bits(got[i].pooled, expected[i].pooled)) {
      if (failures < 10) {
        std::printf("FAIL item %zu (%s, seed %llu, batch %zu): differs from the single-threaded run\n",
                    i, items[i].method.c_str(), static_cast<unsigned long long>(items[i].seed),
                    items[i].sequences.size());
      }
      ++failures;
    }
  }
  std::printf("%zu runs on %d threads:", items.size(), kThreads);
  for (const auto& [name, count] : per_method) std::printf(" %s %d", name.c_str(), count);
  std::printf("; %d mismatches or errors\n", failures);
  return failures == 0 ? 0 : 1;
}
