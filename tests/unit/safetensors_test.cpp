// Tests of the safetensors reader and writer: a round trip through a real
// file, then hand-made corrupt buffers, each of which must be refused with a
// message that names the problem.
#include "io/safetensors.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <skein/error.h>

namespace {

using skein::Dtype;
using skein::SafetensorsFile;

// The 8-byte little-endian header length followed by `rest`.
std::vector<std::byte> with_length(uint64_t length, std::string_view rest) {
  std::vector<std::byte> bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<std::byte>(length >> (8 * i)));
  for (char c : rest) bytes.push_back(static_cast<std::byte>(c));
  return bytes;
}

// A file with `header` padded with spaces to a multiple of 8 bytes (so tensor
// data is aligned, as real writers do it), then `data_size` data bytes 0, 1, 2...
std::vector<std::byte> file_with(std::string header, size_t data_size = 0) {
  header.append((8 - header.size() % 8) % 8, ' ');
  std::vector<std::byte> bytes = with_length(header.size(), header);
  for (size_t i = 0; i < data_size; ++i) bytes.push_back(static_cast<std::byte>(i));
  return bytes;
}

SafetensorsFile parse(const std::vector<std::byte>& bytes) {
  return SafetensorsFile::parse(bytes, "mem.safetensors");
}

// A fresh directory under the system temp dir, removed with its contents.
class TempDir {
 public:
  TempDir()
      : path_(std::filesystem::temp_directory_path() /
              ("skein_safetensors_test_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directory(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

template <typename T>
std::vector<std::byte> bytes_of(const std::vector<T>& values) {
  std::vector<std::byte> out(values.size() * sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

std::vector<std::byte> bytes_at(const skein::TensorInfo& t) {
  return {t.data, t.data + t.nbytes};
}

}  // namespace

TEST_CASE("dtype names, sizes and parsing agree") {
  for (Dtype d :
       {Dtype::F64, Dtype::F32, Dtype::F16, Dtype::BF16, Dtype::I64, Dtype::I32, Dtype::I16,
        Dtype::I8, Dtype::U64, Dtype::U32, Dtype::U16, Dtype::U8, Dtype::BOOL}) {
    CHECK(skein::parse_dtype(skein::dtype_name(d)) == d);
  }
  CHECK(skein::dtype_size(Dtype::F32) == 4);
  CHECK(skein::dtype_size(Dtype::BF16) == 2);
  CHECK(skein::dtype_size(Dtype::I64) == 8);
  CHECK(skein::dtype_size(Dtype::BOOL) == 1);
  CHECK_FALSE(skein::parse_dtype("f32").has_value());
  CHECK_FALSE(skein::parse_dtype("F8_E4M3").has_value());
}

TEST_CASE("write_safetensors then open gives back every tensor") {
  const TempDir dir;
  const std::string path = dir.file("model.safetensors");
  const std::vector<uint8_t> flags = {1, 0, 1};  // odd size, listed first on purpose
  const std::vector<float> weight = {1.5f, -2.f, 3.f, 0.f, 1e-30f, 7.f};
  const std::vector<int64_t> ids = {-1, 1LL << 40};
  const std::vector<uint16_t> scalar = {0x3f80};
  skein::write_safetensors(path, {{"flags", Dtype::U8, {3}, flags.data()},
                                  {"weight", Dtype::F32, {2, 3}, weight.data()},
                                  {"ids", Dtype::I64, {2}, ids.data()},
                                  {"scalar", Dtype::BF16, {}, scalar.data()},
                                  {"empty", Dtype::F32, {0, 4}, nullptr}});

  SafetensorsFile file = SafetensorsFile::open(path);
  CHECK(file.path() == path);
  CHECK(file.metadata().empty());
  REQUIRE(file.tensors().size() == 5);
  for (size_t i = 1; i < file.tensors().size(); ++i) {
    CHECK(file.tensors()[i - 1].data <= file.tensors()[i].data);  // data-offset order
  }

  const skein::TensorInfo* w = file.find("weight");
  REQUIRE(w != nullptr);
  CHECK(w->name == "weight");
  CHECK(w->dtype == Dtype::F32);
  CHECK(w->shape == std::vector<int64_t>{2, 3});
  CHECK(w->numel == 6);
  CHECK(w->nbytes == 24);
  CHECK(reinterpret_cast<uintptr_t>(w->data) % 4 == 0);
  CHECK(bytes_at(*w) == bytes_of(weight));
  CHECK(bytes_at(*file.find("flags")) == bytes_of(flags));
  CHECK(bytes_at(*file.find("ids")) == bytes_of(ids));

  const skein::TensorInfo* s = file.find("scalar");
  REQUIRE(s != nullptr);
  CHECK(s->shape.empty());
  CHECK(s->numel == 1);
  CHECK(bytes_at(*s) == bytes_of(scalar));

  const skein::TensorInfo* e = file.find("empty");
  REQUIRE(e != nullptr);
  CHECK(e->numel == 0);
  CHECK(e->nbytes == 0);
  CHECK(file.find("missing") == nullptr);

  // Moving the file keeps the mapping and every TensorInfo where they were.
  SafetensorsFile moved = std::move(file);
  CHECK(moved.find("weight") == w);
  CHECK(bytes_at(*moved.find("weight")) == bytes_of(weight));

  // The header is padded so that the data section starts 8-byte aligned.
  std::ifstream in(path, std::ios::binary);
  uint64_t header_length = 0;
  in.read(reinterpret_cast<char*>(&header_length), 8);
  CHECK(header_length % 8 == 0);
}

TEST_CASE("a valid header with metadata, an empty tensor, gaps and trailing bytes is accepted") {
  const auto bytes = file_with(R"({"__metadata__": {"format": "pt", "note": "x"},)"
                               R"( "b": {"dtype": "U8", "shape": [2], "data_offsets": [12, 14]},)"
                               R"( "a": {"dtype": "F32", "shape": [1, 2], "data_offsets": [0, 8]},)"
                               R"( "z": {"dtype": "F32", "shape": [0], "data_offsets": [4, 4]}})",
                               20);
  const SafetensorsFile file = parse(bytes);
  CHECK(file.path() == "mem.safetensors");
  CHECK(file.metadata() == std::map<std::string, std::string>{{"format", "pt"}, {"note", "x"}});
  REQUIRE(file.tensors().size() == 3);
  CHECK(file.tensors()[0].name == "a");
  CHECK(file.tensors()[1].name == "z");
  CHECK(file.tensors()[2].name == "b");
  CHECK(std::to_integer<int>(file.find("b")->data[0]) == 12);
}

TEST_CASE("the header length field is checked") {
  CHECK_THROWS_WITH_AS(parse({}),
                       "mem.safetensors: file is 0 bytes, shorter than the 8-byte header length "
                       "field",
                       skein::Error);
  CHECK_THROWS_WITH_AS(parse(std::vector<std::byte>(5)), doctest::Contains("file is 5 bytes"),
                       skein::Error);
  CHECK_THROWS_WITH_AS(parse(with_length(0, "{}")),
                       doctest::Contains("mem.safetensors: header length is 0"), skein::Error);
  CHECK_THROWS_WITH_AS(parse(with_length(100, "{}      ")),
                       doctest::Contains("header length 100 runs past the end of the file (8 + "
                                         "100 > 16 bytes)"),
                       skein::Error);
  CHECK_THROWS_WITH_AS(parse(with_length(200'000'000, "{}")),
                       doctest::Contains("header length 200000000 exceeds the limit"),
                       skein::Error);
  CHECK_THROWS_WITH_AS(parse(with_length(~uint64_t{0}, "{}")),
                       doctest::Contains("header length 18446744073709551615 exceeds the limit"),
                       skein::Error);
}

TEST_CASE("a header that is not a JSON object is refused") {
  CHECK_THROWS_WITH_AS(parse(file_with(R"({"a": {"dtype": "F32",)")),
                       doctest::Contains("mem.safetensors: header is not valid JSON: parse error "
                                         "at line 1, column "),
                       skein::Error);
  CHECK_THROWS_WITH_AS(parse(file_with("{} x")), doctest::Contains("header is not valid JSON"),
                       skein::Error);
  CHECK_THROWS_WITH_AS(parse(file_with(R"({"a": [1e400]})")),
                       doctest::Contains("header is not valid JSON: number overflow parsing "
                                         "'1e400'"),
                       skein::Error);
  CHECK_THROWS_WITH_AS(parse(file_with("[1, 2]")),
                       doctest::Contains("header is not a JSON object: [1,2]"), skein::Error);
  CHECK_THROWS_WITH_AS(parse(file_with(R"({"a": 5})")),
                       doctest::Contains(R"(tensor "a": entry is not an object: 5)"), skein::Error);
}

TEST_CASE("tensor names must be unique, non-empty UTF-8") {
  CHECK_THROWS_WITH_AS(
      parse(file_with(R"({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},)"
                      R"( "a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})",
                      2)),
      doctest::Contains(R"(duplicate key "a" in the header)"), skein::Error);
  CHECK_THROWS_WITH_AS(parse(file_with(R"({"a": {"dtype": "U8", "dtype": "U8", "shape": [1], )"
                                       R"("data_offsets": [0, 1]}})",
                                       1)),
                       doctest::Contains(R"(duplicate key "dtype" in "a")"), skein::Error);
  CHECK_THROWS_WITH_AS(
      parse(file_with("{\"a\xff\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}}",
                      1)),
      doctest::Contains("ill-formed UTF-8 byte; last read: '\"a\\xff'"), skein::Error);
  CHECK_THROWS_WITH_AS(
      parse(file_with(R"({"\ud800": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}})", 1)),
      doctest::Contains("header is not valid JSON"), skein::Error);
  CHECK_THROWS_WITH_AS(
      parse(file_with(R"({"": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}})", 1)),
      doctest::Contains(R"(tensor "": name is empty)"), skein::Error);
}

TEST_CASE("every entry has exactly dtype, shape and data_offsets") {
  CHECK_THROWS_WITH_AS(parse(file_with(R"({"w": {"dtype": "F32", "data_offsets": [0, 4]}})", 4)),
                       doctest::Contains(R"(tensor "w": missing field "shape")"), skein::Error);
  CHECK_THROWS_WITH_AS(
      parse(
          file_with(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "x": 1}})", 4)),
      doctest::Contains(R"(tensor "w": unexpected field "x")"), skein::Error);
  CHECK_THROWS_WITH_AS(
      parse(file_with(R"({"w": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}})", 1)),
      doctest::Contains(R"(tensor "w": field "dtype" is an unknown dtype "F8_E4M3")"),
      skein::Error);
  CHECK_THROWS_WITH_AS(
      parse(file_with(R"({"w": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]}})", 4)),
      doctest::Contains(R"(field "dtype" is not a string: 4)"), skein::Error);
}

TEST_CASE("shapes are arrays of non-negative integers whose product fits") {
  auto with_shape = [](const std::string& shape) {
    return file_with(
        R"({"w": {"dtype": "F32", "shape": )" + shape + R"(, "data_offsets": [0, 4]}})", 4);
  };
  CHECK_THROWS_WITH_AS(
      parse(with_shape("[2, -3]")),
      doctest::Contains(
          R"(tensor "w": field "shape" element 1 is -3, expected a non-negative integer)"),
      skein::Error);
  CHECK_THROWS_WITH_AS(parse(with_shape("[2.5]")),
                       doctest::Contains(R"(field "shape" element 0 is 2.5, expected)"),
                       skein::Error);
  CHECK_THROWS_WITH_AS(parse(with_shape(R"(["1"])")),
                       doctest::Contains(R"(field "shape" element 0 is "1", expected)"),
                       skein::Error);
  CHECK_THROWS_WITH_AS(parse(with_shape("4")),
                       doctest::Contains(R"(field "shape" is not an array: 4)"), skein::Error);
  CHECK_THROWS_WITH_AS(
      parse(with_shape("[4611686018427387905]")),
      doctest::Contains(R"(field "shape" element 0 is 4611686018427387905, larger than 2^62)"),
      skein::Error);
  CHECK_THROWS_WITH_AS(
      parse(with_shape("[4611686018427387904, 4]")),
      doctest::Contains(
          R"(field "shape" [4611686018427387904, 4] has more than 2^63 - 1 elements)"),
      skein::Error);
  CHECK_THROWS_WITH_AS(
      parse(with_shape("[4611686018427387904, 1]")),  // fits int64_t, not 4 bytes each
      doctest::Contains(R"(field "shape" [4611686018427387904, 1] of F32 needs more than 2^64)"),
      skein::Error);
}

TEST_CASE("data_offsets must be an in-range span of the right size") {
  auto with_offsets = [](const std::string& offsets) {
    return file_with(R"({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": )" + offsets + "}}",
                     16);
  };
  CHECK_THROWS_WITH_AS(
      parse(with_offsets("[0]")),
      doctest::Contains(R"(tensor "w": field "data_offsets" is not an array of two integers: [0])"),
      skein::Error);
  CHECK_THROWS_WITH_AS(
      parse(with_offsets("[-1, 15]")),
      doctest::Contains(R"(field "data_offsets" element 0 is -1, expected a non-negative integer)"),
      skein::Error);
  CHECK_THROWS_WITH_AS(parse(with_offsets("[16, 0]")),
                       doctest::Contains(R"(field "data_offsets" [16,0] has begin 16 > end 0)"),
                       skein::Error);
  CHECK_THROWS_WITH_AS(
      parse(with_offsets("[4, 20]")),
      doctest::Contains(R"(field "data_offsets" [4,20] ends past the data section (16 bytes))"),
      skein::Error);
  CHECK_THROWS_WITH_AS(
      parse(with_offsets("[0, 12]")),
      doctest::Contains(R"(field "data_offsets" [0,12] spans 12 bytes, but F32 [2, 2] needs 16)"),
      skein::Error);
}

