// libFuzzer target: the model.json + graph loader. The input is model.json;
// the weights are a fixed valid model.safetensors (the 2-layer TinyModel of
// tests/unit/model_fixture.h), so the fuzzer explores the config, tokenizer,
// attention spec, node/edge and weight-binding checks of io/model_loader.cpp
// through the public entry point Model::load (which reads the file exactly
// as the CLI does). Every input must load or throw skein::Error with a
// message naming model.json or model.safetensors.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "fuzz_common.h"
#include "model_fixture.h"
#include "skein/skein.h"

namespace {

std::string model_dir() {
  static const std::string dir = [] {
    auto d = skein::fuzz::scratch_dir() / "model";
    std::filesystem::create_directories(d);
    // TinyModel::write uses its own temp directory; copy the weights from it.
    skein::testing::TinyModel tiny(2);
    const std::string written = tiny.write("fuzz_model_json");
    std::filesystem::copy_file(std::filesystem::path(written) / "model.safetensors",
                               d / "model.safetensors",
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::remove_all(written);
    return d.string();
  }();
  return dir;
}

// SKEIN_FUZZ_VERBOSE=1 prints each input's outcome (to check seeds by hand).
bool verbose() {
  static const bool on = std::getenv("SKEIN_FUZZ_VERBOSE") != nullptr;
  return on;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string dir = model_dir();
  skein::fuzz::write_file(std::filesystem::path(dir) / "model.json", data, size);
  try {
    std::shared_ptr<const skein::Model> model = skein::Model::load(dir);
    // A loaded model must be self-consistent enough to describe itself and
    // to tokenize; running it is the job of the tokenizer target.
    if (verbose()) std::fprintf(stderr, "loaded\n");
    SKEIN_FUZZ_CHECK(!model->describe().empty());
    // Every byte (bytes tokenizer) or vocabulary word (words) maps inside the vocabulary.
    const std::vector<std::string>& words = model->vocabulary();
    std::string probe = words.empty() ? std::string("\0\xff", 2) : "";
    for (const std::string& w : words) probe += w + " ";
    const std::vector<int32_t> ids =
        model->tokenize({reinterpret_cast<const uint8_t*>(probe.data()), probe.size()});
    SKEIN_FUZZ_CHECK(ids.size() == (words.empty() ? 2 : words.size()));
    for (size_t i = 0; i < ids.size(); ++i) {
      SKEIN_FUZZ_CHECK(ids[i] >= 0 && ids[i] < model->config().vocab_size);
      SKEIN_FUZZ_CHECK(words.empty() || ids[i] == static_cast<int32_t>(i));
    }
  } catch (const skein::Error& e) {
    if (verbose()) std::fprintf(stderr, "rejected: %s\n", e.what());
    SKEIN_FUZZ_CHECK(std::strstr(e.what(), "model.json") != nullptr ||
                     std::strstr(e.what(), "model.safetensors") != nullptr);
  }
  return 0;
}
