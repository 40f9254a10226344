// autograd/functions/reduce.cpp -- reductions: each is laid out as rows (plan_reduction), reduced by
// a row kernel (tensor/cpu/reduce.h), and differentiated by broadcasting the gradient back.
#include "autograd/functions/reduce.h"

#include <array>
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
    ATTO_CHECK(!reduced[n], "[{}] dim {} appears twice in dims {}", op, n, dims_in);
    reduced[n] = true;
  }
  ReducePlan p;
  std::vector<int64_t> order;
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
  NoGradGuard no_grad;
  Tensor perm = nd > 0 ? x.permute(order) : x;
  p.rows = perm.contiguous().reshape({p.n_rows, p.R});
  return p;
}

namespace {

struct Sum {
  static constexpr const char* name = "SumBackward";
  struct Saved { Shape in_shape, keepdim_shape; };
  static Tensor forward(Saved& s, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
    ReducePlan p = plan_reduction(x, dims, keepdim, "sum");
    Tensor y = empty(p.out_shape, {.dtype = x.dtype(), .device = x.device()});
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

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) { return apply<Sum>(x, dims, keepdim); }

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  ATTO_CHECK(x.is_floating_point(), "[mean] expects a floating tensor, got {}", x.dtype());
  int64_t count = 1;
  if (dims.empty()) count = x.numel();
  else for (int64_t d : dims) count *= x.shape()[normalize_dim(d, x.ndim(), "mean")];
  return mul(sum(x, dims, keepdim), 1.0 / double(count));
}

Tensor Tensor::sum() const { return atto::sum(*this); }
Tensor Tensor::sum(const std::vector<int64_t>& dims, bool keepdim) const { return atto::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return atto::mean(*this); }
Tensor Tensor::mean(const std::vector<int64_t>& dims, bool keepdim) const { return atto::mean(*this, dims, keepdim); }

}  // namespace atto