TEST_CASE("tensors may not overlap") {
  CHECK_THROWS_WITH_AS(
      parse(file_with(R"({"b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]},)"
                      R"( "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})",
                      24)),
      doctest::Contains(R"(mem.safetensors: tensors "a" [0, 16) and "b" [8, 24) overlap)"),
      skein::Error);
}

TEST_CASE("tensor data must be aligned to its element size") {
  CHECK_THROWS_WITH_AS(
      parse(file_with(R"({"b": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},)"
                      R"( "w": {"dtype": "F32", "shape": [1], "data_offsets": [1, 5]}})",
                      5)),
      doctest::Contains(R"(tensor "w": data at file offset )"), skein::Error);
  CHECK_THROWS_WITH_AS(
      parse(file_with(R"({"b": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},)"
                      R"( "w": {"dtype": "F32", "shape": [1], "data_offsets": [1, 5]}})",
                      5)),
      doctest::Contains("is not 4-byte aligned in memory, as F32 requires"), skein::Error);
}

TEST_CASE("__metadata__ is an object of strings") {
  CHECK_THROWS_WITH_AS(parse(file_with(R"({"__metadata__": [1]})")),
                       doctest::Contains(R"("__metadata__" is not an object: [1])"), skein::Error);
  CHECK_THROWS_WITH_AS(parse(file_with(R"({"__metadata__": {"k": 5}})")),
                       doctest::Contains(R"("__metadata__" value for "k" is not a string: 5)"),
                       skein::Error);
}

