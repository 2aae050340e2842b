// Safetensors reader and writer; the format and the validation policy are
// described in safetensors.h.
#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <set>
#include <system_error>
#include <tuple>
#include <utility>

#include <skein/error.h>
#include <nlohmann/json.hpp>

namespace skein {
namespace {

using nlohmann::json;

constexpr size_t kLengthBytes = 8;  // the little-endian u64 header length
// The Hugging Face reader's limit; a larger header is corrupt, not a model.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// Bounds each dimension so that a single one never overflows int64_t.
constexpr uint64_t kMaxDim = uint64_t{1} << 62;

struct DtypeEntry {
  Dtype dtype;
  std::string_view name;
  size_t size;
};

constexpr std::array<DtypeEntry, 13> kDtypes = {{
    {Dtype::F64, "F64", 8},
    {Dtype::F32, "F32", 4},
    {Dtype::F16, "F16", 2},
    {Dtype::BF16, "BF16", 2},
    {Dtype::I64, "I64", 8},
    {Dtype::I32, "I32", 4},
    {Dtype::I16, "I16", 2},
    {Dtype::I8, "I8", 1},
    {Dtype::U64, "U64", 8},
    {Dtype::U32, "U32", 4},
    {Dtype::U16, "U16", 2},
    {Dtype::U8, "U8", 1},
    {Dtype::BOOL, "BOOL", 1},
}};

const DtypeEntry& dtype_entry(Dtype dtype) {
  return *std::find_if(kDtypes.begin(), kDtypes.end(),
                       [dtype](const DtypeEntry& e) { return e.dtype == dtype; });
}

[[noreturn]] void fail(std::string_view source, const std::string& what) {
  throw Error(std::string(source) + ": " + what);
}

[[noreturn]] void fail_errno(std::string_view source, const std::string& what, int err) {
  fail(source, what + ": " + std::system_category().message(err));
}

// Error messages are one line of printable ASCII however hostile the file:
// other bytes are written as \xNN, and long text is cut short.
void append_escaped(std::string& out, char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte >= 0x20 && byte < 0x7f) {
    out += c;
  } else {
    std::array<char, 5> hex{};
    std::snprintf(hex.data(), hex.size(), "\\x%02x", byte);
    out += hex.data();
  }
}

std::string printable(std::string_view text, size_t max_chars) {
  std::string out;
  for (char c : text.substr(0, max_chars)) append_escaped(out, c);
  return text.size() > max_chars ? out + "..." : out;
}

// A name in double quotes, for a message.
std::string quote(std::string_view text) {
  constexpr size_t kMaxChars = 100;
  std::string out = "\"";
  for (char c : text.substr(0, kMaxChars)) {
    if (c == '"' || c == '\\') out += '\\';
    append_escaped(out, c);
  }
  return out + (text.size() > kMaxChars ? "\"..." : "\"");
}

// A JSON value for an error message.
std::string show(const json& value) {
  return printable(value.dump(-1, ' ', /*ensure_ascii=*/true), 60);
}

std::string show_shape(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

// Number of elements of `shape`, or nullopt when it is negative or overflows.
std::optional<int64_t> checked_numel(const std::vector<int64_t>& shape) {
  int64_t numel = 1;
  for (int64_t dim : shape) {
    if (dim < 0 || __builtin_mul_overflow(numel, dim, &numel)) return std::nullopt;
  }
  return numel;
}

std::optional<size_t> checked_nbytes(int64_t numel, Dtype dtype) {
  size_t nbytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(numel), dtype_size(dtype), &nbytes)) {
    return std::nullopt;
  }
  return nbytes;
}

// ---------------------------------------------------------------- reading

void check_holds_length_field(size_t file_size, std::string_view source) {
  if (file_size < kLengthBytes) {
    fail(source, "file is " + std::to_string(file_size) +
                     " bytes, shorter than the 8-byte header length field");
  }
}

// The JSON header, which must fit the buffer: returns its bytes.
std::string_view header_text(std::span<const std::byte> bytes, std::string_view source) {
  check_holds_length_field(bytes.size(), source);
  uint64_t length = 0;
  for (size_t i = 0; i < kLengthBytes; ++i) {
    length |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  }
  if (length == 0) fail(source, "header length is 0");
  if (length > kMaxHeaderBytes) {
    fail(source, "header length " + std::to_string(length) + " exceeds the limit of " +
                     std::to_string(kMaxHeaderBytes) + " bytes");
  }
  if (length > bytes.size() - kLengthBytes) {
    fail(source, "header length " + std::to_string(length) +
                     " runs past the end of the file (8 + " + std::to_string(length) + " > " +
                     std::to_string(bytes.size()) + " bytes)");
  }
  return {reinterpret_cast<const char*>(bytes.data()) + kLengthBytes, static_cast<size_t>(length)};
}

