// libFuzzer target: the text input path of `skein classify`. The input's
// first byte picks a prefix limit (1..256 bytes); the rest is the file's
// content. read_text_prefix must return exactly min(limit, size) leading
// bytes with the right truncated flag (or skein::Error for an empty file or a
// NUL byte among those bytes), Model::tokenize must map every byte into the
// vocabulary, and a Session must run the ids (truncated to max_seq_len, as
// classify does) to finite logits.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "../../tools/skein/text_input.h"
#include "fuzz_common.h"
#include "model_fixture.h"
#include "skein/skein.h"

namespace {

struct Fixture {
  std::shared_ptr<const skein::Model> model;
  std::unique_ptr<skein::Session> session;
  std::string text_path;
};

Fixture& fixture() {
  static Fixture f = [] {
    Fixture x;
    skein::testing::TinyModel tiny(2);
    const std::string dir = tiny.write("fuzz_text_input");
    x.model = skein::Model::load(dir);  // weights stay mapped after the files are gone
    std::filesystem::remove_all(dir);
    skein::SessionOptions options;
    options.threads = 1;
    x.session = std::make_unique<skein::Session>(x.model, options);
    x.text_path = (skein::fuzz::scratch_dir() / "input.txt").string();
    return x;
  }();
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Fixture& f = fixture();
  const int64_t limit = int64_t{data[0]} + 1;
  const uint8_t* content = data + 1;
  const size_t content_size = size - 1;
  skein::fuzz::write_file(f.text_path, content, content_size);

  const size_t expected = std::min(content_size, static_cast<size_t>(limit));
  const bool binary = std::memchr(content, 0, expected) != nullptr;
  skein::cli::TextInput input;
  try {
    input = skein::cli::read_text_prefix(f.text_path, limit);
  } catch (const skein::Error& e) {
    SKEIN_FUZZ_CHECK(content_size == 0 || binary);
    SKEIN_FUZZ_CHECK(std::strstr(e.what(), content_size == 0 ? "empty input" : "binary file") !=
                     nullptr);
    return 0;
  }
  SKEIN_FUZZ_CHECK(content_size > 0 && !binary);
  SKEIN_FUZZ_CHECK(input.bytes.size() == expected);
  SKEIN_FUZZ_CHECK(input.truncated == (content_size > static_cast<size_t>(limit)));
  SKEIN_FUZZ_CHECK(input.total_bytes == static_cast<int64_t>(content_size));
  SKEIN_FUZZ_CHECK(std::memcmp(input.bytes.data(), content, expected) == 0);

  const std::vector<int32_t> ids = f.model->tokenize(input.bytes);
  SKEIN_FUZZ_CHECK(ids.size() == input.bytes.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    SKEIN_FUZZ_CHECK(ids[i] >= 0 && ids[i] < f.model->config().vocab_size);
    SKEIN_FUZZ_CHECK(ids[i] == f.model->tokenize(std::span(&input.bytes[i], 1))[0]);
  }

  // Truncate to the model's length, as classify does, and run.
  const auto n = std::min<size_t>(ids.size(), static_cast<size_t>(f.model->config().max_seq_len));
  std::span<const int32_t> batch[] = {std::span(ids.data(), n)};
  const skein::RunResult out = f.session->run(batch);
  SKEIN_FUZZ_CHECK(out.logits.rows == 1 && out.logits.cols == f.model->config().num_classes);
  for (float v : out.logits.data) SKEIN_FUZZ_CHECK(std::isfinite(v));
  return 0;
}
