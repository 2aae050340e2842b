// Shared helpers of the libFuzzer targets: a per-process scratch directory and
// the rule that every failure must be a skein::Error. Any other exception
// escaping the code under test is reported by libFuzzer as a crash
// ("deadly signal" after std::terminate), which is what we want: the promise
// in docs/RELIABILITY.md is "malformed input is a skein::Error, never anything else".
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace skein::fuzz {

/// A fresh directory under $TMPDIR for this fuzzer process, removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() /
             ("skein_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    static const std::filesystem::path to_remove = d;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(to_remove, ec);
    });
    return d;
  }();
  return dir;
}

inline void write_file(const std::filesystem::path& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) {
    std::fprintf(stderr, "fuzz harness: cannot write %s\n", path.c_str());
    std::abort();
  }
}

[[noreturn]] inline void invariant_failed(const char* what) {
  std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
  std::abort();
}

#define SKEIN_FUZZ_CHECK(cond) \
  do {                         \
    if (!(cond)) ::skein::fuzz::invariant_failed(#cond); \
  } while (0)

}  // namespace skein::fuzz
