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
