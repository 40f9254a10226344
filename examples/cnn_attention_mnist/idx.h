// examples/cnn_attention_mnist/idx.h -- reading MNIST's IDX files (gzip'd or plain) with zlib.
// Twin: idx.cpp.
//
// An IDX file is a big-endian header and then raw bytes:
//   images: int32 magic 2051 (0x00000803: unsigned bytes, 3 dims), int32 count, int32 rows, int32 cols,
//           then count * rows * cols pixels 0..255, row by row;
//   labels: int32 magic 2049 (0x00000801: unsigned bytes, 1 dim), int32 count, then count labels 0..9.
// Every problem (missing file, broken gzip stream, wrong magic number, odd dimensions, a file cut
// short or with bytes left over, a label that is not a digit) is an atto::Error naming the file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace mnist {

struct IdxImages {
  int64_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;   // count * rows * cols, image after image
};

IdxImages read_idx_images(const std::string& path);
std::vector<uint8_t> read_idx_labels(const std::string& path);

// One split of MNIST as tensors: images (N, 1, 28, 28) float32, standardised with the training set's
// mean and spread (0.1307, 0.3081 of the 0..1 pixel range), and labels (N,) int64.
struct Split {
  atto::Tensor images, labels;
  std::vector<uint8_t> raw;   // the original pixels, for pictures
};

// Reads <dir>/<prefix>-images-idx3-ubyte.gz and <prefix>-labels-idx1-ubyte.gz (prefix "train" or
// "t10k"), checks they hold 28x28 images and as many labels, and keeps the first `limit` (0: all).
Split load_split(const std::string& dir, const std::string& prefix, int64_t limit = 0);

}  // namespace mnist
