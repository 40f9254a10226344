// autograd/functions/fused.cpp -- see fused.h. The CUDA kernels are in cuda/fused.cu.
#include "autograd/functions/fused.h"

#include <array>

#include "autograd/function.h"
#include "autograd/functions/reduce.h"
#include "cuda/fused.h"
#include "tensor/dispatch.h"

namespace atto {

namespace {

// out = gelu(y + bias) on CUDA. Saves y and bias, not y + bias: the backward recomputes the sum.
struct BiasGelu {
  static constexpr const char* name = "BiasGeluBackward";
  static constexpr const char* op = "bias_gelu";
  struct Saved : SavedBase {
    Tensor y, bias;
    int64_t rows = 0, n = 0;
    bool tanh_approx = false;
  };
  static Tensor forward(Saved& s, const Tensor& y, const Tensor& bias, GeluApprox approximate) {
    s.y = y.contiguous();         // (rows, n)
    s.bias = bias.contiguous();   // (n)
    s.n = bias.numel();
    s.rows = s.n == 0 ? 0 : y.numel() / s.n;
    s.tanh_approx = approximate == GeluApprox::Tanh;
    Tensor out = empty_like(s.y);
    visit_floating(y.dtype(), op, [&](auto tag) {
      using T [[maybe_unused]] = decltype(tag);   // unused where ATTO_CUDA_ONLY drops its arguments
      ATTO_CUDA_ONLY(bias_gelu_forward<T>, s.y.data_ptr<T>(), s.bias.data_ptr<T>(), out.data_ptr<T>(), s.rows, s.n,
                     s.tanh_approx);
    });
    return out;
  }
  // dz = dout * gelu'(y + bias);  dy = dz;  dbias = sum of dz over the rows.
  static std::array<Tensor, 2> backward(Saved& s, const Tensor& dout_in) {
    Tensor dout = dout_in.contiguous();
    Tensor dz = empty_like(s.y);
    visit_floating(s.y.dtype(), op, [&](auto tag) {
      using T [[maybe_unused]] = decltype(tag);   // unused where ATTO_CUDA_ONLY drops its arguments
      ATTO_CUDA_ONLY(bias_gelu_backward<T>, s.y.data_ptr<T>(), s.bias.data_ptr<T>(), dout.data_ptr<T>(),
                     dz.data_ptr<T>(), s.rows, s.n, s.tanh_approx);
    });
    Tensor dbias = s.needs_input_grad(1) ? sum(dz.reshape({s.rows, s.n}), {0}) : Tensor();
    return {dz, dbias};
  }
};

}  // namespace

Tensor bias_gelu(const Tensor& y, const Tensor& bias, GeluApprox approximate) {
  constexpr const char* op = "bias_gelu";
  ATTO_CHECK(y.defined() && bias.defined() && y.ndim() >= 1 && bias.ndim() == 1 && bias.size(0) == y.size(-1),
             "[{}] expects y (..., N) and bias (N), got {} and {}", op, y.defined() ? y.shape() : Shape{},
             bias.defined() ? bias.shape() : Shape{});
  ATTO_CHECK(y.is_floating_point() && y.dtype() == bias.dtype(),
             "[{}] y and bias must share one floating dtype, got {} and {}", op, y.dtype(), bias.dtype());
  check_same_device(y, bias, op);
  if (y.device().is_cuda() && y.numel() > 0) return apply<BiasGelu>(y, bias, approximate);
  return gelu(add(y, bias), approximate);
}

}  // namespace atto
