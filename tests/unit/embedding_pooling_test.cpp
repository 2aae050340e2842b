// Embedding and pooling ops against plain loops on packed batches of awkward lengths.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "ops/embedding.h"
#include "ops/pooling.h"

namespace {

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

std::vector<int64_t> offsets_of(const std::vector<int64_t>& lengths) {
  std::vector<int64_t> offsets = {0};
  for (int64_t len : lengths) offsets.push_back(offsets.back() + len);
  return offsets;
}

const std::vector<std::vector<int64_t>> kBatches = {{1}, {7}, {63, 65}, {1000, 1, 17}};
const int64_t kWidths[] = {1, 7, 64, 65};

}  // namespace

TEST_CASE("embedding adds token and per-sequence position rows") {
  const int64_t vocab = 300, max_len = 1000;
  for (const auto& lengths : kBatches) {
    for (int64_t dim : kWidths) {
      std::vector<int64_t> offsets = offsets_of(lengths);
      int64_t rows = offsets.back();
      std::vector<float> token = random_floats(vocab * dim, 1),
                         position = random_floats(max_len * dim, 2);
      std::vector<int32_t> ids(rows);
      std::mt19937 rng(3);
      for (auto& id : ids) id = static_cast<int32_t>(rng() % vocab);
      std::vector<float> y(rows * dim + 1, -7.0f);  // one guard value after the output
      skein::ops::embedding(ids.data(), offsets, token.data(), position.data(), dim, y.data());
      for (size_t s = 0; s < lengths.size(); ++s) {
        for (int64_t t = 0; t < lengths[s]; ++t) {
          int64_t row = offsets[s] + t;
          for (int64_t c = 0; c < dim; ++c) {
            REQUIRE(y[row * dim + c] == token[ids[row] * dim + c] + position[t * dim + c]);
          }
        }
      }
      CHECK(y.back() == -7.0f);
    }
  }
}

TEST_CASE("ngram_row matches models/pytorch/reference.py's ngram_buckets") {
  // Golden rows printed by reference.ngram_buckets for the ids {1, 2, 3, 256, 0, 257, 65535}.
  const std::vector<int32_t> ids = {1, 2, 3, 256, 0, 257, 65535};
  const std::vector<uint32_t> bigrams = {3143106899u, 3985283265u, 1018413647u,
                                         2792306136u, 3627096150u, 1469866253u};
  const std::vector<uint32_t> trigrams = {979, 479, 203, 294, 841};
  const std::vector<uint32_t> fourgrams = {25669, 10128, 16131, 17798};
  for (size_t t = 0; t < bigrams.size(); ++t) {
    CHECK(skein::ops::ngram_row(ids.data() + t, 2, 4294967291u) == bigrams[t]);
  }
  for (size_t t = 0; t < trigrams.size(); ++t) {
    CHECK(skein::ops::ngram_row(ids.data() + t, 3, 1000) == trigrams[t]);
  }
  for (size_t t = 0; t < fourgrams.size(); ++t) {
    CHECK(skein::ops::ngram_row(ids.data() + t, 4, 32768) == fourgrams[t]);
  }
}

TEST_CASE("embedding adds the hashed n-gram rows that lie inside each sequence") {
  const int64_t vocab = 300, max_len = 1000, buckets = 97;
  for (int max_n : {2, 4}) {
    for (const auto& lengths : kBatches) {
      const int64_t dim = 7;
      std::vector<int64_t> offsets = offsets_of(lengths);
      int64_t rows = offsets.back();
      std::vector<float> token = random_floats(vocab * dim, 1),
                         position = random_floats(max_len * dim, 2),
                         table = random_floats(buckets * dim, 5);
      std::vector<int32_t> ids(rows);
      std::mt19937 rng(3);
      for (auto& id : ids) id = static_cast<int32_t>(rng() % vocab);
      std::vector<float> y(rows * dim + 1, -7.0f);
      skein::ops::embedding(ids.data(), offsets, token.data(), position.data(), dim, y.data(),
                            {table.data(), buckets, max_n});
      for (size_t s = 0; s < lengths.size(); ++s) {
        for (int64_t t = 0; t < lengths[s]; ++t) {
          int64_t row = offsets[s] + t;
          for (int64_t c = 0; c < dim; ++c) {
            float expected = token[ids[row] * dim + c] + position[t * dim + c];
            for (int n = 2; n <= max_n && n <= t + 1; ++n) {
              uint32_t r = skein::ops::ngram_row(&ids[row - n + 1], n, buckets);
              expected += table[r * dim + c];
            }
            REQUIRE(y[row * dim + c] == expected);
          }
        }
      }
      CHECK(y.back() == -7.0f);
    }
  }
}

TEST_CASE(
    "mean_pool divides the sum by the given divisor, token_mean_pool by the sequence's length; "
    "cls_pool takes the first row") {
  for (const auto& lengths : kBatches) {
    for (int64_t width : kWidths) {
      std::vector<int64_t> offsets = offsets_of(lengths);
      std::vector<float> x = random_floats(offsets.back() * width, 4);
      auto seqs = static_cast<int64_t>(lengths.size());
      std::vector<float> mean(seqs * width + 1, -7.0f), cls(seqs * width + 1, -7.0f);
      std::vector<float> token_mean(seqs * width + 1, -7.0f);
      const double divisor = 1024;
      skein::ops::mean_pool(x.data(), offsets, width, divisor, mean.data());
      skein::ops::cls_pool(x.data(), offsets, width, cls.data());
      skein::ops::token_mean_pool(x.data(), offsets, width, token_mean.data());
      for (int64_t s = 0; s < seqs; ++s) {
        for (int64_t c = 0; c < width; ++c) {
          double sum = 0;
          for (int64_t t = offsets[s]; t < offsets[s + 1]; ++t) sum += x[t * width + c];
          // Reference sums in double too; the result differs by float rounding only.
          CHECK(mean[s * width + c] == doctest::Approx(sum / divisor).epsilon(1e-6));
          const auto length = static_cast<double>(offsets[s + 1] - offsets[s]);
          CHECK(token_mean[s * width + c] == doctest::Approx(sum / length).epsilon(1e-6));
          CHECK(cls[s * width + c] == x[offsets[s] * width + c]);
        }
      }
      CHECK(mean.back() == -7.0f);
      CHECK(cls.back() == -7.0f);
      CHECK(token_mean.back() == -7.0f);
    }
  }
}
