// The whole public API of skein: load a Model, run inputs through Sessions,
// read logits, pooled representations and the per-layer profile.
#pragma once

#include "skein/attention.h"
#include "skein/error.h"
#include "skein/export.h"
#include "skein/model.h"
#include "skein/profile.h"
#include "skein/session.h"
#include "skein/tensor.h"

namespace skein {

/// The library version, "major.minor.patch".
SKEIN_API const char* version();

}  // namespace skein
