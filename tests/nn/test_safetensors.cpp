// tests/nn/test_safetensors.cpp -- safetensors round trips, interop both ways with files from
// tools/gen_safetensors_fixtures.py (tests/data/st_*.safetensors), every kind of bad file giving an
// error that names it, and atomic saves.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "nn/safetensors.h"
#include "test_util.h"
#include "temp_dir.h"

using namespace atto;
namespace fs = std::filesystem;

namespace {

using atto::testing::TempDir;

std::string data_path(const std::string& name) { return std::string(ATTO_SOURCE_DIR) + "/tests/data/" + name; }

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

// A safetensors file from a header text (padded like the reference writer) and a data buffer.
std::string st_bytes(const std::string& header, const std::string& buffer) {
  std::string h = header;
  h.append((8 - h.size() % 8) % 8, ' ');
  std::string out;
  for (int k = 0; k < 8; ++k) out += char((uint64_t(h.size()) >> (8 * k)) & 0xff);
  return out + h + buffer;
}

void check_same(const Tensor& got, const Tensor& want) {
  CHECK(got.dtype() == want.dtype());
  CHECK(got.shape() == want.shape());
  CHECK(got.device() == kCPU);
  // Row-major strides (is_contiguous() says false for an empty [2, 0] tensor, unlike PyTorch).
  CHECK(got.strides() == contiguous_strides(got.shape()));
  CHECK_FALSE(got.requires_grad());
  Tensor w = want.detach().contiguous();
  CHECK(std::memcmp(got.raw_data(), w.raw_data(), size_t(w.numel()) * w.element_size()) == 0);
}

// value (i, j) of the 2x3 grid = i * 10 + j - 0.5 (floats), (i * 10 - j) << 40 (int64), (i + j) even (bool)
Tensor grid(DType dtype) {
  std::vector<double> v;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      v.push_back(dtype == kInt64 ? double((int64_t(i) * 10 - j) * (int64_t(1) << 40))
                  : dtype == kBool ? double((i + j) % 2 == 0)
                                   : i * 10 + j - 0.5);
  return from_vector(v, Shape{2, 3}).to(dtype);
}

// What tools/gen_safetensors_fixtures.py (expected_atto) expects in st_atto.safetensors.
StateDict atto_fixture(std::map<std::string, std::string>& metadata) {
  StateDict sd;
  sd.insert("linear.weight", grid(kFloat32).t());   // a non-contiguous view
  sd.insert("linear.bias", sub(div(arange(3, {.dtype = kFloat64}), 4.0), 1.0));
  sd.insert("step", scalar_tensor(123456789012.0, {.dtype = kInt64}));
  sd.insert("mask", eye(2, {}, {.dtype = kBool}));
  sd.insert("empty", zeros({0, 4}));
  sd.insert("ids", from_vector<int64_t>({-(int64_t(1) << 40), 0, 7, int64_t(1) << 50}));
  metadata = {{"format", "pt"}, {"epoch", "3"}};
  return sd;
}

}  // namespace

