#include "text_input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "skein/error.h"

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

}  // namespace

TextInput read_text_prefix(const std::string& path, int64_t max_bytes) {
  bool is_stdin = path == "-";
  int fd = is_stdin ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_errno(path);
  TextInput input;
  try {
    struct stat st {};
    if (::fstat(fd, &st) != 0) fail_errno(path);
    if (S_ISDIR(st.st_mode)) throw Error(path + ": is a directory");
    if (S_ISREG(st.st_mode)) input.total_bytes = st.st_size;
    if (max_bytes < 0) {
      // The whole input, in growing chunks (stdin and pipes have no size).
      size_t got = 0;
      do {
        input.bytes.resize(std::max<size_t>(input.bytes.size() * 2, 1 << 16));
        got += read_up_to(fd, input.bytes.data() + got, input.bytes.size() - got, path);
      } while (got == input.bytes.size());
      input.bytes.resize(got);
    } else {
      // One byte more than allowed tells whether the input continues.
      input.bytes.resize(static_cast<size_t>(max_bytes) + 1);
      size_t got = read_up_to(fd, input.bytes.data(), input.bytes.size(), path);
      input.truncated = got > static_cast<size_t>(max_bytes);
      input.bytes.resize(std::min(got, static_cast<size_t>(max_bytes)));
    }
  } catch (...) {
    if (!is_stdin) ::close(fd);
    throw;
  }
  if (!is_stdin) ::close(fd);
  if (input.bytes.empty()) throw Error(path + ": empty input, nothing to classify");
  return input;
}

}  // namespace skein::cli
