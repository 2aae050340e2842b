// The words tokenizer (model.json "tokenizer": {"type": "words", "vocab": [...]}):
// whitespace-separated tokens map to their vocabulary index, an unknown token is
// an error naming it and its byte offset, and each defect of the spec is rejected
// by the loader with the file and field.
#include <doctest/doctest.h>

#include <filesystem>
#include <functional>
#include <string>

#include "model_fixture.h"
#include "skein/skein.h"

using skein::testing::TinyModel;

namespace {

const nlohmann::json kVocab = {"<pad>", "[MAX", "[MIN", "]", "0", "1", "2"};

std::vector<uint8_t> bytes_of(const std::string& text) {
  return {text.begin(), text.end()};
}

// A tiny model with the words tokenizer, `mutate`d, written and loaded; `check` runs on it.
void with_words_model(const std::string& tag, const std::function<void(TinyModel&)>& mutate,
                      const std::function<void(const skein::Model&)>& check) {
  TinyModel m;
  m.doc["tokenizer"] = {{"type", "words"}, {"vocab", kVocab}};
  mutate(m);
  std::string dir = m.write(tag);
  auto model = skein::Model::load(dir);
  check(*model);
  std::filesystem::remove_all(dir);
}

void expect_rejected(const std::string& tag, const nlohmann::json& tokenizer,
                     const std::string& expected) {
  TinyModel m;
  m.doc["tokenizer"] = tokenizer;
  std::string dir = m.write(tag);
  CAPTURE(tag);
  CHECK_THROWS_WITH_AS(skein::Model::load(dir), doctest::Contains(expected.c_str()), skein::Error);
  std::filesystem::remove_all(dir);
}

}  // namespace

TEST_CASE("the words tokenizer maps whitespace-separated tokens to vocabulary indices") {
  with_words_model(
      "words_valid", [](TinyModel&) {},
      [](const skein::Model& model) {
        CHECK(model.tokenize(bytes_of("[MAX 2 [MIN 0 1 ] ]")) ==
              std::vector<int32_t>{1, 6, 2, 4, 5, 3, 3});
        // Any run of spaces, tabs, newlines, CR, VT or FF separates; leading and trailing ones too.
        CHECK(model.tokenize(bytes_of(" \t[MAX\n\r0 \v\f1  ]\n")) ==
              std::vector<int32_t>{1, 4, 5, 3});
        CHECK(model.tokenize(bytes_of(" \n ")).empty());
        CHECK(model.vocabulary().size() == kVocab.size());
        CHECK(model.vocabulary()[1] == "[MAX");
        CHECK(model.input_byte_limit() == -1);
        CHECK(model.describe().find("tokenizer: words, 7 tokens: <pad> [MAX") != std::string::npos);
      });
}

TEST_CASE("a token outside the words vocabulary is an error naming it and its byte offset") {
  with_words_model(
      "words_unknown", [](TinyModel&) {},
      [](const skein::Model& model) {
        CHECK_THROWS_WITH_AS(model.tokenize(bytes_of("[MAX 1 [FOO 2 ] ]")),
                             "unknown token '[FOO' at byte 7 (not in the model's words vocabulary "
                             "of 7 tokens)",
                             skein::Error);
        // Tokens are exact: a prefix or extension of a vocabulary token is unknown.
        CHECK_THROWS_WITH_AS(model.tokenize(bytes_of("0 12")), doctest::Contains("'12' at byte 2"),
                             skein::Error);
        // Unprintable bytes are escaped and a long token cut, so the message stays one line.
        std::string binary = "1 \x01\xff" + std::string(60, 'x');
        const std::string shown =
            "unknown token '\\x01\\xff" + std::string(38, 'x') + "...' at byte 2";
        CHECK_THROWS_WITH_AS(model.tokenize(bytes_of(binary)), doctest::Contains(shown.c_str()),
                             skein::Error);
      });
}

