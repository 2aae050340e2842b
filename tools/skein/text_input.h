// Reads the prefix of a text file the model can take, never the whole file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace skein::cli {

struct TextInput {
  std::vector<uint8_t> bytes;  // at most max_bytes
  bool truncated = false;      // the input had more bytes than max_bytes
  int64_t total_bytes = -1;    // size of a regular file; -1 for stdin and pipes
};

/// Reads at most `max_bytes` from `path` ("-" = stdin), or all of it when `max_bytes` is
/// negative. Throws skein::Error naming the path for missing, unreadable or non-regular
/// files and for empty input.
TextInput read_text_prefix(const std::string& path, int64_t max_bytes);

}  // namespace skein::cli
