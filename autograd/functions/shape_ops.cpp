// autograd/functions/shape_ops.cpp -- cat, stack, split, chunk (see shape_ops.h). cat is one
// differentiable function (a copy per input into slices of the output; backward slices the
// gradient); stack is cat of unsqueezed views; split and chunk are narrow views.
#include "autograd/functions/shape_ops.h"

#include "autograd/function.h"

namespace atto {

namespace {

struct Cat {
  static constexpr const char* name = "CatBackward";
  struct Saved : SavedBase { std::vector<int64_t> sizes; std::vector<DType> dtypes; int dim = 0; };
  // `tensors` are the non-skipped inputs; out_shape and dtype are checked and computed by cat().
  static Tensor forward(Saved& s, const std::vector<Tensor>& tensors, int dim, const Shape& out_shape, DType dtype) {
    Tensor y = empty(out_shape, {.dtype = dtype, .device = tensors[0].device()});
    int64_t off = 0;
    s.sizes.resize(tensors.size());
    s.dtypes.resize(tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
      const Tensor& t = tensors[i];
      s.sizes[i] = t.ndim() == 1 && t.numel() == 0 ? -1 : t.shape()[dim];   // -1: a skipped 1-d empty input
      s.dtypes[i] = t.dtype();
      if (s.sizes[i] <= 0) continue;
      y.narrow(dim, off, s.sizes[i]).copy_(t);
      off += s.sizes[i];
    }
    s.dim = dim;
    return y;
  }
  // forward: y = [x0; x1; ...] along dim   =>   dx_i = dy[off_i : off_i + size_i] along dim
  static std::vector<Tensor> backward(Saved& s, const Tensor& dy) {
    std::vector<Tensor> grads(s.sizes.size());
    int64_t off = 0;
    for (size_t i = 0; i < s.sizes.size(); ++i) {
      if (s.sizes[i] < 0) {   // a skipped 1-d empty input
        if (s.needs_input_grad(int(i))) grads[i] = zeros({0}, {.dtype = s.dtypes[i], .device = dy.device()});
        continue;
      }
      if (s.needs_input_grad(int(i))) grads[i] = dy.narrow(s.dim, off, s.sizes[i]);
      off += s.sizes[i];
    }
    return grads;
  }
};

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim_in) {
  ATTO_CHECK(!tensors.empty(), "[cat] expects a non-empty list of tensors");
  // The reference: the first tensor that is not a skipped 1-d empty one (or tensor 0 if all are).
  auto skipped = [](const Tensor& t) { return t.ndim() == 1 && t.numel() == 0; };
  size_t ref = tensors.size();
  for (size_t i = 0; i < tensors.size(); ++i) {
    ATTO_CHECK(tensors[i].defined(), "[cat] tensor {} is undefined", i);
    if (ref == tensors.size() && !skipped(tensors[i])) ref = i;
  }
  if (ref == tensors.size()) ref = 0;
  const Tensor& r = tensors[ref];
  ATTO_CHECK(r.ndim() > 0, "[cat] zero-dimensional tensor {} cannot be concatenated", ref);
  int dim = normalize_dim(dim_in, r.ndim(), "cat");
  Shape out = r.shape();
  out[dim] = 0;
  DType dtype = r.dtype();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    check_same_device(r, t, "cat");
    dtype = promote_types(dtype, t.dtype());
    if (skipped(t)) continue;
    ATTO_CHECK(t.ndim() == r.ndim(), "[cat] tensor {} has shape {} but tensor {} has shape {}: the number of dims "
               "differs", i, t.shape(), ref, r.shape());
    for (int d = 0; d < r.ndim(); ++d)
      ATTO_CHECK(d == dim || t.shape()[d] == r.shape()[d],
                 "[cat] sizes must match except in dim {}: tensor {} has shape {} but tensor {} has shape {}", dim, i,
                 t.shape(), ref, r.shape());
    out[dim] += t.shape()[dim];
  }
  return apply<Cat>(tensors, dim, out, dtype);
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim_in) {
  ATTO_CHECK(!tensors.empty(), "[stack] expects a non-empty list of tensors");
  const Shape& s0 = tensors[0].shape();
  int dim = normalize_dim(dim_in, s0.size() + 1, "stack");
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    ATTO_CHECK(tensors[i].defined(), "[stack] tensor {} is undefined", i);
    ATTO_CHECK(tensors[i].shape() == s0, "[stack] expects tensors of equal shape, but tensor 0 has shape {} and "
               "tensor {} has shape {}", s0, i, tensors[i].shape());
    parts.push_back(tensors[i].unsqueeze(dim));
  }
  return cat(parts, dim);
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim_in) {
  ATTO_CHECK(x.ndim() > 0, "[split] cannot split a 0-d tensor");
  int dim = normalize_dim(dim_in, x.ndim(), "split");
  const int64_t n = x.shape()[dim];
  ATTO_CHECK(split_size > 0 || (split_size == 0 && n == 0),
             "[split] split_size must be positive (or 0 for an empty dim), got {} for dim {} of size {} (shape {})",
             split_size, dim, n, x.shape());
  int64_t pieces = split_size == 0 ? 1 : std::max<int64_t>((n + split_size - 1) / split_size, 1);
  std::vector<Tensor> out;
  out.reserve(size_t(pieces));
  for (int64_t i = 0; i < pieces; ++i) {
    int64_t start = i * split_size;
    out.push_back(x.narrow(dim, start, std::min(split_size, n - start)));
  }
  return out;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& split_sizes, int64_t dim_in) {
  ATTO_CHECK(x.ndim() > 0, "[split] cannot split a 0-d tensor");
  int dim = normalize_dim(dim_in, x.ndim(), "split");
  int64_t total = 0;
  for (int64_t s : split_sizes) {
    ATTO_CHECK(s >= 0, "[split] split_sizes {} contain a negative size", split_sizes);
    total += s;
  }
  ATTO_CHECK(total == x.shape()[dim], "[split] split_sizes {} add up to {}, but dim {} has size {} (shape {})",
             split_sizes, total, dim, x.shape()[dim], x.shape());
  std::vector<Tensor> out;
  out.reserve(split_sizes.size());
  int64_t start = 0;
  for (int64_t s : split_sizes) {
    out.push_back(x.narrow(dim, start, s));
    start += s;
  }
  return out;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim_in) {
  ATTO_CHECK(x.ndim() > 0, "[chunk] cannot chunk a 0-d tensor");
  ATTO_CHECK(chunks > 0, "[chunk] chunks must be positive, got {}", chunks);
  int dim = normalize_dim(dim_in, x.ndim(), "chunk");
  const int64_t n = x.shape()[dim];
  if (n == 0) return split(x, std::vector<int64_t>(size_t(chunks), 0), dim);   // PyTorch: `chunks` empty pieces
  return split(x, (n + chunks - 1) / chunks, dim);
}

}  // namespace atto
