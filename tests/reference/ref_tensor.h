// tests/reference/ref_tensor.h -- the type of every generated reference value (tools/refgen.py).
#pragma once
#include <cmath>
#include <vector>

#include "attograd.h"

struct RefTensor {
  std::vector<int64_t> shape;
  std::vector<double> values;   // C order; bools and integers stored exactly as doubles
  atto::Tensor tensor(atto::DType dtype = atto::kFloat64) const {
    return atto::from_vector<double>(values, atto::Shape(shape)).to(dtype);
  }
};
