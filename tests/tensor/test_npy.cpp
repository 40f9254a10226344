// tests/tensor/test_npy.cpp -- .npy round trips, files written by NumPy (tests/data, made by
// tools/gen_npy_fixtures.py), and every kind of bad file giving an error that names it.
#include <unistd.h>

#include <filesystem>
#include <fstream>

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

// A v1.0 .npy file with the given header dict and payload, padded like NumPy.
std::string npy_bytes(const std::string& dict, const std::string& payload) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += char(header.size() & 0xff);
  out += char(header.size() >> 8);
  return out + header + payload;
}

void check_same(const Tensor& got, const Tensor& want) {
  CHECK(got.dtype() == want.dtype());
  CHECK(got.shape() == want.shape());
  CHECK(got.is_contiguous());
  Tensor w = want.contiguous();
  CHECK(std::memcmp(got.raw_data(), w.raw_data(), size_t(w.numel()) * w.element_size()) == 0);
}

}  // namespace

TEST_CASE("npy round trip for every dtype including non-contiguous inputs") {
  TempDir tmp("npy");
  Tensor f = testing::uniform({3, 4}, -5, 5, 1, kFloat32);
  Tensor d = testing::uniform({2, 3, 4}, -5, 5, 2, kFloat64);
  Tensor i = from_vector<int64_t>({-3, 0, 7, int64_t(1) << 50, 5, -(int64_t(1) << 40)}, Shape{2, 3});
  Tensor b = from_vector<bool>({true, false, false, true, true, false}, Shape{3, 2});
  const std::vector<Tensor> cases{f,
                                  f.t(),
                                  d,
                                  d.permute({2, 0, 1}).slice(0, 0, 4, 2),
                                  i,
                                  i.t(),
                                  b,
                                  b.t(),
                                  scalar_tensor(2.5, {.dtype = kFloat64}),
                                  zeros({0, 3}),
                                  f.reshape({12})};
  for (size_t k = 0; k < cases.size(); ++k) {
    std::string p = tmp.path(fmt::format("t{}.npy", k));
    save_npy(p, cases[k]);
    check_same(load_npy(p), cases[k]);
  }
  // Only the targets exist: no temporary files were left behind.
  size_t files = 0;
  for (auto& e : fs::directory_iterator(tmp.dir)) files += e.is_regular_file();
  CHECK(files == cases.size());
}

TEST_CASE("npy saves over an existing file and leaves nothing when it cannot write") {
  TempDir tmp("npy");
  std::string p = tmp.path("w.npy");
  save_npy(p, ones({2}));
  save_npy(p, zeros({3}, {.dtype = kFloat64}));
  check_same(load_npy(p), zeros({3}, {.dtype = kFloat64}));
  std::string bad = tmp.path("no_such_dir/x.npy");
  CHECK_THROWS_WITH_AS(save_npy(bad, ones({2})), doctest::Contains("no_such_dir/x.npy"), atto::Error);
  CHECK_FALSE(fs::exists(bad));
  CHECK_THROWS_WITH_AS(save_npy(p, Tensor()), doctest::Contains("[save_npy]"), atto::Error);
  check_same(load_npy(p), zeros({3}, {.dtype = kFloat64}));   // the failed save left the old file as it was
}

TEST_CASE("npy loads files written by numpy") {
  // value (i, j) = i * 10 + j - 0.5 (floats), i * 10 - j (int64), (i + j) even (bool)
  std::vector<double> fv, iv;
  std::vector<bool> bv;
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c) {
      fv.push_back(r * 10 + c - 0.5);
      iv.push_back(r * 10 - c);
      bv.push_back((r + c) % 2 == 0);
    }
  Tensor f4 = load_npy(data_path("npy_f4.npy"));
  CHECK(f4.dtype() == kFloat32);
  CHECK(f4.shape() == Shape{2, 3});
  CHECK_ALLCLOSE(f4, fv, 0.0, 0.0);
  Tensor f8 = load_npy(data_path("npy_f8.npy"));
  CHECK(f8.dtype() == kFloat64);
  CHECK_ALLCLOSE(f8, fv, 0.0, 0.0);
  Tensor i8 = load_npy(data_path("npy_i8.npy"));
  CHECK(i8.dtype() == kInt64);
  CHECK_ALLCLOSE(i8, iv, 0.0, 0.0);
  Tensor b1 = load_npy(data_path("npy_b1.npy"));
  CHECK(b1.dtype() == kBool);
  CHECK(b1.to_vector<bool>() == bv);
  Tensor v2 = load_npy(data_path("npy_f8_v2.npy"));   // format version 2.0 (4-byte header length)
  CHECK_ALLCLOSE(v2, fv, 0.0, 0.0);
  Tensor s = load_npy(data_path("npy_f8_scalar.npy"));
  CHECK(s.ndim() == 0);
  CHECK(s.item<double>() == 2.75);
  Tensor e = load_npy(data_path("npy_f4_empty.npy"));
  CHECK(e.shape() == Shape{0, 3});
}