TEST_CASE("messages are one line of printable ASCII") {
  CHECK_THROWS_WITH_AS(parse(file_with(R"({"a\n\"b": 1})")),
                       doctest::Contains(R"(tensor "a\x0a\"b": entry is not an object)"),
                       skein::Error);
  CHECK_THROWS_WITH_AS(parse(file_with("{\"\xc3\xa9\": 1}")),
                       doctest::Contains(R"(tensor "\xc3\xa9": entry is not an object)"),
                       skein::Error);
  const std::string cut = "tensor \"" + std::string(100, 'n') + "\"...: entry is not an object";
  CHECK_THROWS_WITH_AS(parse(file_with("{\"" + std::string(500, 'n') + "\": 1}")),
                       doctest::Contains(cut.c_str()), skein::Error);
}

TEST_CASE("open reports files it cannot map") {
  const TempDir dir;
  CHECK_THROWS_WITH_AS(
      SafetensorsFile::open(dir.file("absent.safetensors")),
      (dir.file("absent.safetensors") + ": cannot open: No such file or directory").c_str(),
      skein::Error);
  CHECK_THROWS_WITH_AS(SafetensorsFile::open(dir.file("")),
                       doctest::Contains("is a directory, not a safetensors file"), skein::Error);

  const std::string empty = dir.file("empty.safetensors");
  std::ofstream(empty).close();
  CHECK_THROWS_WITH_AS(
      SafetensorsFile::open(empty),
      (empty + ": file is 0 bytes, shorter than the 8-byte header length field").c_str(),
      skein::Error);

  const std::string corrupt = dir.file("corrupt.safetensors");
  const auto bytes = file_with("[]");
  std::ofstream(corrupt, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  CHECK_THROWS_WITH_AS(SafetensorsFile::open(corrupt),
                       (corrupt + ": header is not a JSON object: []").c_str(), skein::Error);
}

TEST_CASE("write_safetensors reports what it cannot write") {
  const TempDir dir;
  const float x = 1.f;
  CHECK_THROWS_WITH_AS(
      skein::write_safetensors(dir.file("no/such/dir.safetensors"), {{"x", Dtype::F32, {1}, &x}}),
      doctest::Contains("no/such/dir.safetensors: cannot open for writing: No such file or "
                        "directory"),
      skein::Error);
  CHECK_THROWS_WITH_AS(
      skein::write_safetensors(dir.file("dup.safetensors"),
                               {{"x", Dtype::F32, {1}, &x}, {"x", Dtype::F32, {1}, &x}}),
      doctest::Contains(R"(cannot write tensor "x": name given twice)"), skein::Error);
  CHECK_THROWS_WITH_AS(
      skein::write_safetensors(dir.file("neg.safetensors"), {{"x", Dtype::F32, {-1}, &x}}),
      doctest::Contains(R"(cannot write tensor "x": shape [-1] is negative or too large)"),
      skein::Error);
  CHECK_THROWS_WITH_AS(
      skein::write_safetensors(dir.file("utf.safetensors"), {{"x\xff", Dtype::F32, {1}, &x}}),
      doctest::Contains("a tensor name is not valid UTF-8"), skein::Error);
}
