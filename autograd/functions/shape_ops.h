// autograd/functions/shape_ops.h -- joining and splitting: cat, stack, split, chunk. All
// differentiable; split and chunk return views (narrow) of their input, as PyTorch does.
// Implemented in shape_ops.cpp.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace atto {

// Joins tensors along an existing dim. Shapes must match except along dim; dtypes are promoted
// (promote_types). As in PyTorch, 1-d empty tensors (shape [0]) are skipped.
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);

// Joins equal-shaped tensors along a new dim (dim may be in [-(ndim+1), ndim]).
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);

// Pieces of split_size along dim (the last one may be smaller), or pieces of the given sizes
// (which must add up to x.size(dim)).
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& split_sizes, int64_t dim = 0);

// At most `chunks` pieces of ceil(size / chunks) along dim (PyTorch's rule: may return fewer).
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);

}  // namespace atto
