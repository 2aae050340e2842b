#include "core/arena.h"

#include <cstdlib>
#include <string>

#include "graph/planner.h"
#include "skein/error.h"

namespace skein {

void Arena::Free::operator()(std::byte* p) const {
  std::free(p);
}

void Arena::reserve(int64_t bytes) {
  if (bytes <= capacity_) return;
  int64_t rounded = (bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
  data_.reset();
  capacity_ = 0;
  auto* p =
      static_cast<std::byte*>(std::aligned_alloc(kArenaAlignment, static_cast<size_t>(rounded)));
  if (!p)
    throw Error("cannot allocate the activation arena: " + std::to_string(rounded) + " bytes");
  data_.reset(p);
  capacity_ = rounded;
}

}  // namespace skein
