// The model's tokenizer (model.json "tokenizer", docs/FORMAT.md): bytes, one
// id per byte, or words, one id per whitespace-separated vocabulary token.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace skein {

class Tokenizer {
 public:
  /// Byte b becomes id b + offset.
  static Tokenizer bytes(int32_t offset);
  /// Whitespace-separated token vocab[i] becomes id i; `vocab` holds distinct tokens
  /// without whitespace (the loader checks).
  static Tokenizer words(std::vector<std::string> vocab);

  /// Token ids of `text` (no truncation). Words: throws skein::Error
  /// "unknown token 'T' at byte N" for a token outside the vocabulary.
  std::vector<int32_t> encode(std::span<const uint8_t> text) const;
  /// Bytes of a text's beginning that yield at most `max_tokens` ids: max_tokens for bytes,
  /// -1 for words, whose tokens vary in size (see prefix_bytes).
  int64_t byte_limit(int64_t max_tokens) const;
  /// The length of the beginning of `text` that encode() needs for the first `max_tokens` ids,
  /// or -1 when it needs all of it: for words, up to the start of token max_tokens + 1, or
  /// one byte into a token longer than any of the vocabulary (which encode() then reports).
  int64_t prefix_bytes(std::span<const uint8_t> text, int64_t max_tokens) const;
  /// The words vocabulary (id = index); empty for bytes.
  const std::vector<std::string>& vocabulary() const { return vocab_; }
  /// One line for Model::describe, e.g. "bytes, id = byte + 1" or "words, 15 tokens".
  std::string describe() const;

 private:
  bool words_ = false;
  int32_t offset_ = 0;
  std::vector<std::string> vocab_;
  size_t longest_ = 0;  // bytes of the longest vocabulary token
  std::unordered_map<std::string, int32_t> ids_;
};

}  // namespace skein
