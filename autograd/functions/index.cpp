// autograd/functions/index.cpp -- index_select, gather, scatter_add, embedding, one_hot (see index.h).
// Kernels: tensor/cpu/index.h. Every index is range-checked here, before a kernel runs.
#include "autograd/functions/index.h"

#include <array>

#include "autograd/function.h"
#include "tensor/cpu/index.h"
#include "tensor/dispatch.h"

namespace atto {

namespace {

void check_index_tensor(const Tensor& x, const Tensor& index, const char* op) {
  ATTO_CHECK(index.defined(), "[{}] index is an undefined tensor", op);
  ATTO_CHECK(index.dtype() == kInt64, "[{}] index must be int64, got {} (shape {})", op, index.dtype(), index.shape());
  check_same_device(x, index, op);
}

// Host-side contiguous indices, for checks that must throw before any kernel runs.
Tensor host_indices(const Tensor& index) { return index.to(kCPU).contiguous(); }

// Throws unless every index lies in [0, n). `what` says what n counts, for the message.
void check_index_range(const Tensor& index, int64_t n, const char* op, const std::string& what) {
  Tensor c = host_indices(index);
  auto [lo, hi] = cpu::index_min_max(c.data_ptr<int64_t>(), c.numel());
  if (c.numel() == 0) return;
  int64_t bad = lo < 0 ? lo : hi;
  ATTO_CHECK(lo >= 0 && hi < n, "[{}] index {} is out of range for {} (valid range [0, {}))", op, bad, what, n);
}

// A view of t with `shape` (each size <= t's) and t's strides: the leading corner of t.
Tensor corner(const Tensor& t, const Shape& shape) { return make_view(t, shape, t.strides(), t.storage_offset()); }

// y = x.index_select(dim, index) seen as (outer, n, inner) -> (outer, k, inner); out_shape is y's
// shape (embedding puts the index's shape in front of embedding_dim). Skip is a row that gets no
// gradient (embedding's padding_idx), or -1.
struct IndexRowsSaved { Tensor index; Shape in_shape; int dim = 0; int64_t skip = -1; };
template <bool kEmbedding> struct IndexRows {
  static constexpr const char* name = kEmbedding ? "EmbeddingBackward" : "IndexSelectBackward";
  using Saved = IndexRowsSaved;
  static Tensor forward(Saved& s, const Tensor& x, int dim, const Tensor& index, int64_t skip, const Shape& out_shape) {
    Tensor xc = x.contiguous();
    Tensor y = empty(out_shape, {.dtype = x.dtype(), .device = x.device()});
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < dim; ++d) outer *= x.shape()[d];
    for (int d = dim + 1; d < x.ndim(); ++d) inner *= x.shape()[d];
    visit_dtype(x.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(x.device(), index_select_rows<T>, xc.data_ptr<T>(), index.data_ptr<int64_t>(), y.data_ptr<T>(),
                     outer, x.shape()[dim], inner, index.numel());
    });
    s = {index, x.shape(), dim, skip};
    return y;
  }
  // forward: y[o, j, :] = x[o, index[j], :]   =>   dx[o, index[j], :] += dy[o, j, :]
  static std::array<Tensor, 2> backward(Saved& s, const Tensor& dy) {
    Tensor dyc = dy.contiguous();
    Tensor dx = zeros(s.in_shape, {.dtype = dy.dtype(), .device = dy.device()});
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < s.dim; ++d) outer *= s.in_shape[d];
    for (int d = s.dim + 1; d < s.in_shape.size(); ++d) inner *= s.in_shape[d];
    visit_floating(dy.dtype(), name, [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(dy.device(), index_add_rows<T>, dx.data_ptr<T>(), s.index.data_ptr<int64_t>(),
                     dyc.data_ptr<T>(), outer, s.in_shape[s.dim], inner, s.index.numel(), s.skip);
    });
    return {dx, Tensor()};
  }
};