TEST_CASE("safetensors round trip for every dtype and layout with metadata") {
  TempDir tmp("safetensors");
  Tensor f = testing::uniform({3, 4}, -5, 5, 1, kFloat32);
  Tensor d = testing::uniform({2, 3, 4}, -5, 5, 2, kFloat64);
  Tensor i = from_vector<int64_t>({-3, 0, 7, int64_t(1) << 50, 5, -(int64_t(1) << 40)}, Shape{2, 3});
  Tensor b = from_vector<bool>({true, false, false, true, true, false}, Shape{3, 2});
  Tensor g = testing::uniform({2, 2}, -1, 1, 3, kFloat32).requires_grad_();
  StateDict sd;
  // Names out of alphabetical order (the file keeps ours), an empty name, non-ASCII, escapes.
  sd.insert("z.f32", f);
  sd.insert("f32.t", f.t());
  sd.insert("f64", d);
  sd.insert("f64.strided", d.permute({2, 0, 1}).slice(0, 0, 4, 2));
  sd.insert("i64", i);
  sd.insert("i64.t", i.t());
  sd.insert("bool", b);
  sd.insert("bool.t", b.t());
  sd.insert("scalar.f64", scalar_tensor(2.5, {.dtype = kFloat64}));
  sd.insert("scalar.i64", scalar_tensor(-9, {.dtype = kInt64}));
  sd.insert("scalar.bool", scalar_tensor(1, {.dtype = kBool}));
  sd.insert("empty.f32", zeros({0, 3}));
  sd.insert("empty.i64", zeros({2, 0}, {.dtype = kInt64}));
  sd.insert("", f.reshape({12}));
  sd.insert("we\"ird\\ name\n\xc3\xa9", g);   // requires grad: saved detached
  const std::map<std::string, std::string> meta{
      {"format", "pt"}, {"empty", ""}, {"quote\"", "back\\slash\ttab\x01"}, {"\xe2\x9c\x93", "gr\xc3\xbc\xc3\x9f"}};
  std::string p = tmp.path("all.safetensors");
  save_safetensors(p, sd, meta);
  SafetensorsFile loaded = load_safetensors(p);
  CHECK(loaded.tensors.keys() == sd.keys());
  for (const auto& [name, t] : sd) {
    CAPTURE(name);
    REQUIRE(loaded.tensors.contains(name));
    check_same(loaded.tensors.at(name), t);
    CHECK(loaded.tensors.at(name).storage_offset() == 0);   // each one owns its memory
    if (name != "z.f32") CHECK(loaded.tensors.at(name).storage() != loaded.tensors.at("z.f32").storage());
  }
  CHECK(loaded.metadata == meta);
  const std::string bytes = read_bytes(p);
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  CHECK(header_len % 8 == 0);   // padded with spaces, like the reference writer
  const std::string header = bytes.substr(8, header_len);
  CHECK(header[header.find_last_not_of(' ')] == '}');
  CHECK(tmp.listing() == std::vector<std::string>{"all.safetensors"});   // no temporary left behind

  // Nothing at all: an empty header object.
  std::string e = tmp.path("empty.safetensors");
  save_safetensors(e, StateDict{});
  CHECK(read_bytes(e) == st_bytes("{}", ""));
  SafetensorsFile none = load_safetensors(e);
  CHECK(none.tensors.empty());
  CHECK(none.metadata.empty());
}

TEST_CASE("safetensors writes the committed fixture byte for byte") {
  // tests/data/st_atto.safetensors is what this writer produced; tools/gen_safetensors_fixtures.py
  // reads it into PyTorch and checks every value, so this pins "saved here loads in PyTorch".
  TempDir tmp("safetensors");
  std::map<std::string, std::string> meta;
  StateDict sd = atto_fixture(meta);
  std::string p = tmp.path("atto.safetensors");
  save_safetensors(p, sd, meta);
  if (const char* out = std::getenv("ATTO_SAFETENSORS_OUT")) save_safetensors(out, sd, meta);
  CHECK(read_bytes(p) == read_bytes(data_path("st_atto.safetensors")));
  SafetensorsFile loaded = load_safetensors(data_path("st_atto.safetensors"));
  CHECK(loaded.tensors.keys() == sd.keys());
  for (const auto& [name, t] : sd) check_same(loaded.tensors.at(name), t);
  CHECK(loaded.metadata == meta);
}

TEST_CASE("safetensors loads files written by Python and writes the same bytes back") {
  std::string p = data_path("st_python.safetensors");
  SafetensorsFile f = load_safetensors(p);
  // The reference writer's order: descending dtype (I64, F64, F32, BOOL), then name.
  CHECK(f.tensors.keys() == std::vector<std::string>{"index", "double", "scalar", "empty", "weight", "mask"});
  check_same(f.tensors.at("weight"), grid(kFloat32));
  check_same(f.tensors.at("double"), grid(kFloat64));
  check_same(f.tensors.at("index"), grid(kInt64));
  check_same(f.tensors.at("mask"), grid(kBool));
  check_same(f.tensors.at("scalar"), scalar_tensor(2.75, {.dtype = kFloat64}));
  check_same(f.tensors.at("empty"), zeros({0, 3}));
  const std::map<std::string, std::string> meta{{"format", "pt"}, {"note", "gr\xc3\xbc\xc3\x9f \xe2\x9c\x93"}};
  CHECK(f.metadata == meta);
  // Saved in the file's order, our writer reproduces the reference writer's bytes exactly.
  TempDir tmp("safetensors");
  std::string again = tmp.path("again.safetensors");
  save_safetensors(again, f.tensors, f.metadata);
  CHECK(read_bytes(again) == read_bytes(p));

  std::string half = data_path("st_python_f16.safetensors");
  CHECK_THROWS_WITH_AS(load_safetensors(half), doctest::Contains(half.c_str()), atto::Error);
  CHECK_THROWS_WITH_AS(load_safetensors(half), doctest::Contains("tensor 'half': unsupported dtype 'F16'"),
                       atto::Error);
}

