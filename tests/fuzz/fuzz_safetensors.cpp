// libFuzzer target: SafetensorsFile::parse over arbitrary bytes. Every input
// is either accepted, and then each tensor it reports lies inside the buffer
// with nbytes = numel * dtype_size and the right alignment, without overlaps,
// or rejected with skein::Error. Any other outcome (crash, ASan/UBSan report,
// other exception) is a finding.
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "fuzz_common.h"
#include "io/safetensors.h"
#include "skein/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Copy into an 8-byte aligned buffer of exactly `size` bytes (libFuzzer's
  // own buffer is exactly sized too, so ASan still catches 1-byte overreads).
  std::vector<uint64_t> storage((size + 7) / 8 + 1);
  auto* base = reinterpret_cast<std::byte*>(storage.data());
  if (size > 0) std::memcpy(base, data, size);
  // Use the original buffer (exact bounds for ASan) when it happens to be
  // aligned, otherwise the aligned copy: both paths are valid inputs.
  const std::byte* bytes = reinterpret_cast<uintptr_t>(data) % 8 == 0
                               ? reinterpret_cast<const std::byte*>(data)
                               : base;
  try {
    skein::SafetensorsFile file = skein::SafetensorsFile::parse({bytes, size}, "fuzz.safetensors");
    const std::byte* end = bytes + size;
    const std::byte* previous_end = nullptr;
    for (const skein::TensorInfo& t : file.tensors()) {
      SKEIN_FUZZ_CHECK(!t.name.empty());
      SKEIN_FUZZ_CHECK(t.numel >= 0);
      int64_t numel = 1;
      for (int64_t d : t.shape) {
        SKEIN_FUZZ_CHECK(d >= 0);
        numel *= d;  // cannot overflow: the parser checked it
      }
      SKEIN_FUZZ_CHECK(numel == t.numel);
      SKEIN_FUZZ_CHECK(t.nbytes == static_cast<size_t>(t.numel) * skein::dtype_size(t.dtype));
      SKEIN_FUZZ_CHECK(t.data >= bytes + 8 && t.data <= end);
      SKEIN_FUZZ_CHECK(t.nbytes <= static_cast<size_t>(end - t.data));
      SKEIN_FUZZ_CHECK(reinterpret_cast<uintptr_t>(t.data) % skein::dtype_size(t.dtype) == 0);
      SKEIN_FUZZ_CHECK(file.find(t.name) == &t);
      if (t.nbytes > 0) {
        SKEIN_FUZZ_CHECK(previous_end == nullptr || previous_end <= t.data);
        previous_end = t.data + t.nbytes;
        // Touch the first and last byte: ASan flags them if out of bounds.
        volatile std::byte first = t.data[0];
        volatile std::byte last = t.data[t.nbytes - 1];
        (void)first;
        (void)last;
      }
    }
  } catch (const skein::Error& e) {
    SKEIN_FUZZ_CHECK(std::strchr(e.what(), '\n') == nullptr);  // one-line messages
    SKEIN_FUZZ_CHECK(std::strncmp(e.what(), "fuzz.safetensors: ", 18) == 0);
  }
  return 0;
}
