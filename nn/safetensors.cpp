// nn/safetensors.cpp -- see nn/safetensors.h. The loader checks the whole header against the file
// size before it allocates or reads any tensor data, with every size computation overflow-checked,
// so no input file can make it read past its end or allocate more than the file holds.
#include "nn/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "autograd/grad_mode.h"

namespace atto {

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

using Json = nlohmann::json;
constexpr const char* kMetadataKey = "__metadata__";

struct StType {
  const char* name;
  DType dtype;
};
constexpr StType kTypes[] = {{"F32", kFloat32}, {"F64", kFloat64}, {"I64", kInt64}, {"BOOL", kBool}};
// dtypes the format defines that attograd has no DType for: named as "unsupported", anything
// else as "unknown", so the message tells a foreign checkpoint from a corrupt one.
constexpr const char* kForeignTypes[] = {"F16", "BF16", "I8", "U8", "I16", "U16", "I32", "U32", "U64",
                                         "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64"};

const StType* find_type(DType t) {
  for (const auto& k : kTypes)
    if (k.dtype == t) return &k;
  return nullptr;
}

// ---- writing: a temporary next to the target, renamed over it ----------------------------------

// Removes the temporary unless commit() succeeded, so every error path (ours, or an exception from
// copying a tensor to the CPU) leaves the directory as it was.
class AtomicFile {
 public:
  AtomicFile(const std::string& path, const char* op) : path_(path), op_(op) {
    namespace fs = std::filesystem;
    fs::path target(path);
    dir_ = target.parent_path().empty() ? fs::path(".") : target.parent_path();
    tmp_ = (dir_ / fmt::format(".{}.tmpXXXXXX", target.filename().string())).string();
    fd_ = ::mkstemp(tmp_.data());
    ATTO_CHECK(fd_ >= 0, "[{}] '{}': cannot create a temporary file in '{}': {}", op_, path_, dir_.string(),
               std::strerror(errno));
    if (::fchmod(fd_, 0644) != 0) fail("chmod of the temporary failed");
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }

  void write(const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail("write failed");
      p += w;
      n -= size_t(w);
    }
  }

  // fsync, close, rename over the target; then fsync the directory so the rename is durable
  // (best effort: the new file is already in place, a failure there is no reason to throw).
  void commit() {
    if (::fsync(fd_) != 0) fail("fsync failed");
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) fail("close failed");
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) fail("rename over the target failed");
    committed_ = true;
    int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
      (void)::fsync(dfd);
      ::close(dfd);
    }
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw Error(fmt::format("[{}] '{}': {}: {}", op_, path_, what, std::strerror(errno)));
  }

  std::string path_;
  const char* op_;
  std::filesystem::path dir_;
  std::string tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

// ---- reading ---------------------------------------------------------------------------------------

struct File {
  std::FILE* f = nullptr;
  ~File() {
    if (f) std::fclose(f);
  }
};

// One tensor's header entry, checked against itself (not yet against the buffer).
struct Entry {
  std::string name;
  size_t order;   // position in the JSON header: breaks ties between empty tensors at one offset
  DType dtype;
  std::vector<int64_t> dims;
  uint64_t begin, end;
};

// A JSON value for an error message, shortened. Nested values are only named: dump() recurses, and
// a hostile header can nest arrays a million deep (parsing and destruction are iterative).
std::string describe(const Json& j) {
  bool flat = j.is_primitive() || (j.is_array() && std::all_of(j.begin(), j.end(), [](const Json& e) {
                                     return e.is_primitive();
                                   }));
  if (!flat) return fmt::format("a nested {} ({} entries)", j.type_name(), j.size());
  std::string s = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

}  // namespace

