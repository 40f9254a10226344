// autograd/functions/reduce.h -- reductions over all dims or the given ones, with keepdim:
// sum, mean, var, std, max/min (full, or along a dim with indices), argmax/argmin, logsumexp, norm.
// Results are bitwise identical whatever the thread count (NOTE [ Deterministic reductions ]).
#pragma once
#include <optional>
#include <vector>

#include "tensor/tensor.h"

namespace atto {

// An empty `dims` means all dims (as in PyTorch); negative dims count from the end.
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);

// Variance and standard deviation over `dims`, dividing by N - 1 (unbiased, PyTorch's default
// correction = 1) or by N.
Tensor var(const Tensor& x, const std::vector<int64_t>& dims = {}, bool unbiased = true, bool keepdim = false);
Tensor std(const Tensor& x, const std::vector<int64_t>& dims = {}, bool unbiased = true, bool keepdim = false);

// max(x) / min(x): the extreme value of all elements (0-d); the gradient is shared evenly by the
// elements equal to it (PyTorch's rule for ties). NaN propagates.
Tensor max(const Tensor& x);
Tensor min(const Tensor& x);

// max(x, dim) / min(x, dim): values and int64 indices along `dim` (first occurrence on ties); the
// gradient flows to the returned index only.
struct ValuesIndices {
  Tensor values, indices;
};
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim = false);
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim = false);

// int64 index of the first maximum / minimum, along `dim` or (no dim) of the flattened tensor.
Tensor argmax(const Tensor& x, std::optional<int64_t> dim = {}, bool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<int64_t> dim = {}, bool keepdim = false);

// log(sum(exp(x))) over `dims`, computed as m + log(sum(exp(x - m))) with m the max, so it never
// overflows.
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);

// The vector p-norm over `dims`: (sum |x|^p)^(1/p) for any p > 0, and max |x| for p = INFINITY.
// The 2-norm's gradient where the norm is 0 is 0 (as PyTorch).
Tensor norm(const Tensor& x, double p = 2.0, const std::vector<int64_t>& dims = {}, bool keepdim = false);

// How a reduction over `dims` is laid out as rows (internal helper shared by every reduction):
// `rows` is x permuted so the kept dims come first and the reduced ones last (`order`), made
// contiguous and viewed as (rows, R); `out_shape` is the result's shape (with or without the kept
// size-1 dims). unplan_rows maps a (rows, R) gradient back to x's shape and layout.
struct ReducePlan {
  Tensor rows;           // (n_rows, R), contiguous
  Shape in_shape;        // x's shape
  Shape out_shape;
  Shape keepdim_shape;   // out_shape with the reduced dims kept as 1 (for backward broadcasting)
  std::vector<int64_t> order;   // the permutation applied to x; empty when it is the identity
  int64_t n_rows = 1, R = 1;
};
ReducePlan plan_reduction(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, const char* op);
Tensor unplan_rows(const Tensor& rows, const ReducePlan& plan);

}  // namespace atto
