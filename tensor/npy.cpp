// tensor/npy.cpp -- see tensor/npy.h. Every read is bounds-checked against the file size before
// it happens, so no input file can make us read past its end or allocate what it does not hold.
#include "tensor/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include "autograd/grad_mode.h"

namespace atto {

static_assert(std::endian::native == std::endian::little, ".npy I/O assumes a little-endian host");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

struct NpyType {
  const char* descr;
  DType dtype;
};
constexpr NpyType kTypes[] = {{"<f4", kFloat32}, {"<f8", kFloat64}, {"<i8", kInt64}, {"|b1", kBool}};

// ---- the header dict ----------------------------------------------------------------------------

struct Header {
  std::optional<std::string> descr;
  std::optional<bool> fortran_order;
  std::optional<std::vector<int64_t>> shape;
};

// A parser for exactly the Python literals numpy writes: {'key': value, ...} with string, bool and
// tuple-of-int values. `fail` throws with the file name.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path) : s_(text), path_(path) {}

  Header parse() {
    Header h;
    ws();
    expect('{');
    for (;;) {
      ws();
      if (peek() == '}') {
        ++i_;
        break;
      }
      std::string key = string_literal();
      ws();
      expect(':');
      ws();
      if (key == "descr") h.descr = string_literal();
      else if (key == "fortran_order") h.fortran_order = boolean();
      else if (key == "shape") h.shape = tuple();
      else fail(fmt::format("unexpected key '{}'", key));
      ws();
      if (peek() == ',') ++i_;
      else if (peek() != '}') fail("expected ',' or '}'");
    }
    ws();
    if (i_ != s_.size()) fail("unexpected text after the closing '}'");
    if (!h.descr || !h.fortran_order || !h.shape) fail("missing one of the keys 'descr', 'fortran_order', 'shape'");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(fmt::format("[load_npy] '{}': bad header ({} at byte {} of header \"{}\")", path_, what, i_, s_));
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    if (peek() != c) fail(fmt::format("expected '{}'", c));
    ++i_;
  }
  std::string string_literal() {
    char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    size_t end = s_.find(q, i_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string out = s_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return out;
  }
  bool boolean() {
    if (s_.compare(i_, 4, "True") == 0) {
      i_ += 4;
      return true;
    }
    if (s_.compare(i_, 5, "False") == 0) {
      i_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  std::vector<int64_t> tuple() {
    std::vector<int64_t> dims;
    expect('(');
    for (;;) {
      ws();
      if (peek() == ')') {
        ++i_;
        return dims;
      }
      if (peek() < '0' || peek() > '9') fail("expected a non-negative integer in the shape");
      int64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (__builtin_mul_overflow(v, int64_t(10), &v) || __builtin_add_overflow(v, int64_t(peek() - '0'), &v))
          fail("shape size overflows int64");
        ++i_;
      }
      if (peek() == 'L') ++i_;   // Python 2's long literal
      dims.push_back(v);
      ws();
      if (peek() == ',') ++i_;
      else if (peek() != ')') fail("expected ',' or ')' in the shape");
    }
  }

  const std::string& s_;
  const std::string& path_;
  size_t i_ = 0;
};

// ---- reading --------------------------------------------------------------------------------------

struct File {
  std::FILE* f = nullptr;
  ~File() {
    if (f) std::fclose(f);
  }
};

}  // namespace

Tensor load_npy(const std::string& path) {
  auto fail = [&](const std::string& what) { return Error(fmt::format("[load_npy] '{}': {}", path, what)); };
  File file{std::fopen(path.c_str(), "rb")};
  if (!file.f) throw fail(fmt::format("cannot open: {}", std::strerror(errno)));
  struct stat st {};
  if (fstat(fileno(file.f), &st) != 0) throw fail(fmt::format("cannot stat: {}", std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) throw fail("not a regular file");
  const uint64_t size = uint64_t(st.st_size);
  uint64_t pos = 0;
  auto read = [&](void* dst, uint64_t n, const char* what) {
    if (n > size - pos)
      throw fail(fmt::format("truncated: {} needs {} bytes at offset {}, the file has {} bytes", what, n, pos, size));
    if (n > 0 && std::fread(dst, 1, size_t(n), file.f) != size_t(n))
      throw fail(fmt::format("read error in {}: {}", what, std::strerror(errno)));
    pos += n;
  };

  unsigned char pre[kMagicLen + 2];
  read(pre, sizeof pre, "the magic string and version");
  if (std::memcmp(pre, kMagic, kMagicLen) != 0) throw fail("not a .npy file (bad magic string)");
  const int major = pre[kMagicLen], minor = pre[kMagicLen + 1];
  if (!((major == 1 || major == 2 || major == 3) && minor == 0))
    throw fail(fmt::format("unsupported .npy format version {}.{} (supported: 1.0, 2.0, 3.0)", major, minor));
  uint64_t header_len = 0;
  if (major == 1) {
    unsigned char b[2];
    read(b, 2, "the header length");
    header_len = uint64_t(b[0]) | uint64_t(b[1]) << 8;
  } else {
    unsigned char b[4];
    read(b, 4, "the header length");
    header_len = uint64_t(b[0]) | uint64_t(b[1]) << 8 | uint64_t(b[2]) << 16 | uint64_t(b[3]) << 24;
  }
  if (header_len > size - pos)
    throw fail(fmt::format("truncated: header length {} exceeds the {} bytes left in the file", header_len, size - pos));
  std::string text(size_t(header_len), '\0');
  read(text.data(), header_len, "the header");
  Header h = HeaderParser(text, path).parse();

  const NpyType* type = nullptr;
  for (const auto& t : kTypes)
    if (*h.descr == t.descr) type = &t;
  if (!type) {
    if (!h.descr->empty() && (*h.descr)[0] == '>')
      throw fail(fmt::format("unsupported dtype '{}': big-endian data", *h.descr));
    throw fail(fmt::format("unsupported dtype '{}' (supported: '<f4', '<f8', '<i8', '|b1')", *h.descr));
  }
  if (*h.fortran_order) throw fail("unsupported: fortran_order is True (save a C-ordered array: np.ascontiguousarray)");
  const auto& dims = *h.shape;
  if (dims.size() > size_t(kMaxDims))
    throw fail(fmt::format("unsupported: {} dims (at most {})", dims.size(), kMaxDims));
  int64_t numel = 1;
  for (int64_t d : dims)
    if (__builtin_mul_overflow(numel, d, &numel)) throw fail(fmt::format("shape ({}) overflows", fmt::join(dims, ", ")));
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(uint64_t(numel), uint64_t(dtype_size(type->dtype)), &nbytes))
    throw fail(fmt::format("shape ({}) overflows", fmt::join(dims, ", ")));
  if (nbytes > size - pos)
    throw fail(fmt::format("truncated: shape ({}) of {} needs {} data bytes, the file has {}", fmt::join(dims, ", "),
                           *h.descr, nbytes, size - pos));
  if (nbytes < size - pos)
    throw fail(fmt::format("{} unexpected bytes after the data of shape ({})", size - pos - nbytes,
                           fmt::join(dims, ", ")));

  Tensor t = empty(Shape(dims), {.dtype = type->dtype});
  read(t.raw_data(), nbytes, "the data");
  if (type->dtype == kBool) {   // a byte other than 0/1 is not a valid bool: normalise
    auto* b = static_cast<unsigned char*>(t.raw_data());
    for (int64_t i = 0; i < numel; ++i) b[i] = b[i] != 0;
  }
  return t;
}

// ---- writing ----------------------------------------------------------------------------------------

void save_npy(const std::string& path, const Tensor& t) {
  ATTO_CHECK(t.defined(), "[save_npy] '{}': the tensor is undefined", path);
  const NpyType* type = nullptr;
  for (const auto& k : kTypes)
    if (k.dtype == t.dtype()) type = &k;
  ATTO_CHECK(type, "[save_npy] '{}': unsupported dtype {}", path, t.dtype());
  Tensor c;
  {
    NoGradGuard no_grad;
    c = t.detach().to(kCPU).contiguous();
  }

  // numpy's _write_array_header: the dict, spaces to a 64-byte boundary, '\n'.
  auto dims = t.shape().vec();
  std::string shape = dims.size() == 1 ? fmt::format("({},)", dims[0]) : fmt::format("({})", fmt::join(dims, ", "));
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", type->descr, shape);
  int major = dict.size() + 1 + 10 + 64 <= 65535 ? 1 : 2;
  size_t pre = kMagicLen + 2 + (major == 1 ? 2 : 4);
  size_t hlen = dict.size() + 1;
  size_t pad = 64 - (pre + hlen) % 64;
  std::string header = dict + std::string(pad, ' ') + '\n';
  std::string head(kMagic, kMagicLen);
  head += char(major);
  head += char(0);
  uint32_t len = uint32_t(header.size());
  for (size_t k = 0; k < (major == 1 ? 2u : 4u); ++k) head += char((len >> (8 * k)) & 0xff);
  head += header;

  // Atomic replace: a temporary in the same directory (same filesystem), fsync, rename.
  namespace fs = std::filesystem;
  fs::path target(path);
  fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  std::string tmp = (dir / fmt::format(".{}.tmpXXXXXX", target.filename().string())).string();
  int fd = mkstemp(tmp.data());
  ATTO_CHECK(fd >= 0, "[save_npy] '{}': cannot create a temporary file in '{}': {}", path, dir.string(),
             std::strerror(errno));
  auto fail = [&](const char* what) {
    std::string msg = fmt::format("[save_npy] '{}': {}: {}", path, what, std::strerror(errno));
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw Error(msg);
  };
  auto write_all = [&](const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = ::write(fd, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail("write failed");
      p += w;
      n -= size_t(w);
    }
  };
  if (::fchmod(fd, 0644) != 0) fail("chmod failed");
  write_all(head.data(), head.size());
  write_all(c.raw_data(), size_t(c.numel()) * c.element_size());
  if (::fsync(fd) != 0) fail("fsync failed");
  int rc = ::close(fd);
  fd = -1;
  if (rc != 0) fail("close failed");
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("rename failed");
}

}  // namespace atto