SafetensorsFile load_safetensors(const std::string& path) {
  auto fail = [&](const std::string& what) { return Error(fmt::format("[load_safetensors] '{}': {}", path, what)); };
  File file{std::fopen(path.c_str(), "rb")};
  if (!file.f) throw fail(fmt::format("cannot open: {}", std::strerror(errno)));
  struct stat st {};
  if (fstat(fileno(file.f), &st) != 0) throw fail(fmt::format("cannot stat: {}", std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) throw fail("not a regular file");
  const uint64_t size = uint64_t(st.st_size);
  auto read = [&](void* dst, uint64_t n, const char* what) {
    if (n > 0 && std::fread(dst, 1, size_t(n), file.f) != size_t(n))
      throw fail(fmt::format("short read in {} (the file changed while being read, or an I/O error)", what));
  };

  // ---- the header length and the JSON header ----
  if (size < 8) throw fail(fmt::format("truncated: the file has {} bytes, the header length alone needs 8", size));
  unsigned char len_bytes[8];
  read(len_bytes, 8, "the header length");
  uint64_t header_len = 0;
  for (int k = 0; k < 8; ++k) header_len |= uint64_t(len_bytes[k]) << (8 * k);
  if (header_len > size - 8)
    throw fail(fmt::format("truncated or corrupt: the header length {} is larger than the {} bytes after it",
                           header_len, size - 8));
  const uint64_t buffer_size = size - 8 - header_len;
  std::string text(size_t(header_len), '\0');
  read(text.data(), header_len, "the header");

  // The callback sees every key as it is parsed: nlohmann keeps the last of duplicate keys
  // silently, we reject them; and it records the top-level keys' order.
  std::vector<std::set<std::string>> open_objects;
  std::vector<std::string> top_keys;
  std::optional<std::string> duplicate;   // the first one (a name may be "")
  auto on_event = [&](int, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == Json::parse_event_t::object_end) {
      open_objects.pop_back();
    } else if (event == Json::parse_event_t::key) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second && !duplicate) duplicate = key;
      if (open_objects.size() == 1) top_keys.push_back(key);
    }
    return true;
  };
  Json header;
  try {
    header = Json::parse(text, on_event);
  } catch (const Json::exception& e) {
    throw fail(fmt::format("invalid JSON header: {}", e.what()));
  }
  if (duplicate) throw fail(fmt::format("invalid header: duplicate key '{}'", *duplicate));
  if (!header.is_object()) throw fail(fmt::format("invalid header: not a JSON object but {}", describe(header)));

  // ---- each entry on its own ----
  SafetensorsFile out;
  std::vector<Entry> entries;
  for (size_t order = 0; order < top_keys.size(); ++order) {
    const std::string& name = top_keys[order];
    const Json& value = header.at(name);
    if (name == kMetadataKey) {
      if (!value.is_object())
        throw fail(fmt::format("'{}' is not a JSON object but {}", kMetadataKey, describe(value)));
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string())
          throw fail(fmt::format("'{}' value of '{}' is not a string but {}", kMetadataKey, k, describe(v)));
        out.metadata.emplace(k, v.get<std::string>());
      }
      continue;
    }
    auto bad = [&](const std::string& what) { return fail(fmt::format("tensor '{}': {}", name, what)); };
    if (!value.is_object()) throw bad(fmt::format("expected an object with dtype, shape, data_offsets, got {}",
                                                  describe(value)));
    for (const char* key : {"dtype", "shape", "data_offsets"})
      if (!value.contains(key)) throw bad(fmt::format("missing key '{}'", key));
    for (const auto& [k, v] : value.items())
      if (k != "dtype" && k != "shape" && k != "data_offsets") throw bad(fmt::format("unexpected key '{}'", k));

    Entry e{name, order, kFloat32, {}, 0, 0};
    const Json& dt = value["dtype"];
    if (!dt.is_string()) throw bad(fmt::format("dtype is not a string but {}", describe(dt)));
    const std::string& dname = dt.get_ref<const std::string&>();
    const StType* type = nullptr;
    for (const auto& k : kTypes)
      if (dname == k.name) type = &k;
    if (!type) {
      bool foreign = std::any_of(std::begin(kForeignTypes), std::end(kForeignTypes),
                                 [&](const char* n) { return dname == n; });
      throw bad(fmt::format("{} dtype '{}' (supported: F32, F64, I64, BOOL)", foreign ? "unsupported" : "unknown",
                            dname));
    }
    e.dtype = type->dtype;

    const Json& shape = value["shape"];
    if (!shape.is_array()) throw bad(fmt::format("shape is not an array but {}", describe(shape)));
    if (shape.size() > size_t(kMaxDims))
      throw bad(fmt::format("unsupported: {} dims (at most {})", shape.size(), kMaxDims));
    // The product of the sizes (zeros counted as ones: the strides of [0, 2^40, 2^40] overflow too),
    // times the element size, must fit an int64.
    constexpr uint64_t kMax = uint64_t(std::numeric_limits<int64_t>::max());
    uint64_t numel = 1, span = 1;
    for (const Json& d : shape) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > kMax)
        throw bad(fmt::format("shape {} holds {}, not a non-negative integer", describe(shape), describe(d)));
      const uint64_t n = d.get<uint64_t>();
      e.dims.push_back(int64_t(n));
      numel *= n;   // <= span, which is checked
      if (__builtin_mul_overflow(span, std::max<uint64_t>(n, 1), &span) || span > kMax)
        throw bad(fmt::format("shape {} overflows", describe(shape)));
    }
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(span, uint64_t(dtype_size(e.dtype)), &nbytes) || nbytes > kMax)
      throw bad(fmt::format("shape {} overflows", describe(shape)));
    nbytes = numel * dtype_size(e.dtype);

    const Json& offs = value["data_offsets"];
    if (!offs.is_array() || offs.size() != 2 || !offs[0].is_number_unsigned() || !offs[1].is_number_unsigned())
      throw bad(fmt::format("data_offsets must be two non-negative integers [begin, end], got {}", describe(offs)));
    e.begin = offs[0].get<uint64_t>();
    e.end = offs[1].get<uint64_t>();
    if (e.end < e.begin) throw bad(fmt::format("data_offsets [{}, {}] end before they begin", e.begin, e.end));
    if (e.end - e.begin != nbytes)
      throw bad(fmt::format("data_offsets [{}, {}] hold {} bytes, but shape [{}] of {} needs {}", e.begin, e.end,
                            e.end - e.begin, fmt::join(e.dims, ", "), dname, nbytes));
    entries.push_back(std::move(e));
  }

  // ---- the entries must tile the buffer: sorted by offset, no gap, no overlap, nothing after ----
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end, a.order) < std::tie(b.begin, b.end, b.order);
  });
  uint64_t expected = 0;
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    if (e.end > buffer_size)
      throw fail(fmt::format("tensor '{}': data_offsets [{}, {}] out of range: the data buffer has {} bytes", e.name,
                             e.begin, e.end, buffer_size));
    if (e.begin < expected)
      throw fail(fmt::format("tensor '{}': data_offsets [{}, {}] overlap those of tensor '{}' [{}, {}]", e.name,
                             e.begin, e.end, prev->name, prev->begin, prev->end));
    if (e.begin > expected)
      throw fail(fmt::format("tensor '{}': data_offsets [{}, {}] leave a gap of {} unused bytes before them", e.name,
                             e.begin, e.end, e.begin - expected));
    expected = e.end;
    prev = &e;
  }
  if (expected != buffer_size)
    throw fail(fmt::format("{} unexpected bytes after the last tensor's data (the buffer has {}, the tensors use {})",
                           buffer_size - expected, buffer_size, expected));

  // ---- the data, in file order (the file position is at the buffer's start) ----
  for (const Entry& e : entries) {
    Tensor t = empty(Shape(e.dims), {.dtype = e.dtype});
    read(t.raw_data(), e.end - e.begin, "the data");
    if (e.dtype == kBool) {   // a byte other than 0/1 is not a valid bool: normalise
      auto* b = static_cast<unsigned char*>(t.raw_data());
      for (int64_t i = 0; i < t.numel(); ++i) b[i] = b[i] != 0;
    }
    out.tensors.insert(e.name, t);
  }
  return out;
}

