// Reading and writing Hugging Face safetensors files: an 8-byte little-endian
// header length N, N bytes of JSON header, then raw little-endian tensor data
// (the "data section"; tensor offsets are relative to its start).
//
// The reader memory-maps the file and checks the whole header before any
// tensor is visible, so every TensorInfo it hands out points at bytes inside
// the file whose count matches the tensor's dtype and shape. Every failure is
// a one-line skein::Error that starts with the file path.
//
// Choices that differ from the Hugging Face reader:
// - Lenient: bytes of the data section that no tensor covers (gaps between
//   tensors, trailing padding) are allowed. They are harmless, since each
//   tensor is still checked to lie inside the data section and not to overlap
//   another one. write_safetensors never leaves such bytes.
// - Strict: each tensor's data address must be a multiple of its element
//   size, so the engine can read F32 weights in place as float. Files written
//   by the safetensors library and by write_safetensors satisfy this: the
//   header is padded to a multiple of 8 bytes and tensors are laid out in
//   order of decreasing element size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace skein {

/// Element types of the safetensors format that skein can read.
enum class Dtype { F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL };

/// The name used in safetensors headers: "F32", "BOOL", ...
std::string_view dtype_name(Dtype dtype);
/// Bytes per element.
size_t dtype_size(Dtype dtype);
/// The dtype called `name` (exact, case-sensitive), or nullopt.
std::optional<Dtype> parse_dtype(std::string_view name);

/// One tensor of a validated file. `data` points at `nbytes` bytes
/// (= numel * dtype_size(dtype)), aligned to dtype_size(dtype); it stays valid
/// as long as the SafetensorsFile (or the buffer given to parse()) lives.
struct TensorInfo {
  std::string name;
  Dtype dtype;
  std::vector<int64_t> shape;  // empty for a scalar
  int64_t numel;
  const std::byte* data;
  size_t nbytes;
};

/// A validated safetensors file, memory-mapped (open) or borrowed (parse).
class SafetensorsFile {
 public:
  /// Maps `path` read-only and validates it. Throws skein::Error naming the
  /// path and the problem: missing or unreadable file, not a regular file, or
  /// any malformed header (see parse()).
  static SafetensorsFile open(const std::string& path);

  /// Validates `bytes` in place, without copying: the caller keeps the buffer
  /// alive and unchanged for the lifetime of the result. `source_name` starts
  /// every error message and is what path() returns.
  static SafetensorsFile parse(std::span<const std::byte> bytes, std::string source_name);

  SafetensorsFile(SafetensorsFile&&) noexcept = default;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept = default;
  ~SafetensorsFile() = default;

  /// The tensor called `name`, or nullptr. The pointer survives moves of *this.
  const TensorInfo* find(std::string_view name) const;
  /// Every tensor, in order of data offset.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  /// The header's "__metadata__" object (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& path() const { return path_; }

 private:
  struct Unmapper {
    size_t size;  // no initializer: GCC would then deem Unmapper not default-constructible here
    void operator()(const std::byte* addr) const noexcept;
  };
  using Mapping = std::unique_ptr<const std::byte, Unmapper>;

  SafetensorsFile() = default;
  static Mapping map_file(const std::string& path);

  std::string path_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> index_;  // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
  Mapping mapping_;  // null for parse(): the caller owns the bytes
};

/// One tensor for write_safetensors: `data` holds numel(shape) elements of
/// `dtype`, little-endian, contiguous.
struct TensorToWrite {
  std::string name;
  Dtype dtype;
  std::vector<int64_t> shape;
  const void* data;
};

/// Writes a safetensors file that SafetensorsFile::open and the Hugging Face
/// reader both accept: header padded with spaces to a multiple of 8 bytes,
/// tensors stored contiguously in order of decreasing element size (stable),
/// no metadata. Throws skein::Error naming the path for a tensor that cannot
/// be written (empty, reserved or repeated name, negative dimension, null
/// data) and for I/O failures (with the system's error text).
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors);

}  // namespace skein
