// autograd/functions/reduce.cpp -- reductions: each is laid out as rows (plan_reduction), reduced by
// a row kernel (tensor/cpu/reduce.h), and differentiated by a row kernel on the same layout
// (unplan_rows maps that gradient back) or by broadcasting the gradient back.
#include "autograd/functions/reduce.h"

#include <array>
#include <cmath>
#include <numeric>

#include "autograd/function.h"
#include "autograd/functions/broadcast.h"
#include "autograd/functions/elementwise.h"
#include "tensor/cpu/reduce.h"
#include "tensor/dispatch.h"

namespace atto {

ReducePlan plan_reduction(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim, const char* op) {
  const int nd = x.ndim();
  std::vector<bool> reduced(nd, dims_in.empty());
  for (int64_t d : dims_in) {
    int n = normalize_dim(d, nd, op);
    if (nd == 0) continue;   // a 0-d tensor accepts dim 0 / -1 and has nothing to reduce
    ATTO_CHECK(!reduced[n], "[{}] dim {} appears twice in dims {}", op, n, dims_in);
    reduced[n] = true;
  }
  ReducePlan p;
  p.in_shape = x.shape();
  std::vector<int64_t> order;
  order.reserve(nd);
  for (int d = 0; d < nd; ++d)
    if (!reduced[d]) {
      order.push_back(d);
      p.n_rows *= x.shape()[d];
      p.out_shape.push_back(x.shape()[d]);
      p.keepdim_shape.push_back(x.shape()[d]);
    } else {
      if (keepdim) p.out_shape.push_back(1);
      p.keepdim_shape.push_back(1);
    }
  for (int d = 0; d < nd; ++d)
    if (reduced[d]) {
      order.push_back(d);
      p.R *= x.shape()[d];
    }
  bool identity = true;
  for (int d = 0; d < nd; ++d) identity = identity && order[d] == d;
  if (!identity) p.order = std::move(order);
  NoGradGuard no_grad;
  Tensor perm = p.order.empty() ? x : x.permute(p.order);
  p.rows = perm.contiguous().reshape({p.n_rows, p.R});
  return p;
}

Tensor unplan_rows(const Tensor& rows, const ReducePlan& p) {
  if (p.order.empty()) return rows.reshape(p.in_shape);
  Shape perm_shape = p.in_shape;
  std::vector<int64_t> inverse(p.order.size());
  for (size_t i = 0; i < p.order.size(); ++i) {
    perm_shape[int(i)] = p.in_shape[int(p.order[i])];
    inverse[size_t(p.order[i])] = int64_t(i);
  }
  return rows.reshape(perm_shape).permute(inverse).contiguous();
}

namespace {

// A (n_rows, R) tensor for a backward kernel to fill.
Tensor empty_rows(const ReducePlan& p) {
  return empty({p.n_rows, p.R}, {.dtype = p.rows.dtype(), .device = p.rows.device()});
}

Tensor empty_out(const ReducePlan& p, DType dtype) {
  return empty(p.out_shape, {.dtype = dtype, .device = p.rows.device()});
}

// ---- sum --------------------------------------------------------------------------------------------

struct Sum {
  static constexpr const char* name = "SumBackward";
  struct Saved { Shape in_shape, keepdim_shape; };
  // Summing the leading dims of a contiguous tensor (a bias gradient: (N, C) -> (C)) is a column sum:
  // done in place, instead of copying the transpose to lay it out as rows. Undefined otherwise.
  static Tensor sum_leading_dims(Saved& s, const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
    const int nd = x.ndim();
    if (dims_in.empty() || nd < 2 || !x.is_contiguous() || x.dtype() == kBool) return {};
    std::vector<bool> reduced(size_t(nd), false);
    for (int64_t d : dims_in) {
      const int n = normalize_dim(d, nd, "sum");
      if (reduced[size_t(n)]) return {};   // the general path reports the error
      reduced[size_t(n)] = true;
    }
    int64_t lead = 0;
    while (lead < nd && reduced[size_t(lead)]) ++lead;
    if (lead == 0 || lead == nd || int64_t(dims_in.size()) != lead) return {};
    int64_t R = 1, cols = 1;
    Shape out_shape, keepdim_shape;
    for (int d = 0; d < nd; ++d) {
      (d < lead ? R : cols) *= x.shape()[d];
      if (d >= lead || keepdim) out_shape.push_back(d < lead ? 1 : x.shape()[d]);
      keepdim_shape.push_back(d < lead ? 1 : x.shape()[d]);
    }
    Tensor y = empty(out_shape, {.dtype = x.dtype(), .device = x.device()});
    visit_numeric(x.dtype(), "sum", [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(x.device(), sum_columns<T>, x.data_ptr<T>(), y.data_ptr<T>(), R, cols);
    });
    s = {x.shape(), keepdim_shape};
    return y;
  }
  static Tensor forward(Saved& s, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
    if (Tensor y = sum_leading_dims(s, x, dims, keepdim); y.defined()) return y;
    ReducePlan p = plan_reduction(x, dims, keepdim, "sum");
    Tensor y = empty_out(p, x.dtype());
    visit_numeric(x.dtype(), "sum", [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(x.device(), sum_rows<T>, p.rows.data_ptr<T>(), y.data_ptr<T>(), p.n_rows, p.R);
    });
    s = {x.shape(), p.keepdim_shape};
    return y;
  }
  // forward: y[kept] = sum over reduced dims of x   =>   dx = dy broadcast back over those dims
  static std::array<Tensor, 1> backward(Saved& s, const Tensor& dy) {
    return {dy.reshape(s.keepdim_shape).expand(s.in_shape).contiguous()};
  }
};

// ---- var / std --------------------------------------------------------------------------------------

struct Var {
  static constexpr const char* name = "VarBackward";
  struct Saved { ReducePlan p; Tensor mean, y; int64_t correction = 1; bool is_std = false; };
  static Tensor forward(Saved& s, const Tensor& x, const std::vector<int64_t>& dims, bool unbiased, bool keepdim,
                        bool is_std) {
    const char* op = is_std ? "std" : "var";
    s.p = plan_reduction(x, dims, keepdim, op);
    s.correction = unbiased ? 1 : 0;
    s.is_std = is_std;
    s.y = empty_out(s.p, x.dtype());
    s.mean = empty_out(s.p, x.dtype());
    visit_floating(x.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(x.device(), var_rows<T>, s.p.rows.data_ptr<T>(), s.y.data_ptr<T>(), s.mean.data_ptr<T>(),
                     s.p.n_rows, s.p.R, s.correction, is_std);
    });
    return s.y;
  }
  // forward: var = sum_j (x_j - mean)^2 / (N - c), std = sqrt(var)   (formulas at var_backward_rows)
  static std::array<Tensor, 1> backward(Saved& s, const Tensor& dy_in) {
    Tensor dy = dy_in.contiguous(), dx = empty_rows(s.p);
    visit_floating(dx.dtype(), s.is_std ? "std" : "var", [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(dx.device(), var_backward_rows<T>, s.p.rows.data_ptr<T>(), s.mean.data_ptr<T>(),
                     s.y.data_ptr<T>(), dy.data_ptr<T>(), dx.data_ptr<T>(), s.p.n_rows, s.p.R, s.correction, s.is_std);
    });
    return {unplan_rows(dx, s.p)};
  }
};

// ---- max / min ----------------------------------------------------------------------------------------

template <bool IsMax> constexpr const char* ext_op = IsMax ? "max" : "min";

// (Outside the templates, so that s.y.data_ptr<T>() needs no `template` keyword.)
struct ExtremumAllSaved { ReducePlan p; Tensor y; };
struct ExtremumDimSaved { ReducePlan p; Tensor indices; };

// max(x) / min(x) over every element: y = x_k for the extreme k.
template <bool IsMax> struct ExtremumAll {
  static constexpr const char* name = IsMax ? "MaxBackward" : "MinBackward";
  using Saved = ExtremumAllSaved;
  static Tensor forward(Saved& s, const Tensor& x) {
    ATTO_CHECK(x.numel() > 0, "[{}] expects a non-empty tensor, got shape {}", ext_op<IsMax>, x.shape());
    s.p = plan_reduction(x, {}, false, ext_op<IsMax>);
    s.y = empty_out(s.p, x.dtype());
    visit_numeric(x.dtype(), ext_op<IsMax>, [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(x.device(), extremum_rows<T>, s.p.rows.data_ptr<T>(), s.y.data_ptr<T>(), nullptr,
                     s.p.n_rows, s.p.R, IsMax);
    });
    return s.y;
  }
  // forward: y = max_j x_j  =>  dy/dx_j = 1/count at the elements equal to y (ties share), else 0
  static std::array<Tensor, 1> backward(Saved& s, const Tensor& dy_in) {
    Tensor dy = dy_in.contiguous(), dx = empty_rows(s.p);
    visit_floating(dx.dtype(), ext_op<IsMax>, [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(dx.device(), distribute_rows<T>, s.p.rows.data_ptr<T>(), s.y.data_ptr<T>(), dy.data_ptr<T>(),
                     dx.data_ptr<T>(), s.p.n_rows, s.p.R, false);
    });
    return {unplan_rows(dx, s.p)};
  }
};

// Values and indices of the extreme along one dim (no autograd): the shared forward of
// max/min(dim) and argmax/argmin. A null `values` asks for indices only.
template <bool IsMax>
ReducePlan extremum_dim(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, const char* op,
                        Tensor* values, Tensor& indices) {
  ReducePlan p = plan_reduction(x, dims, keepdim, op);
  ATTO_CHECK(p.R > 0, "[{}] cannot reduce over an empty dimension: input shape {}, dims {}", op, x.shape(), dims);
  indices = empty_out(p, kInt64);
  if (values) *values = empty_out(p, x.dtype());
  visit_numeric(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    ATTO_ON_DEVICE(x.device(), extremum_rows<T>, p.rows.data_ptr<T>(), values ? values->data_ptr<T>() : nullptr,
                   indices.data_ptr<int64_t>(), p.n_rows, p.R, IsMax);
  });
  return p;
}

