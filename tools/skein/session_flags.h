// Session options shared by the commands that run a model.
#pragma once

#include <string>

#include <cxxopts.hpp>

#include "skein/session.h"

namespace skein::cli {

/// Adds --threads, --attention, --features, --seed, --max-memory and --unfused to `options`.
void add_session_flags(cxxopts::Options& options);

/// Bytes from text like "4096", "512K", "64M" or "2G" (powers of 1024); "" is 0.
/// Throws skein::Error naming `flag` for anything else.
int64_t parse_bytes(const std::string& text, const std::string& flag);

/// The SessionOptions those flags describe.
SessionOptions session_options(const cxxopts::ParseResult& args);

}  // namespace skein::cli
