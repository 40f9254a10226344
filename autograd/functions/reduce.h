// autograd/functions/reduce.h -- reductions over all dims or the given ones, with keepdim.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace atto {

// An empty `dims` means all dims (as in PyTorch).
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);

// How a reduction over `dims` is laid out as rows (internal helper shared by every reduction):
// `rows` is x permuted so the kept dims come first and the reduced ones last, made contiguous and
// viewed as (rows, R); `out_shape` is the result's shape (with or without the kept size-1 dims).
struct ReducePlan {
  Tensor rows;           // (n_rows, R), contiguous
  Shape out_shape;
  Shape keepdim_shape;   // out_shape with the reduced dims kept as 1 (for backward broadcasting)
  int64_t n_rows = 1, R = 1;
};
ReducePlan plan_reduction(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, const char* op);

}  // namespace atto