TEST_CASE("npy writes what numpy writes") {
  // save_npy of numpy's own array gives numpy's header and bytes (format 1.0, 64-byte aligned).
  TempDir tmp("npy");
  std::string p = tmp.path("f8.npy");
  save_npy(p, load_npy(data_path("npy_f8.npy")));
  std::string ours = read_bytes(p), numpy = read_bytes(data_path("npy_f8.npy"));
  CHECK(ours.size() % 64 == numpy.size() % 64);
  CHECK(ours.substr(0, 8) == numpy.substr(0, 8));
  CHECK(ours.substr(ours.size() - 48) == numpy.substr(numpy.size() - 48));   // the 6 doubles
  CHECK(ours.find("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }") == 10);
}

TEST_CASE("npy rejects unsupported files with the file name") {
  for (const char* name : {"npy_c8.npy", "npy_f4_fortran.npy", "npy_f4_bigendian.npy"}) {
    std::string p = data_path(name);
    CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains(p.c_str()), atto::Error);
  }
  CHECK_THROWS_WITH_AS(load_npy(data_path("npy_c8.npy")), doctest::Contains("unsupported dtype '<c8'"), atto::Error);
  CHECK_THROWS_WITH_AS(load_npy(data_path("npy_f4_fortran.npy")), doctest::Contains("fortran_order"), atto::Error);
  CHECK_THROWS_WITH_AS(load_npy(data_path("npy_f4_bigendian.npy")), doctest::Contains("big-endian"), atto::Error);
  CHECK_THROWS_WITH_AS(load_npy(data_path("no_such_file.npy")), doctest::Contains("no_such_file.npy"), atto::Error);
}

TEST_CASE("npy rejects corrupt and truncated files with the file name") {
  TempDir tmp("npy");
  const std::string good = read_bytes(data_path("npy_f4.npy"));
  struct Bad {
    const char* name;
    std::string bytes;
    const char* why;
  };
  std::string bad_magic = good;
  bad_magic[1] = 'X';
  std::string bad_version = good;
  bad_version[6] = 9;
  std::string huge_header = good;
  huge_header[8] = char(0xff);
  huge_header[9] = char(0xff);
  const std::string payload24(24, '\0');
  const std::vector<Bad> cases{
      {"empty.npy", "", "truncated"},
      {"short_magic.npy", good.substr(0, 4), "truncated"},
      {"bad_magic.npy", bad_magic, "bad magic"},
      {"bad_version.npy", bad_version, "version 9.0"},
      {"header_past_end.npy", huge_header, "header length"},
      {"truncated_header.npy", good.substr(0, 40), "truncated"},
      {"truncated_data.npy", good.substr(0, good.size() - 3), "truncated"},
      {"trailing.npy", good + "xyz", "unexpected bytes"},
      {"not_a_dict.npy", npy_bytes("[1, 2]", payload24), "bad header"},
      {"missing_key.npy", npy_bytes("{'descr': '<f4', 'shape': (2, 3), }", payload24), "missing"},
      {"unknown_key.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1, }", payload24),
       "unexpected key"},
      {"bad_bool.npy", npy_bytes("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (6,), }", payload24),
       "True or False"},
      {"negative_dim.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-6,), }", payload24),
       "non-negative"},
      {"unterminated.npy", npy_bytes("{'descr': '<f4", payload24), "unterminated"},
      {"shape_overflow.npy",
       npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", payload24),
       "overflows"},
      {"dim_overflow.npy",
       npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", payload24),
       "overflows"},
      {"too_many_dims.npy",
       npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 6), }", payload24),
       "dims"},
      {"data_too_big.npy", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000,), }", payload24),
       "truncated"},
  };
  for (const auto& c : cases) {
    std::string p = tmp.path(c.name);
    write_bytes(p, c.bytes);
    CAPTURE(c.name);
    CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains(p.c_str()), atto::Error);
    CHECK_THROWS_WITH_AS(load_npy(p), doctest::Contains(c.why), atto::Error);
  }
  // The same dict syntax with a valid shape loads (the hand-made files above are otherwise well formed).
  std::string ok = tmp.path("ok.npy");
  write_bytes(ok, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", payload24));
  CHECK(load_npy(ok).shape() == Shape{6});
}
