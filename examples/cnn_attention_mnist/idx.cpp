// examples/cnn_attention_mnist/idx.cpp -- MNIST IDX files read through zlib's gzread, which also
// reads an uncompressed file as it is. Twin: idx.h (the format).
#include "idx.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "tensor/check.h"

namespace mnist {

namespace {

constexpr uint32_t kImagesMagic = 2051, kLabelsMagic = 2049;

// An open gzip stream that closes itself; every read says what it was reading when it fails.
class GzFile {
 public:
  explicit GzFile(const std::string& path) : path_(path), file_(gzopen(path.c_str(), "rb")) {
    ATTO_CHECK(file_ != nullptr, "[mnist] cannot open {}: {}", path, errno ? std::strerror(errno) : "gzopen failed");
  }
  ~GzFile() { gzclose(file_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  // Reads exactly n bytes: a short read is a truncated file, a negative one a broken gzip stream.
  void read_exactly(void* buffer, size_t n, const char* what) {
    size_t done = 0;
    auto* out = static_cast<unsigned char*>(buffer);
    while (done < n) {   // gzread takes an unsigned int: read large blocks in pieces
      const unsigned piece = unsigned(std::min<size_t>(n - done, size_t(1) << 30));
      const int got = gzread(file_, out + done, piece);
      ATTO_CHECK(got >= 0, "[mnist] {}: cannot decompress {} (truncated or corrupt gzip data): {}", path_, what,
                 error_message());
      ATTO_CHECK(got > 0, "[mnist] {}: truncated: it ends after {} of the {} bytes of {}{}", path_, done, n, what,
                 zlib_note());
      done += size_t(got);
    }
  }

  uint32_t read_be32(const char* what) {   // IDX numbers are big-endian
    unsigned char b[4];
    read_exactly(b, 4, what);
    return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | uint32_t(b[3]);
  }

  // After the last expected byte: the file must end here.
  void expect_end(const char* what) {
    unsigned char extra;
    const int got = gzread(file_, &extra, 1);
    ATTO_CHECK(got >= 0, "[mnist] {}: cannot decompress past {} (corrupt gzip data): {}", path_, what, error_message());
    ATTO_CHECK(got == 0, "[mnist] {}: unexpected bytes after {} (the header's count is too small?)", path_, what);
  }

 private:
  std::string error_message() {
    int code = 0;
    const char* message = gzerror(file_, &code);
    return message && *message ? message : "unknown zlib error";
  }
  // zlib's own word on a stream that ended early ("unexpected end of file"), if it has one.
  std::string zlib_note() {
    int code = 0;
    const char* message = gzerror(file_, &code);
    if (code == Z_OK || !message || !*message) return "";
    std::string text = message;   // "<path>: <what>": the path is in our message already
    if (text.rfind(path_ + ": ", 0) == 0) text.erase(0, path_.size() + 2);
    return fmt::format(" (zlib: {})", text);
  }
  std::string path_;
  gzFile file_;
};

void check_magic(uint32_t magic, uint32_t expected, const std::string& path, const char* kind) {
  ATTO_CHECK(magic == expected,
             "[mnist] {}: magic number {} (0x{:08x}), expected {} for an IDX file of {} -- not an MNIST {} file?",
             path, magic, magic, expected, kind, kind);
}

}  // namespace

IdxImages read_idx_images(const std::string& path) {
  GzFile file(path);
  check_magic(file.read_be32("the header"), kImagesMagic, path, "images");
  IdxImages images;
  images.count = file.read_be32("the header");
  images.rows = file.read_be32("the header");
  images.cols = file.read_be32("the header");
  ATTO_CHECK(images.count > 0 && images.count <= 10'000'000 && images.rows > 0 && images.rows <= 4096 &&
                 images.cols > 0 && images.cols <= 4096,
             "[mnist] {}: implausible dimensions {} images of {}x{}", path, images.count, images.rows, images.cols);
  images.pixels.resize(size_t(images.count * images.rows * images.cols));
  file.read_exactly(images.pixels.data(), images.pixels.size(), "the pixels");
  file.expect_end("the pixels");
  return images;
}

std::vector<uint8_t> read_idx_labels(const std::string& path) {
  GzFile file(path);
  check_magic(file.read_be32("the header"), kLabelsMagic, path, "labels");
  const uint32_t count = file.read_be32("the header");
  ATTO_CHECK(count > 0 && count <= 10'000'000, "[mnist] {}: implausible label count {}", path, count);
  std::vector<uint8_t> labels(count);
  file.read_exactly(labels.data(), labels.size(), "the labels");
  file.expect_end("the labels");
  for (size_t i = 0; i < labels.size(); ++i)
    ATTO_CHECK(labels[i] <= 9, "[mnist] {}: label {} is {}, not a digit 0..9", path, i, int(labels[i]));
  return labels;
}

Split load_split(const std::string& dir, const std::string& prefix, int64_t limit) {
  const std::string image_path = dir + "/" + prefix + "-images-idx3-ubyte.gz";
  const std::string label_path = dir + "/" + prefix + "-labels-idx1-ubyte.gz";
  IdxImages images = read_idx_images(image_path);
  std::vector<uint8_t> labels = read_idx_labels(label_path);
  ATTO_CHECK(images.rows == 28 && images.cols == 28, "[mnist] {}: images are {}x{}, expected MNIST's 28x28",
             image_path, images.rows, images.cols);
  ATTO_CHECK(int64_t(labels.size()) == images.count, "[mnist] {} holds {} labels but {} holds {} images", label_path,
             labels.size(), image_path, images.count);

  const int64_t n = limit > 0 ? std::min(limit, images.count) : images.count, plane = 28 * 28;
  // The usual MNIST constants: mean and standard deviation of the training pixels scaled to 0..1.
  constexpr float kMean = 0.1307f, kStd = 0.3081f;
  std::vector<float> x(size_t(n * plane));
  for (size_t i = 0; i < x.size(); ++i) x[i] = (float(images.pixels[i]) / 255.0f - kMean) / kStd;
  std::vector<int64_t> y(labels.begin(), labels.begin() + n);
  Split split;
  split.images = atto::from_vector<float>(x, atto::Shape{n, 1, 28, 28});
  split.labels = atto::from_vector<int64_t>(y);
  split.raw.assign(images.pixels.begin(), images.pixels.begin() + n * plane);
  return split;
}

}  // namespace mnist
