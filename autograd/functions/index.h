// autograd/functions/index.h -- indexing ops: index_select, gather, scatter_add, embedding, one_hot.
// Index tensors are int64; an index out of range raises atto::Error naming the op, the value and
// the valid range (PyTorch's rules: no negative indices). Implemented in index.cpp over the kernels
// of tensor/cpu/index.h.
#pragma once
#include <optional>

#include "tensor/tensor.h"

namespace atto {

// Picks slices of x along dim: the result has x's shape with size index.numel() at dim.
// index is 1-d (or 0-d, taken as one element).
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);

// out[i][j][k] = x[i][index[i][j][k]][k] (dim == 1). index has x's ndim, and index.size(d) <= x.size(d)
// for d != dim; the result has index's shape.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);

// Out-of-place scatter-add: a copy of x with src[i][j][k] added into [i][index[i][j][k]][k] (dim == 1).
// index.size(d) <= src.size(d) for every d, and <= x.size(d) for d != dim. Differentiable in x and src.
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);

// Row lookup: weight is (num_embeddings, embedding_dim), indices of any shape; the result has shape
// indices.shape + [embedding_dim]. Rows equal to padding_idx (negative counts from the end) get no
// gradient. The backward scatter-add is deterministic (NOTE [ Deterministic scatter-add ]).
Tensor embedding(const Tensor& weight, const Tensor& indices, std::optional<int64_t> padding_idx = std::nullopt);

// int64 tensor of shape indices.shape + [num_classes]; num_classes = -1 takes max(indices) + 1.
Tensor one_hot(const Tensor& indices, int64_t num_classes = -1);

}  // namespace atto