template <bool IsMax> struct ExtremumDim {
  static constexpr const char* name = IsMax ? "MaxBackward" : "MinBackward";
  using Saved = ExtremumDimSaved;
  static Tensor forward(Saved& s, const Tensor& x, int64_t dim, bool keepdim, Tensor* indices_out) {
    Tensor values;
    s.p = extremum_dim<IsMax>(x, {dim}, keepdim, ext_op<IsMax>, &values, s.indices);
    *indices_out = s.indices;
    return values;
  }
  // forward: y = x[idx] along dim  =>  dx = dy at idx, 0 elsewhere
  static std::array<Tensor, 1> backward(Saved& s, const Tensor& dy_in) {
    Tensor dy = dy_in.contiguous(), dx = empty_rows(s.p);
    visit_floating(dx.dtype(), ext_op<IsMax>, [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(dx.device(), scatter_rows<T>, s.indices.data_ptr<int64_t>(), dy.data_ptr<T>(), dx.data_ptr<T>(),
                     s.p.n_rows, s.p.R);
    });
    return {unplan_rows(dx, s.p)};
  }
};

template <bool IsMax> ValuesIndices extremum_along(const Tensor& x, int64_t dim, bool keepdim) {
  ValuesIndices out;
  out.values = apply<ExtremumDim<IsMax>>(x, dim, keepdim, &out.indices);
  return out;
}