struct Gather {
  static constexpr const char* name = "GatherBackward";
  struct Saved { Tensor index; Shape in_shape; int dim = 0; };
  static Tensor forward(Saved& s, const Tensor& x, int dim, const Tensor& index) {
    Tensor y = empty(index.shape(), {.dtype = x.dtype(), .device = x.device()});
    Shape xs = index.shape();
    xs[dim] = x.shape()[dim];
    visit_dtype(x.dtype(), "gather", [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(x.device(), gather<T>, y.view(), corner(x, xs).view(), index.view(), dim);
    });
    s = {index, x.shape(), dim};
    return y;
  }
  // forward: y[p] = x[p with p[dim] = index[p]]   =>   dx[p with p[dim] = index[p]] += dy[p]
  static std::array<Tensor, 2> backward(Saved& s, const Tensor& dy) {
    Tensor dx = zeros(s.in_shape, {.dtype = dy.dtype(), .device = dy.device()});
    visit_floating(dy.dtype(), "gather", [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(dy.device(), scatter_add<T>, dx.view(), s.index.view(), dy.view(), s.dim);
    });
    return {dx, Tensor()};
  }
};

struct ScatterAdd {
  static constexpr const char* name = "ScatterAddBackward";
  struct Saved : SavedBase { Tensor index; Shape src_shape; int dim = 0; };
  static Tensor forward(Saved& s, const Tensor& x, int dim, const Tensor& index, const Tensor& src) {
    Tensor y = empty_like(x);
    y.copy_(x);
    visit_numeric(x.dtype(), "scatter_add", [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(x.device(), scatter_add<T>, y.view(), index.view(), corner(src, index.shape()).view(), dim);
    });
    s.index = index;
    s.src_shape = src.shape();
    s.dim = dim;
    return y;
  }
  // forward: y = x;  y[p with p[dim] = index[p]] += src[p]   =>   dx = dy,  dsrc[p] = dy[p with p[dim] = index[p]]
  // (zero where src is larger than index).
  static std::array<Tensor, 3> backward(Saved& s, const Tensor& dy) {
    std::array<Tensor, 3> grads;
    if (s.needs_input_grad(0)) grads[0] = dy;
    if (s.needs_input_grad(2)) {
      Tensor g = gather(dy, s.dim, s.index);
      if (g.shape() == s.src_shape) {
        grads[2] = g;
      } else {
        grads[2] = zeros(s.src_shape, {.dtype = dy.dtype(), .device = dy.device()});
        corner(grads[2], g.shape()).copy_(g);
      }
    }
    return grads;
  }
};

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim_in, const Tensor& index) {
  check_index_tensor(x, index, "index_select");
  ATTO_CHECK(index.ndim() <= 1, "[index_select] index must be 1-d, got shape {}", index.shape());
  if (x.ndim() == 0) {   // PyTorch: one index into a 0-d tensor gives a 0-d tensor
    ATTO_CHECK(index.numel() == 1, "[index_select] a 0-d x takes exactly one index, got shape {}", index.shape());
    return index_select(x.reshape({1}), dim_in, index).reshape({});
  }
  int dim = normalize_dim(dim_in, x.ndim(), "index_select");
  check_index_range(index, x.shape()[dim], "index_select",
                    fmt::format("dim {} of size {} (x shape {})", dim, x.shape()[dim], x.shape()));
  Shape out = x.shape();
  out[dim] = index.numel();
  return apply<IndexRows<false>>(x, dim, index.contiguous().reshape({index.numel()}), int64_t(-1), out);
}

Tensor embedding(const Tensor& weight, const Tensor& indices, std::optional<int64_t> padding_idx) {
  check_index_tensor(weight, indices, "embedding");
  ATTO_CHECK(weight.ndim() == 2, "[embedding] weight must be 2-d (num_embeddings, embedding_dim), got shape {}",
             weight.shape());
  const int64_t n = weight.shape()[0];
  int64_t skip = -1;
  if (padding_idx) {
    skip = *padding_idx < 0 ? *padding_idx + n : *padding_idx;
    ATTO_CHECK(skip >= 0 && skip < n, "[embedding] padding_idx {} is out of range for {} embeddings (weight shape {})",
               *padding_idx, n, weight.shape());
  }
  check_index_range(indices, n, "embedding", fmt::format("{} embeddings (weight shape {})", n, weight.shape()));
  Shape out = indices.shape();
  out.push_back(weight.shape()[1]);
  return apply<IndexRows<true>>(weight, 0, indices.contiguous().reshape({indices.numel()}), skip, out);
}

