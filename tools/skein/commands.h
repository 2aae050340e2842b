// The skein CLI's subcommands. Each parses its own options and returns the
// process exit code; errors it cannot handle propagate as exceptions that
// main() prints as one line.
#pragma once

namespace skein::cli {

/// Exit codes shared by every command (documented in `skein --help`).
inline constexpr int kExitOk = 0;
inline constexpr int kExitSomeInputsFailed = 1;
inline constexpr int kExitError = 2;

int classify_command(int argc, char** argv);
int run_command(int argc, char** argv);
int inspect_command(int argc, char** argv);
int attention_command(int argc, char** argv);
int profile_command(int argc, char** argv);
int approx_command(int argc, char** argv);

}  // namespace skein::cli
