// Process memory figures from the operating system, for honest reporting.
#pragma once

#include <cstdint>

namespace skein {

/// Peak resident set size of this process so far (VmHWM), in bytes; 0 if unknown.
int64_t rss_high_water_bytes();

/// Installed physical memory, in bytes; 0 if unknown.
int64_t physical_memory_bytes();

}  // namespace skein