TEST_CASE("a words model's input is cut after max_seq_len tokens or in an overlong token") {
  with_words_model(
      "words_prefix", [](TinyModel&) {},
      [](const skein::Model& model) {
        REQUIRE(model.config().max_seq_len == 32);
        std::string text = "\n ";
        for (int i = 0; i < 32; ++i) text += "1  ";
        CHECK(model.input_prefix_bytes(bytes_of(text)) == -1);
        CHECK(model.input_prefix_bytes(bytes_of(text + "\n")) == -1);
        const auto cut = static_cast<int64_t>(text.size());
        CHECK(model.input_prefix_bytes(bytes_of(text + "[MIN 0 ]")) == cut);
        CHECK(model.input_prefix_bytes(bytes_of(text + "[")) == cut);
        CHECK(model.tokenize(bytes_of(text)).size() == 32);
        // The longest vocabulary token, <pad>, has 5 bytes: a sixth byte ends the input there.
        CHECK(model.input_prefix_bytes(bytes_of("0 <pad> 1")) == -1);
        const std::string overlong = "0 <pad>x" + std::string(1000, 'x');
        CHECK(model.input_prefix_bytes(bytes_of(overlong)) == 8);
        CHECK_THROWS_WITH_AS(model.tokenize(bytes_of(overlong.substr(0, 8))),
                             doctest::Contains("'<pad>x' at byte 2"), skein::Error);
      });
}

TEST_CASE("the bytes tokenizer reads max_seq_len bytes and has no vocabulary") {
  TinyModel m;
  std::string dir = m.write("bytes_limit");
  auto model = skein::Model::load(dir);
  CHECK(model->input_byte_limit() == model->config().max_seq_len);
  CHECK(model->input_prefix_bytes(std::vector<uint8_t>(32, 'a')) == -1);
  CHECK(model->input_prefix_bytes(std::vector<uint8_t>(33, 'a')) == 32);
  CHECK(model->vocabulary().empty());
  CHECK(model->describe().find("tokenizer: bytes, id = byte + 1") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("words tokenizer defects are rejected with file and field") {
  expect_rejected("words_no_vocab", {{"type", "words"}},
                  "model.json: model.tokenizer: missing field 'vocab'");
  expect_rejected("words_not_array", {{"type", "words"}, {"vocab", "0 1 2"}},
                  "model.tokenizer.vocab: expected a non-empty array of strings");
  expect_rejected("words_empty", {{"type", "words"}, {"vocab", nlohmann::json::array()}},
                  "model.tokenizer.vocab: expected a non-empty array of strings");
  expect_rejected("words_not_string", {{"type", "words"}, {"vocab", {"0", 1}}},
                  "model.tokenizer.vocab[1]: expected a string, got 1");
  expect_rejected("words_duplicate", {{"type", "words"}, {"vocab", {"0", "1", "0"}}},
                  "model.tokenizer.vocab[2]: token \"0\" repeats vocab[0]");
  expect_rejected("words_space", {{"type", "words"}, {"vocab", {"0", "a b"}}},
                  "model.tokenizer.vocab[1]: token \"a b\" is empty or holds whitespace");
  expect_rejected("words_blank", {{"type", "words"}, {"vocab", {""}}},
                  "model.tokenizer.vocab[0]: token \"\" is empty or holds whitespace");
  expect_rejected("words_offset", {{"type", "words"}, {"vocab", {"0"}}, {"offset", 1}},
                  "model.tokenizer: unknown field 'offset'");
  nlohmann::json big = nlohmann::json::array();
  for (int i = 0; i < 259; ++i) big.push_back("w" + std::to_string(i));
  expect_rejected("words_too_many", {{"type", "words"}, {"vocab", big}},
                  "model.tokenizer.vocab: 259 tokens, more than config.vocab_size = 258 ids");
  expect_rejected("unknown_type", {{"type", "bpe"}},
                  "model.tokenizer.type: unknown tokenizer 'bpe' (known: bytes, words)");
}
