#include "graph/tokenizer.h"

#include <algorithm>

#include "skein/error.h"

namespace skein {
namespace {

bool is_space(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// The token as it appears in an error: printable ASCII as is, other bytes as \xNN, at most
// 40 bytes, so the message stays one readable line.
std::string shown(std::span<const uint8_t> token) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < token.size() && i < 40; ++i) {
    const uint8_t c = token[i];
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += {'\\', 'x', hex[c >> 4], hex[c & 15]};
    }
  }
  return token.size() > 40 ? out + "..." : out;
}

}  // namespace

Tokenizer Tokenizer::bytes(int32_t offset) {
  Tokenizer t;
  t.offset_ = offset;
  return t;
}

Tokenizer Tokenizer::words(std::vector<std::string> vocab) {
  Tokenizer t;
  t.words_ = true;
  t.vocab_ = std::move(vocab);
  for (size_t i = 0; i < t.vocab_.size(); ++i) {
    t.ids_.emplace(t.vocab_[i], static_cast<int32_t>(i));
    t.longest_ = std::max(t.longest_, t.vocab_[i].size());
  }
  return t;
}

std::vector<int32_t> Tokenizer::encode(std::span<const uint8_t> text) const {
  std::vector<int32_t> ids;
  if (!words_) {
    ids.resize(text.size());
    for (size_t i = 0; i < text.size(); ++i) ids[i] = int32_t{text[i]} + offset_;
    return ids;
  }
  std::string token;
  for (size_t i = 0; i < text.size();) {
    if (is_space(text[i])) {
      ++i;
      continue;
    }
    const size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    token.assign(reinterpret_cast<const char*>(text.data() + start), i - start);
    auto it = ids_.find(token);
    if (it == ids_.end()) {
      throw Error("unknown token '" + shown(text.subspan(start, i - start)) + "' at byte " +
                  std::to_string(start) + " (not in the model's words vocabulary of " +
                  std::to_string(vocab_.size()) + " tokens)");
    }
    ids.push_back(it->second);
  }
  return ids;
}

int64_t Tokenizer::byte_limit(int64_t max_tokens) const {
  return words_ ? -1 : max_tokens;
}

int64_t Tokenizer::prefix_bytes(std::span<const uint8_t> text, int64_t max_tokens) const {
  if (!words_) return static_cast<int64_t>(text.size()) > max_tokens ? max_tokens : -1;
  int64_t tokens = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (is_space(text[i])) continue;
    if (i == 0 || is_space(text[i - 1])) {
      if (tokens++ == max_tokens) return static_cast<int64_t>(i);
      start = i;
    } else if (i - start == longest_) {
      return static_cast<int64_t>(i + 1);
    }
  }
  return -1;
}

std::string Tokenizer::describe() const {
  if (!words_) return "bytes, id = byte + " + std::to_string(offset_);
  std::string text = "words, " + std::to_string(vocab_.size()) + " tokens:";
  for (const std::string& w : vocab_) text += " " + w;
  return text;
}

}  // namespace skein
