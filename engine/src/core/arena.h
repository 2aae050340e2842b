// Arena: one 64-byte-aligned block holding a run's planned activations and
// workspaces. Sized from the memory plan; grows only when a plan needs more.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace skein {

class Arena {
 public:
  /// Makes the arena at least `bytes` large. Contents are not preserved.
  void reserve(int64_t bytes);
  std::byte* data() const { return data_.get(); }
  int64_t capacity() const { return capacity_; }

 private:
  struct Free {
    void operator()(std::byte* p) const;
  };
  std::unique_ptr<std::byte, Free> data_;
  int64_t capacity_ = 0;
};

}  // namespace skein