// Parses the header. nlohmann::json keeps only the last of repeated keys, so a
// parser callback watches every key and the first repeat is reported.
json parse_header(std::string_view text, std::string_view source) {
  struct OpenObject {
    std::string owner;  // the key this object is the value of ("" at top level)
    std::set<std::string> keys;
  };
  std::vector<OpenObject> open;
  std::string last_key;
  std::optional<std::string> duplicate;
  auto watch_keys = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      open.push_back({open.empty() ? "" : last_key, {}});
    } else if (event == json::parse_event_t::object_end) {
      open.pop_back();
    } else if (event == json::parse_event_t::key) {
      last_key = parsed.get<std::string>();
      if (!open.back().keys.insert(last_key).second && !duplicate) {
        const std::string& owner = open.back().owner;
        duplicate = "duplicate key " + quote(last_key) +
                    (open.size() == 1 ? " in the header" : " in " + quote(owner));
      }
    }
    return true;
  };

  json header;
  try {
    // The JSON lexer also rejects strings that are not valid UTF-8, which is
    // what guarantees that tensor names are.
    header = json::parse(text.begin(), text.end(), watch_keys);
  } catch (const json::exception& e) {
    // Mostly parse_error, which gives the position; a number too large for a
    // double (1e400) is an out_of_range error instead. what() is
    // "[json.exception.<kind>.<id>] <message>": keep the message.
    std::string_view what = e.what();
    if (const size_t end = what.find("] "); end != std::string_view::npos) {
      what.remove_prefix(end + 2);
    }
    fail(source, "header is not valid JSON: " + printable(what, 300));
  }
  if (duplicate) fail(source, *duplicate);
  if (!header.is_object()) fail(source, "header is not a JSON object: " + show(header));
  return header;
}

std::map<std::string, std::string> read_metadata(const json& value, std::string_view source) {
  if (!value.is_object()) fail(source, "\"__metadata__\" is not an object: " + show(value));
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      fail(source, "\"__metadata__\" value for " + quote(key) + " is not a string: " + show(item));
    }
    metadata.emplace(key, item.get<std::string>());
  }
  return metadata;
}

// A non-negative JSON integer, or nullopt (negative, fractional, not a number).
std::optional<uint64_t> as_count(const json& value) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer() && value.get<int64_t>() >= 0) return value.get<uint64_t>();
  return std::nullopt;
}

// Validates one header entry; its errors name the tensor and the field.
class TensorChecker {
 public:
  TensorChecker(std::string_view source, const std::string& name)
      : prefix_(std::string(source) + ": tensor " + quote(name) + ": ") {}

  [[noreturn]] void fail(const std::string& what) const { throw Error(prefix_ + what); }
  [[noreturn]] void fail(std::string_view field, const std::string& what) const {
    fail("field " + quote(field) + " " + what);
  }

  void check_fields(const json& entry) const {
    if (!entry.is_object()) fail("entry is not an object: " + show(entry));
    for (const char* field : {"dtype", "shape", "data_offsets"}) {
      if (!entry.contains(field)) fail("missing field " + quote(field));
    }
    if (entry.size() != 3) {
      for (const auto& [key, value] : entry.items()) {
        if (key != "dtype" && key != "shape" && key != "data_offsets") {
          fail("unexpected field " + quote(key) + " (expected dtype, shape, data_offsets)");
        }
      }
    }
  }

  Dtype dtype(const json& value) const {
    if (!value.is_string()) fail("dtype", "is not a string: " + show(value));
    std::optional<Dtype> dtype = parse_dtype(value.get<std::string>());
    if (!dtype) fail("dtype", "is an unknown dtype " + show(value));
    return *dtype;
  }

  std::vector<int64_t> shape(const json& value) const {
    if (!value.is_array()) fail("shape", "is not an array: " + show(value));
    std::vector<int64_t> shape;
    for (const json& item : value) {
      std::optional<uint64_t> dim = as_count(item);
      const std::string where = "element " + std::to_string(shape.size()) + " is ";
      if (!dim) fail("shape", where + show(item) + ", expected a non-negative integer");
      if (*dim > kMaxDim) fail("shape", where + show(item) + ", larger than 2^62");
      shape.push_back(static_cast<int64_t>(*dim));
    }
    return shape;
  }

  int64_t numel(const std::vector<int64_t>& shape) const {
    std::optional<int64_t> numel = checked_numel(shape);
    if (!numel) fail("shape", show_shape(shape) + " has more than 2^63 - 1 elements");
    return *numel;
  }

  size_t nbytes(Dtype dtype, const std::vector<int64_t>& shape, int64_t numel) const {
    std::optional<size_t> nbytes = checked_nbytes(numel, dtype);
    if (!nbytes) {
      fail("shape", show_shape(shape) + " of " + std::string(dtype_name(dtype)) +
                        " needs more than 2^64 bytes");
    }
    return *nbytes;
  }

