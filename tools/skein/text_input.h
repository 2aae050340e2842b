// Reads the prefix of a text file the model can take, never the whole file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace skein {
class Model;
}

namespace skein::cli {

struct TextInput {
  std::vector<uint8_t> bytes;  // the prefix kept
  bool truncated = false;      // the input continued past the prefix
  int64_t total_bytes = -1;    // size of a regular file; -1 for stdin and pipes
};

/// Reads at most `max_bytes` (>= 0) from `path` ("-" = stdin). Throws skein::Error naming the
/// path for missing, unreadable or non-regular files, for empty input and for binary input (a
/// NUL byte in the bytes read).
TextInput read_text_prefix(const std::string& path, int64_t max_bytes);

/// The model's input from `path`: read_text_prefix(path, model.input_byte_limit()) or, for a
/// tokenizer without a byte limit (words), growing chunks until Model::input_prefix_bytes finds
/// more than max_seq_len tokens, cut there. Errors as read_text_prefix.
TextInput read_model_input(const Model& model, const std::string& path);

}  // namespace skein::cli