Tensor gather(const Tensor& x, int64_t dim_in, const Tensor& index) {
  check_index_tensor(x, index, "gather");
  ATTO_CHECK(index.ndim() == x.ndim(), "[gather] index must have as many dims as x: x is {}, index is {}", x.shape(),
             index.shape());
  if (x.ndim() == 0) return gather(x.reshape({1}), dim_in, index.reshape({1})).reshape({});
  int dim = normalize_dim(dim_in, x.ndim(), "gather");
  for (int d = 0; d < x.ndim(); ++d)
    ATTO_CHECK(d == dim || index.shape()[d] <= x.shape()[d],
               "[gather] index size {} exceeds x size {} at dim {} (x is {}, index is {}, gather dim {})",
               index.shape()[d], x.shape()[d], d, x.shape(), index.shape(), dim);
  check_index_range(index, x.shape()[dim], "gather",
                    fmt::format("dim {} of size {} (x shape {})", dim, x.shape()[dim], x.shape()));
  return apply<Gather>(x, dim, index);
}

Tensor scatter_add(const Tensor& x, int64_t dim_in, const Tensor& index, const Tensor& src) {
  check_index_tensor(x, index, "scatter_add");
  check_same_device(x, src, "scatter_add");
  ATTO_CHECK(src.dtype() == x.dtype(), "[scatter_add] src is {} but x is {}", src.dtype(), x.dtype());
  ATTO_CHECK(index.ndim() == x.ndim() && src.ndim() == x.ndim(),
             "[scatter_add] x, index and src must have the same number of dims: x is {}, index is {}, src is {}",
             x.shape(), index.shape(), src.shape());
  if (x.ndim() == 0)
    return scatter_add(x.reshape({1}), dim_in, index.reshape({1}), src.reshape({1})).reshape({});
  int dim = normalize_dim(dim_in, x.ndim(), "scatter_add");
  for (int d = 0; d < x.ndim(); ++d)
    ATTO_CHECK(index.shape()[d] <= src.shape()[d] && (d == dim || index.shape()[d] <= x.shape()[d]),
               "[scatter_add] index {} is too large at dim {} for x {} and src {} (scatter dim {})", index.shape(), d,
               x.shape(), src.shape(), dim);
  check_index_range(index, x.shape()[dim], "scatter_add",
                    fmt::format("dim {} of size {} (x shape {})", dim, x.shape()[dim], x.shape()));
  return apply<ScatterAdd>(x, dim, index, src);
}

Tensor one_hot(const Tensor& indices, int64_t num_classes) {
  ATTO_CHECK(indices.dtype() == kInt64, "[one_hot] indices must be int64, got {} (shape {})", indices.dtype(),
             indices.shape());
  Tensor c = host_indices(indices);
  auto [lo, hi] = cpu::index_min_max(c.data_ptr<int64_t>(), c.numel());
  if (num_classes == -1) {
    ATTO_CHECK(c.numel() > 0, "[one_hot] cannot infer num_classes from an empty tensor of shape {}", indices.shape());
    num_classes = hi + 1;
  }
  ATTO_CHECK(num_classes >= 0, "[one_hot] num_classes must be -1 or non-negative, got {}", num_classes);
  ATTO_CHECK(c.numel() == 0 || (lo >= 0 && hi < num_classes),
             "[one_hot] class value {} is out of range for {} classes (valid range [0, {}))", lo < 0 ? lo : hi,
             num_classes, num_classes);
  Shape out = indices.shape();
  out.push_back(num_classes);
  Tensor y = zeros(out, {.dtype = kInt64, .device = indices.device()});
  Tensor ci = indices.contiguous();
  ATTO_ON_DEVICE(indices.device(), one_hot, ci.data_ptr<int64_t>(), y.data_ptr<int64_t>(), ci.numel(), num_classes);
  return y;
}

}  // namespace atto
