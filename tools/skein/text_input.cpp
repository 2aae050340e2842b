#include "text_input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <span>
#include <string>

#include "skein/error.h"
#include "skein/model.h"

namespace skein::cli {
namespace {

[[noreturn]] void fail_errno(const std::string& path) {
  throw Error(path + ": " + std::strerror(errno));
}

// Reads until `want` bytes or end of input; returns the count read.
size_t read_up_to(int fd, uint8_t* out, size_t want, const std::string& path) {
  size_t got = 0;
  while (got < want) {
    ssize_t n = ::read(fd, out + got, want - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno(path);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}

// Opens `path` ("-" = stdin), runs read(fd, input) and closes it; checks the input is a
// readable non-directory and not empty.
TextInput read_input(const std::string& path,
                     const std::function<void(int fd, TextInput& input)>& read) {
  const bool is_stdin = path == "-";
  const int fd = is_stdin ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_errno(path);
  TextInput input;
  try {
    struct stat st {};
    if (::fstat(fd, &st) != 0) fail_errno(path);
    if (S_ISDIR(st.st_mode)) throw Error(path + ": is a directory");
    if (S_ISREG(st.st_mode)) input.total_bytes = st.st_size;
    read(fd, input);
  } catch (...) {
    if (!is_stdin) ::close(fd);
    throw;
  }
  if (!is_stdin) ::close(fd);
  if (input.bytes.empty()) throw Error(path + ": empty input, nothing to classify");
  // Text never holds a NUL byte; binary files nearly always do (git and grep
  // use the same test). A model of text bytes would classify them anyway, into
  // a confident but meaningless label.
  const auto nul = std::find(input.bytes.begin(), input.bytes.end(), uint8_t{0});
  if (nul != input.bytes.end()) {
    throw Error(path + ": binary file (NUL byte at offset " +
                std::to_string(nul - input.bytes.begin()) + "), not text");
  }
  return input;
}

}  // namespace

TextInput read_text_prefix(const std::string& path, int64_t max_bytes) {
  const auto limit = static_cast<size_t>(std::max<int64_t>(max_bytes, 0));
  return read_input(path, [&](int fd, TextInput& input) {
    // One byte more than allowed tells whether the input continues.
    input.bytes.resize(limit + 1);
    const size_t got = read_up_to(fd, input.bytes.data(), input.bytes.size(), path);
    input.truncated = got > limit;
    input.bytes.resize(std::min(got, limit));
  });
}

TextInput read_model_input(const Model& model, const std::string& path) {
  if (model.input_byte_limit() >= 0) return read_text_prefix(path, model.input_byte_limit());
  return read_input(path, [&](int fd, TextInput& input) {
    // Chunks that double in size: the token count is rechecked after each, in linear time overall.
    size_t got = 0;
    do {
      input.bytes.resize(std::max<size_t>(input.bytes.size() * 2, 1 << 16));
      got += read_up_to(fd, input.bytes.data() + got, input.bytes.size() - got, path);
      const int64_t cut = model.input_prefix_bytes(std::span(input.bytes.data(), got));
      if (cut >= 0) {
        input.truncated = true;
        got = static_cast<size_t>(cut);
        break;
      }
    } while (got == input.bytes.size());
    input.bytes.resize(got);
  });
}

}  // namespace skein::cli