  // [begin, end) in the data section of `data_size` bytes.
  std::pair<size_t, size_t> offsets(const json& value, size_t data_size) const {
    if (!value.is_array() || value.size() != 2) {
      fail("data_offsets", "is not an array of two integers: " + show(value));
    }
    std::array<uint64_t, 2> range{};
    for (size_t i = 0; i < 2; ++i) {
      std::optional<uint64_t> offset = as_count(value[i]);
      if (!offset) {
        fail("data_offsets", "element " + std::to_string(i) + " is " + show(value[i]) +
                                 ", expected a non-negative integer");
      }
      range[i] = *offset;
    }
    const auto [begin, end] = range;
    if (begin > end) {
      fail("data_offsets",
           show(value) + " has begin " + std::to_string(begin) + " > end " + std::to_string(end));
    }
    if (end > data_size) {
      fail("data_offsets",
           show(value) + " ends past the data section (" + std::to_string(data_size) + " bytes)");
    }
    return {static_cast<size_t>(begin), static_cast<size_t>(end)};
  }

 private:
  std::string prefix_;
};

TensorInfo read_tensor(const std::string& name, const json& entry,
                       std::span<const std::byte> data_section, size_t data_start,
                       std::string_view source) {
  const TensorChecker check(source, name);
  if (name.empty()) check.fail("name is empty");
  check.check_fields(entry);
  TensorInfo info{.name = name,
                  .dtype = check.dtype(entry["dtype"]),
                  .shape = check.shape(entry["shape"]),
                  .numel = 0,
                  .data = nullptr,
                  .nbytes = 0};
  info.numel = check.numel(info.shape);
  info.nbytes = check.nbytes(info.dtype, info.shape, info.numel);
  const auto [begin, end] = check.offsets(entry["data_offsets"], data_section.size());
  if (end - begin != info.nbytes) {
    check.fail("data_offsets",
               show(entry["data_offsets"]) + " spans " + std::to_string(end - begin) +
                   " bytes, but " + std::string(dtype_name(info.dtype)) + " " +
                   show_shape(info.shape) + " needs " + std::to_string(info.nbytes));
  }
  info.data = data_section.data() + begin;
  const size_t align = dtype_size(info.dtype);
  if (reinterpret_cast<uintptr_t>(info.data) % align != 0) {
    check.fail("data at file offset " + std::to_string(data_start + begin) + " is not " +
               std::to_string(align) + "-byte aligned in memory, as " +
               std::string(dtype_name(info.dtype)) + " requires");
  }
  return info;
}

// Sorts `tensors` by data offset and rejects overlapping byte ranges. Empty
// tensors hold no bytes, so they overlap nothing.
void sort_and_check_overlaps(std::vector<TensorInfo>& tensors, const std::byte* data_section,
                             std::string_view source) {
  std::sort(tensors.begin(), tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return std::tie(a.data, a.nbytes, a.name) < std::tie(b.data, b.nbytes, b.name);
  });
  const TensorInfo* previous = nullptr;
  for (const TensorInfo& t : tensors) {
    if (t.nbytes == 0) continue;
    if (previous != nullptr && previous->data + previous->nbytes > t.data) {
      auto range = [data_section](const TensorInfo& x) {
        const auto begin = static_cast<size_t>(x.data - data_section);
        return " [" + std::to_string(begin) + ", " + std::to_string(begin + x.nbytes) + ")";
      };
      fail(source, "tensors " + quote(previous->name) + range(*previous) + " and " + quote(t.name) +
                       range(t) + " overlap");
    }
    previous = &t;
  }
}

struct ClosesFd {
  int fd;
  ~ClosesFd() { ::close(fd); }
};

// ---------------------------------------------------------------- writing

// A file descriptor opened for writing, closed on every path.
class OutputFile {
 public:
  explicit OutputFile(const std::string& path)
      : path_(path), fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) {
    if (fd_ < 0) fail_errno(path_, "cannot open for writing", errno);
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile() {
    if (fd_ >= 0) ::close(fd_);
  }

  void write(const void* data, size_t size) {
    const auto* bytes = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t written = ::write(fd_, bytes, size);
      if (written < 0 && errno == EINTR) continue;
      if (written < 0) fail_errno(path_, "cannot write", errno);
      bytes += written;
      size -= static_cast<size_t>(written);
    }
  }

  // Closing can report a delayed write error (e.g. a full disk over NFS).
  void close() {
    if (::close(std::exchange(fd_, -1)) != 0) fail_errno(path_, "cannot close", errno);
  }

 private:
  std::string path_;
  int fd_;
};

[[noreturn]] void reject_tensor(const std::string& path, const std::string& name,
                                const std::string& why) {
  fail(path, "cannot write tensor " + quote(name) + ": " + why);
}