template <bool IsMax> Tensor arg_extremum(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  const char* op = IsMax ? "argmax" : "argmin";
  std::vector<int64_t> dims;
  if (dim) dims.push_back(*dim);
  // No dim: the index into the flattened tensor; with keepdim every dim stays as 1 (as PyTorch).
  Tensor indices;
  extremum_dim<IsMax>(x, dims, keepdim, op, nullptr, indices);
  return indices;
}

// ---- logsumexp ----------------------------------------------------------------------------------------

struct LogSumExp {
  static constexpr const char* name = "LogsumexpBackward";
  struct Saved { ReducePlan p; Tensor y; };
  static Tensor forward(Saved& s, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
    s.p = plan_reduction(x, dims, keepdim, "logsumexp");
    s.y = empty_out(s.p, x.dtype());
    visit_floating(x.dtype(), "logsumexp", [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(x.device(), logsumexp_rows<T>, s.p.rows.data_ptr<T>(), s.y.data_ptr<T>(), s.p.n_rows, s.p.R);
    });
    return s.y;
  }
  // forward: y = log sum_j exp(x_j)  =>  dx_j = dy * exp(x_j - y)
  static std::array<Tensor, 1> backward(Saved& s, const Tensor& dy_in) {
    Tensor dy = dy_in.contiguous(), dx = empty_rows(s.p);
    visit_floating(dx.dtype(), "logsumexp", [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(dx.device(), logsumexp_backward_rows<T>, s.p.rows.data_ptr<T>(), s.y.data_ptr<T>(),
                     dy.data_ptr<T>(), dx.data_ptr<T>(), s.p.n_rows, s.p.R);
    });
    return {unplan_rows(dx, s.p)};
  }
};

