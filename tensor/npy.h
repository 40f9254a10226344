// tensor/npy.h -- NumPy's .npy files: save_npy / load_npy for float32, float64, int64 and bool.
//
// The format (numpy.lib.format): the magic "\x93NUMPY", a version byte pair (1.0: 2-byte header
// length; 2.0 and 3.0: 4-byte), a header that is a Python dict literal
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces to a multiple of 64 bytes and ended by '\n', then the raw little-endian data
// in C order. descr: '<f4' float32, '<f8' float64, '<i8' int64, '|b1' bool.
//
// save_npy writes version 1.0 (2.0 when the header does not fit), from any layout or device. It
// writes a temporary file in the target's directory and renames it over the target, so a failure
// never leaves a half-written file behind. load_npy reads into a CPU tensor; a truncated or corrupt
// file, another dtype, big-endian data or Fortran order is an atto::Error naming the file and what
// is wrong.
#pragma once
#include <string>

#include "tensor/tensor.h"

namespace atto {

void save_npy(const std::string& path, const Tensor& t);
Tensor load_npy(const std::string& path);

}  // namespace atto