// The header for `tensors`, already in file order, padded with spaces so that
// the data section starts 8-byte aligned.
std::string make_header(const std::vector<const TensorToWrite*>& tensors, const std::string& path) {
  json header = json::object();
  size_t offset = 0;
  for (const TensorToWrite* t : tensors) {
    auto reject = [&](const std::string& why) { reject_tensor(path, t->name, why); };
    if (t->name.empty() || t->name == "__metadata__") reject("reserved or empty name");
    if (header.contains(t->name)) reject("name given twice");
    std::optional<int64_t> numel = checked_numel(t->shape);
    if (!numel) reject("shape " + show_shape(t->shape) + " is negative or too large");
    std::optional<size_t> nbytes = checked_nbytes(*numel, t->dtype);
    if (!nbytes) reject("shape " + show_shape(t->shape) + " is too large");
    if (t->data == nullptr && *nbytes > 0) reject("data is null");
    header[t->name] = {{"dtype", dtype_name(t->dtype)},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + *nbytes}}};
    offset += *nbytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::type_error&) {  // the only cause: a name that is not UTF-8
    fail(path, "cannot write: a tensor name is not valid UTF-8");
  }
  text.append((kLengthBytes - text.size() % kLengthBytes) % kLengthBytes, ' ');
  return text;
}

}  // namespace

std::string_view dtype_name(Dtype dtype) {
  return dtype_entry(dtype).name;
}

size_t dtype_size(Dtype dtype) {
  return dtype_entry(dtype).size;
}

std::optional<Dtype> parse_dtype(std::string_view name) {
  for (const DtypeEntry& e : kDtypes) {
    if (e.name == name) return e.dtype;
  }
  return std::nullopt;
}

void SafetensorsFile::Unmapper::operator()(const std::byte* addr) const noexcept {
  ::munmap(const_cast<std::byte*>(addr), size);
}

SafetensorsFile::Mapping SafetensorsFile::map_file(const std::string& path) {
  // O_NONBLOCK keeps open() from waiting for a writer when path is a FIFO;
  // it has no effect on regular files, the only kind accepted below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail_errno(path, "cannot open", errno);
  // The mapping keeps its own reference to the file, so fd is closed on every path.
  const ClosesFd closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail_errno(path, "cannot stat", errno);
  if (S_ISDIR(st.st_mode)) fail(path, "is a directory, not a safetensors file");
  if (!S_ISREG(st.st_mode)) fail(path, "is not a regular file");
  const auto size = static_cast<size_t>(st.st_size);
  check_holds_length_field(size, path);  // also spares mmap an empty file, which it refuses
  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (addr == MAP_FAILED) fail_errno(path, "cannot mmap", errno);
  return Mapping(static_cast<const std::byte*>(addr), Unmapper{size});
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  Mapping mapping = map_file(path);
  SafetensorsFile file = parse({mapping.get(), mapping.get_deleter().size}, path);
  file.mapping_ = std::move(mapping);
  return file;
}

SafetensorsFile SafetensorsFile::parse(std::span<const std::byte> bytes, std::string source_name) {
  const std::string_view text = header_text(bytes, source_name);
  const json header = parse_header(text, source_name);
  const size_t data_start = kLengthBytes + text.size();
  const std::span<const std::byte> data_section = bytes.subspan(data_start);

  SafetensorsFile file;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      file.metadata_ = read_metadata(value, source_name);
    } else {
      file.tensors_.push_back(read_tensor(key, value, data_section, data_start, source_name));
    }
  }
  sort_and_check_overlaps(file.tensors_, data_section.data(), source_name);
  for (size_t i = 0; i < file.tensors_.size(); ++i) file.index_.emplace(file.tensors_[i].name, i);
  file.path_ = std::move(source_name);
  return file;
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors) {
  // Decreasing element size keeps every tensor aligned to its element size.
  std::vector<const TensorToWrite*> order;
  for (const TensorToWrite& t : tensors) order.push_back(&t);
  std::stable_sort(order.begin(), order.end(), [](const TensorToWrite* a, const TensorToWrite* b) {
    return dtype_size(a->dtype) > dtype_size(b->dtype);
  });
  const std::string header = make_header(order, path);

  std::array<unsigned char, kLengthBytes> length{};
  for (size_t i = 0; i < kLengthBytes; ++i) {
    length[i] = static_cast<unsigned char>(static_cast<uint64_t>(header.size()) >> (8 * i));
  }
  OutputFile out(path);
  out.write(length.data(), length.size());
  out.write(header.data(), header.size());
  for (const TensorToWrite* t : order) {
    out.write(t->data, *checked_nbytes(*checked_numel(t->shape), t->dtype));
  }
  out.close();
}

}  // namespace skein