void save_safetensors(const std::string& path, const StateDict& tensors,
                      const std::map<std::string, std::string>& metadata) {
  // Everything that can be wrong with the input is found before the temporary file exists.
  // The header is assembled by hand (compact, like the reference writer: metadata first, then the
  // tensors in order); nlohmann only escapes the strings, and rejects invalid UTF-8.
  auto quote = [&](const std::string& s, const char* what) {
    try {
      return Json(s).dump();
    } catch (const Json::exception&) {
      throw Error(fmt::format("[save_safetensors] '{}': {} is not valid UTF-8: \"{}\"", path, what, s));
    }
  };
  std::string header = "{";
  if (!metadata.empty()) {
    header += fmt::format("\"{}\":{{", kMetadataKey);
    bool first = true;
    for (const auto& [k, v] : metadata) {
      header += fmt::format("{}{}:{}", first ? "" : ",", quote(k, "a metadata key"), quote(v, "a metadata value"));
      first = false;
    }
    header += "}";
  }
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    ATTO_CHECK(name != kMetadataKey, "[save_safetensors] '{}': '{}' is reserved for the metadata, not a tensor name",
               path, name);
    ATTO_CHECK(seen.insert(name).second, "[save_safetensors] '{}': duplicate tensor name '{}'", path, name);
    ATTO_CHECK(t.defined(), "[save_safetensors] '{}': tensor '{}' is undefined", path, name);
    const StType* type = find_type(t.dtype());
    ATTO_CHECK(type, "[save_safetensors] '{}': tensor '{}' has unsupported dtype {}", path, name, t.dtype());
    const uint64_t nbytes = uint64_t(t.numel()) * t.element_size();
    header += fmt::format("{}{}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
                          header.size() > 1 ? "," : "", quote(name, "a tensor name"), type->name,
                          fmt::join(t.shape().vec(), ","), offset, offset + nbytes);
    offset += nbytes;
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  unsigned char len_bytes[8];
  for (int k = 0; k < 8; ++k) len_bytes[k] = static_cast<unsigned char>(uint64_t(header.size()) >> (8 * k));

  AtomicFile file(path, "save_safetensors");
  file.write(len_bytes, 8);
  file.write(header.data(), header.size());
  for (const auto& [name, t] : tensors) {
    Tensor c;
    {
      NoGradGuard no_grad;
      c = t.detach().to(kCPU).contiguous();
    }
    file.write(c.raw_data(), size_t(c.numel()) * c.element_size());
  }
  file.commit();
}

}  // namespace atto
