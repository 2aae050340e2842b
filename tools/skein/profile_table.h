// Prints a session's per-layer profile as an aligned text table.
#pragma once

#include <cstdio>

#include "skein/profile.h"

namespace skein::cli {

void print_layer_table(std::FILE* out, const Profile& profile, int threads);

}  // namespace skein::cli