// ---- norm ---------------------------------------------------------------------------------------------

struct Norm {
  static constexpr const char* name = "NormBackward";
  struct Saved { ReducePlan p; Tensor y; double p_norm = 2.0; };
  static Tensor forward(Saved& s, const Tensor& x, double p, const std::vector<int64_t>& dims, bool keepdim) {
    ATTO_CHECK(p > 0, "[norm] p must be positive or INFINITY, got {} (input shape {})", p, x.shape());
    s.p = plan_reduction(x, dims, keepdim, "norm");
    s.p_norm = p;
    s.y = empty_out(s.p, x.dtype());
    visit_floating(x.dtype(), "norm", [&](auto tag) {
      using T = decltype(tag);
      ATTO_ON_DEVICE(x.device(), norm_rows<T>, s.p.rows.data_ptr<T>(), s.y.data_ptr<T>(), s.p.n_rows, s.p.R, p);
    });
    return s.y;
  }
  // forward: y = (sum_j |x_j|^p)^(1/p)  =>  dx_j = dy sgn(x_j) |x_j|^(p-1) / y^(p-1)   (norm_backward_rows);
  //          y = max_j |x_j| (p = inf)  =>  dx_j = dy sgn(x_j) / count at the maxima  (distribute_rows)
  static std::array<Tensor, 1> backward(Saved& s, const Tensor& dy_in) {
    Tensor dy = dy_in.contiguous(), dx = empty_rows(s.p);
    visit_floating(dx.dtype(), "norm", [&](auto tag) {
      using T = decltype(tag);
      if (std::isinf(s.p_norm))
        ATTO_ON_DEVICE(dx.device(), distribute_rows<T>, s.p.rows.data_ptr<T>(), s.y.data_ptr<T>(), dy.data_ptr<T>(),
                       dx.data_ptr<T>(), s.p.n_rows, s.p.R, true);
      else
        ATTO_ON_DEVICE(dx.device(), norm_backward_rows<T>, s.p.rows.data_ptr<T>(), s.y.data_ptr<T>(),
                       dy.data_ptr<T>(), dx.data_ptr<T>(), s.p.n_rows, s.p.R, s.p_norm);
    });
    return {unplan_rows(dx, s.p)};
  }
};

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) { return apply<Sum>(x, dims, keepdim); }

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  ATTO_CHECK(x.is_floating_point(), "[mean] expects a floating tensor, got {}", x.dtype());
  int64_t count = 1;
  if (dims.empty()) count = x.numel();
  else for (int64_t d : dims) count *= x.ndim() == 0 ? 1 : x.shape()[normalize_dim(d, x.ndim(), "mean")];
  return mul(sum(x, dims, keepdim), 1.0 / double(count));
}

Tensor var(const Tensor& x, const std::vector<int64_t>& dims, bool unbiased, bool keepdim) {
  return apply<Var>(x, dims, unbiased, keepdim, false);
}
Tensor std(const Tensor& x, const std::vector<int64_t>& dims, bool unbiased, bool keepdim) {
  return apply<Var>(x, dims, unbiased, keepdim, true);
}

Tensor max(const Tensor& x) { return apply<ExtremumAll<true>>(x); }
Tensor min(const Tensor& x) { return apply<ExtremumAll<false>>(x); }
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim) { return extremum_along<true>(x, dim, keepdim); }
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim) { return extremum_along<false>(x, dim, keepdim); }
Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) { return arg_extremum<true>(x, dim, keepdim); }
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) { return arg_extremum<false>(x, dim, keepdim); }

Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return apply<LogSumExp>(x, dims, keepdim);
}

Tensor norm(const Tensor& x, double p, const std::vector<int64_t>& dims, bool keepdim) {
  return apply<Norm>(x, p, dims, keepdim);
}

Tensor Tensor::sum() const { return atto::sum(*this); }
Tensor Tensor::sum(const std::vector<int64_t>& dims, bool keepdim) const { return atto::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return atto::mean(*this); }
Tensor Tensor::mean(const std::vector<int64_t>& dims, bool keepdim) const { return atto::mean(*this, dims, keepdim); }
Tensor Tensor::argmax(int64_t dim, bool keepdim) const { return atto::argmax(*this, dim, keepdim); }

}  // namespace atto