TEST_CASE("safetensors normalises bool bytes to 0 and 1") {
  TempDir tmp("safetensors");
  std::string p = tmp.path("b.safetensors");
  write_bytes(p, st_bytes(R"({"b":{"dtype":"BOOL","shape":[4],"data_offsets":[0,4]}})", std::string("\0\1\2\xff", 4)));
  Tensor b = load_safetensors(p).tensors.at("b");
  CHECK(b.to_vector<bool>() == std::vector<bool>{false, true, true, true});
  const auto* bytes = static_cast<const unsigned char*>(b.raw_data());
  CHECK(std::vector<int>(bytes, bytes + 4) == std::vector<int>{0, 1, 1, 1});
}

TEST_CASE("safetensors rejects corrupt truncated and inconsistent files with the file name") {
  TempDir tmp("safetensors");
  const std::string good = read_bytes(data_path("st_python.safetensors"));
  const std::string buf24(24, '\0');
  auto one = [](const std::string& dtype, const std::string& shape, const std::string& offsets) {
    return fmt::format(R"({{"a":{{"dtype":{},"shape":{},"data_offsets":{}}}}})", dtype, shape, offsets);
  };
  auto f32 = [&](const std::string& shape, const std::string& offsets) { return one("\"F32\"", shape, offsets); };
  std::string len_past_end = good;
  len_past_end[1] = char(0x10);   // 0x10a8: past the 566-byte file
  std::string len_huge = good;
  for (int k = 0; k < 8; ++k) len_huge[k] = char(0xff);
  struct Bad {
    const char* name;
    std::string bytes;
    const char* why;
  };
  const std::vector<Bad> cases{
      {"empty", "", "truncated"},
      {"short", good.substr(0, 5), "truncated"},
      {"len_past_end", len_past_end, "header length"},
      {"len_huge", len_huge, "header length 18446744073709551615 is larger"},
      {"header_cut", good.substr(0, 100), "header length"},
      {"data_cut", good.substr(0, good.size() - 3), "out of range"},
      {"trailing", good + "xyz", "3 unexpected bytes"},
      {"not_json", st_bytes(R"({"a": )", ""), "invalid JSON"},
      {"json_garbage_after", st_bytes("{} x", ""), "invalid JSON"},
      {"bad_utf8", st_bytes("{\"\xff\":{}}", ""), "invalid JSON"},
      {"not_object", st_bytes("[1, 2]", ""), "not a JSON object but [1,2]"},
      {"deep_nesting", st_bytes(std::string(200000, '[') + std::string(200000, ']'), ""), "not a JSON object"},
      {"deep_entry", st_bytes("{\"a\":" + std::string(200000, '[') + std::string(200000, ']') + "}", ""),
       "tensor 'a': expected an object with dtype, shape, data_offsets, got a nested array (1 entries)"},
      {"duplicate_tensor",
       st_bytes(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
                R"("a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})",
                ""),
       "duplicate key 'a'"},
      {"duplicate_empty_name",
       st_bytes(R"({"":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
                R"("":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})",
                ""),
       "duplicate key ''"},
      {"duplicate_field", st_bytes(R"({"a":{"dtype":"F32","dtype":"F32","shape":[0],"data_offsets":[0,0]}})", ""),
       "duplicate key 'dtype'"},
      {"entry_not_object", st_bytes(R"({"a":3})", ""), "tensor 'a': expected an object"},
      {"missing_offsets", st_bytes(R"({"a":{"dtype":"F32","shape":[6]}})", buf24), "missing key 'data_offsets'"},
      {"missing_dtype", st_bytes(R"({"a":{"shape":[6],"data_offsets":[0,24]}})", buf24), "missing key 'dtype'"},
      {"extra_key",
       st_bytes(R"({"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24],"foo":1}})", buf24), "unexpected key 'foo'"},
      {"dtype_not_string", st_bytes(one("4", "[6]", "[0,24]"), buf24), "dtype is not a string"},
      {"dtype_f16", st_bytes(one("\"F16\"", "[12]", "[0,24]"), buf24), "unsupported dtype 'F16'"},
      {"dtype_bf16", st_bytes(one("\"BF16\"", "[12]", "[0,24]"), buf24), "unsupported dtype 'BF16'"},
      {"dtype_unknown", st_bytes(one("\"Q7\"", "[6]", "[0,24]"), buf24), "unknown dtype 'Q7'"},
      {"shape_not_array", st_bytes(f32("6", "[0,24]"), buf24), "shape is not an array"},
      {"shape_negative", st_bytes(f32("[-6]", "[0,24]"), buf24), "not a non-negative integer"},
      {"shape_float", st_bytes(f32("[2.5]", "[0,24]"), buf24), "not a non-negative integer"},
      {"shape_past_int64", st_bytes(f32("[18446744073709551615]", "[0,24]"), buf24), "not a non-negative integer"},
      {"shape_past_uint64", st_bytes(f32("[99999999999999999999]", "[0,24]"), buf24), "not a non-negative integer"},
      {"shape_overflow", st_bytes(f32("[4294967296,4294967296]", "[0,24]"), buf24), "overflows"},
      {"shape_overflow_with_zero", st_bytes(f32("[0,4294967296,4294967296]", "[0,0]"), buf24), "overflows"},
      {"bytes_overflow", st_bytes(one("\"F64\"", "[2305843009213693952]", "[0,24]"), buf24), "overflows"},
      {"too_many_dims", st_bytes(f32("[1,1,1,1,1,1,1,1,6]", "[0,24]"), buf24), "9 dims"},
      {"offsets_one", st_bytes(f32("[6]", "[24]"), buf24), "data_offsets must be two"},
      {"offsets_negative", st_bytes(f32("[6]", "[-24,0]"), buf24), "data_offsets must be two"},
      {"offsets_not_array", st_bytes(f32("[6]", "24"), buf24), "data_offsets must be two"},
      {"offsets_reversed", st_bytes(f32("[6]", "[24,0]"), buf24), "end before they begin"},
      {"offsets_size_mismatch", st_bytes(f32("[6]", "[0,20]"), buf24), "hold 20 bytes, but shape [6] of F32 needs 24"},
      {"offsets_past_buffer", st_bytes(f32("[6]", "[0,24]"), std::string(16, '\0')), "out of range"},
      {"offsets_huge", st_bytes(f32("[1]", "[18446744073709551608,18446744073709551612]"), buf24), "out of range"},
      {"data_too_big", st_bytes(one("\"F64\"", "[1000000]", "[0,8000000]"), buf24), "out of range"},
      {"overlap",
       st_bytes(R"({"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]},)"
                R"("b":{"dtype":"F32","shape":[6],"data_offsets":[16,40]}})",
                std::string(40, '\0')),
       "tensor 'b': data_offsets [16, 40] overlap those of tensor 'a' [0, 24]"},
      {"aliased",
       st_bytes(R"({"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]},)"
                R"("b":{"dtype":"I64","shape":[3],"data_offsets":[0,24]}})",
                buf24),
       "overlap"},
      {"gap", st_bytes(f32("[6]", "[8,32]"), std::string(32, '\0')), "gap of 8 unused bytes"},
      {"no_tensors_but_data", st_bytes("{}", "abcd"), "4 unexpected bytes"},
      {"metadata_not_object", st_bytes(R"({"__metadata__":["a"]})", ""), "'__metadata__' is not a JSON object"},
      {"metadata_not_string", st_bytes(R"({"__metadata__":{"epoch":3}})", ""), "value of 'epoch' is not a string"},
  };
  for (const auto& c : cases) {
    std::string p = tmp.path(std::string(c.name) + ".safetensors");
    write_bytes(p, c.bytes);
    CAPTURE(c.name);
    CHECK_THROWS_WITH_AS(load_safetensors(p), doctest::Contains(("[load_safetensors] '" + p + "'").c_str()),
                         atto::Error);
    CHECK_THROWS_WITH_AS(load_safetensors(p), doctest::Contains(c.why), atto::Error);
  }
  // The hand-made files above are otherwise well formed: with consistent values they load.
  std::string ok = tmp.path("ok.safetensors");
  write_bytes(ok, st_bytes(f32("[2,3]", "[0,24]"), buf24));
  CHECK(load_safetensors(ok).tensors.at("a").shape() == Shape{2, 3});
  write_bytes(ok, st_bytes(f32("[0,4294967296]", "[0,0]"), ""));   // empty, huge: fine
  CHECK(load_safetensors(ok).tensors.at("a").numel() == 0);

  std::string missing = tmp.path("no_such_file.safetensors");
  CHECK_THROWS_WITH_AS(load_safetensors(missing), doctest::Contains("no_such_file.safetensors': cannot open"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(load_safetensors(tmp.dir.string()), doctest::Contains("not a regular file"), atto::Error);
}

TEST_CASE("safetensors saves atomically and a failed save leaves the old file untouched") {
  TempDir tmp("safetensors");
  std::string p = tmp.path("model.safetensors");
  StateDict old_sd;
  old_sd.insert("w", ones({2, 3}));
  save_safetensors(p, old_sd, {{"version", "1"}});
  const std::string old_bytes = read_bytes(p);

  auto check_untouched = [&] {
    CHECK(read_bytes(p) == old_bytes);
    CHECK(tmp.listing() == std::vector<std::string>{"model.safetensors"});   // no temporary left behind
  };
  StateDict bad;
  bad.insert("fine", zeros({4}));
  bad.insert("missing", Tensor());
  const std::string prefix = "[save_safetensors] '" + p + "'";
  CHECK_THROWS_WITH_AS(save_safetensors(p, bad), doctest::Contains(prefix.c_str()), atto::Error);
  CHECK_THROWS_WITH_AS(save_safetensors(p, bad), doctest::Contains("tensor 'missing' is undefined"), atto::Error);
  check_untouched();

  StateDict reserved;
  reserved.insert("__metadata__", zeros({1}));
  CHECK_THROWS_WITH_AS(save_safetensors(p, reserved), doctest::Contains("reserved"), atto::Error);
  check_untouched();

  StateDict fine;
  fine.insert("w", zeros({5}));
  CHECK_THROWS_WITH_AS(save_safetensors(p, fine, {{"k", "bad \xff utf-8"}}),
                       doctest::Contains("a metadata value is not valid UTF-8"), atto::Error);
  StateDict bad_name;
  bad_name.insert("\xc3(", zeros({1}));
  CHECK_THROWS_WITH_AS(save_safetensors(p, bad_name), doctest::Contains("a tensor name is not valid UTF-8"),
                       atto::Error);
  check_untouched();

  // A failure after the temporary was written: the target is a directory, so the rename fails.
  std::string dir_target = tmp.path("a_directory");
  fs::create_directory(dir_target);
  CHECK_THROWS_WITH_AS(save_safetensors(dir_target, fine), doctest::Contains("rename"), atto::Error);
  CHECK(tmp.listing() == std::vector<std::string>{"a_directory", "model.safetensors"});
  fs::remove(dir_target);

  std::string nowhere = tmp.path("no_such_dir/model.safetensors");
  CHECK_THROWS_WITH_AS(save_safetensors(nowhere, fine), doctest::Contains(nowhere.c_str()), atto::Error);
  CHECK_FALSE(fs::exists(nowhere));
  check_untouched();
  CHECK(load_safetensors(p).metadata.at("version") == "1");

  // A successful save replaces the file.
  save_safetensors(p, fine, {{"version", "2"}});
  SafetensorsFile now = load_safetensors(p);
  CHECK(now.tensors.keys() == std::vector<std::string>{"w"});
  check_same(now.tensors.at("w"), zeros({5}));
  CHECK(now.metadata.at("version") == "2");
  CHECK(tmp.listing() == std::vector<std::string>{"model.safetensors"});
}
