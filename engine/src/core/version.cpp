#include "skein/skein.h"

namespace skein {

const char* version() {
  return SKEIN_VERSION;
}

}  // namespace skein
