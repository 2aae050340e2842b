// Session options shared by the commands that run a model.
#pragma once

#include <cxxopts.hpp>

#include "skein/session.h"

namespace skein::cli {

/// Adds --threads, --attention, --features and --seed to `options`.
void add_session_flags(cxxopts::Options& options);

/// The SessionOptions those flags describe.
SessionOptions session_options(const cxxopts::ParseResult& args);

}  // namespace skein::cli
