// autograd/functions/conv.cpp -- conv2d, max_pool2d and avg_pool2d as differentiable ops. The public
// functions check the arguments and work out the window geometry; the ops run the kernels of
// tensor/cpu/conv.h (im2col + gemm for the convolution, NOTE [ im2col layout ] there).
#include "autograd/functions/conv.h"

#include <array>

#include "autograd/function.h"
#include "tensor/cpu/conv.h"
#include "tensor/dispatch.h"

namespace atto {

namespace {

using cpu::Window2d;

// floor(a / b) for b > 0 (C++ division truncates toward zero).
int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// PyTorch's pooling_output_shape: the number of windows, with ceil_mode rounding up as long as the
// last window starts inside the input or its left/top padding.
int64_t pool_out_size(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dil, bool ceil_mode) {
  int64_t out = floor_div(in + 2 * pad - dil * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0), stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

Shape shape_of(const Tensor& t) { return t.defined() ? t.shape() : Shape{}; }

// stride, padding, dilation: given, positive (padding non-negative).
void check_window_args(const char* op, const char* what, Size2 v, bool allow_zero) {
  ATTO_CHECK(v.given, "[{}] {} must be given", op, what);
  ATTO_CHECK(allow_zero ? (v.h >= 0 && v.w >= 0) : (v.h > 0 && v.w > 0), "[{}] {} must be {}, got ({}, {})", op,
             what, allow_zero ? "non-negative" : "positive", v.h, v.w);
}

void check_input(const char* op, const Tensor& input) {
  ATTO_CHECK(input.defined(), "[{}] got an undefined input", op);
  ATTO_CHECK(input.ndim() == 3 || input.ndim() == 4,
             "[{}] expected a 3-D (unbatched [C, H, W]) or 4-D (batched [N, C, H, W]) input, got {}", op,
             input.shape());
  ATTO_CHECK(input.is_floating_point(), "[{}] expects a float32 or float64 input, got {} {}", op, input.dtype(),
             input.shape());
}

// ---- conv2d ---------------------------------------------------------------------------------------------

struct ConvParams {
  Window2d g;
  int64_t N = 0, Cout = 0, groups = 1;
};

struct Conv2d {
  static constexpr const char* name = "ConvolutionBackward";
  struct Saved : SavedBase {
    Tensor x, w;   // x is kept only for dweight, w only for dinput
    ConvParams p;
  };
  static Tensor forward(Saved& s, const Tensor& x_in, const Tensor& w_in, const Tensor& bias, const ConvParams& p) {
    Tensor x = x_in.contiguous(), w = w_in.contiguous(), b = bias.defined() ? bias.contiguous() : Tensor{};
    Tensor y = empty({p.N, p.Cout, p.g.oH, p.g.oW}, {.dtype = x.dtype(), .device = x.device()});
    if (y.numel() > 0)
      visit_floating(x.dtype(), "conv2d", [&](auto tag) {
        using T = decltype(tag);
        ATTO_ON_DEVICE(x.device(), conv2d_forward<T>, p.g, p.N, p.Cout, p.groups, x.data_ptr<T>(), w.data_ptr<T>(),
                       b.defined() ? b.data_ptr<T>() : nullptr, y.data_ptr<T>());
      });
    s.p = p;
    if (s.needs_input_grad(1)) s.x = x;
    if (s.needs_input_grad(0)) s.w = w;
    return y;
  }
  // forward: y[n] = W_g @ im2col(x[n])_g + bias per group (tensor/cpu/conv.h) =>
  //   dx = col2im(W_g^T @ dy_g),  dW_g = sum_n dy_g[n] @ im2col(x[n])_g^T,  dbias = dy summed over n, h, w.
  static std::array<Tensor, 3> backward(Saved& s, const Tensor& dy_in) {
    const ConvParams& p = s.p;
    Tensor dy = dy_in.contiguous();
    const TensorOptions opt{.dtype = dy.dtype(), .device = dy.device()};
    std::array<Tensor, 3> g;
    if (s.needs_input_grad(0)) g[0] = empty({p.N, p.g.C, p.g.H, p.g.W}, opt);
    if (s.needs_input_grad(1)) g[1] = empty({p.Cout, p.g.C / p.groups, p.g.kH, p.g.kW}, opt);
    if (s.needs_input_grad(2)) g[2] = empty({p.Cout}, opt);
    visit_floating(dy.dtype(), "conv2d", [&](auto tag) {
      using T = decltype(tag);
      auto ptr = [](const Tensor& t) { return t.defined() ? t.data_ptr<T>() : nullptr; };
      ATTO_ON_DEVICE(dy.device(), conv2d_backward<T>, p.g, p.N, p.Cout, p.groups, ptr(s.x), ptr(s.w),
                     dy.data_ptr<T>(), ptr(g[0]), ptr(g[1]), ptr(g[2]));
    });
    return g;
  }
};

// ---- max_pool2d / avg_pool2d ------------------------------------------------------------------------------

// The pools see [N, C, H, W] (or [C, H, W]) as planes of H x W.
struct PoolParams {
  Window2d g;
  int64_t planes = 0;
  Shape in_shape, out_shape;
};

struct MaxPool2d {
  static constexpr const char* name = "MaxPool2DWithIndicesBackward";
  struct Saved {
    Tensor idx;
    PoolParams p;
  };
  static Tensor forward(Saved& s, const Tensor& x_in, const PoolParams& p, Tensor* indices_out) {
    Tensor x = x_in.contiguous();
    Tensor y = empty(p.out_shape, {.dtype = x.dtype(), .device = x.device()});
    s.idx = empty(p.out_shape, {.dtype = kInt64, .device = x.device()});
    s.p = p;
    visit_floating(x.dtype(), "max_pool2d", [&](auto tag) {
      using T = decltype(tag);
      if (y.numel() > 0)
        ATTO_ON_DEVICE(x.device(), max_pool2d_forward<T>, p.g, p.planes, x.data_ptr<T>(), y.data_ptr<T>(),
                       s.idx.data_ptr<int64_t>());
    });
    if (indices_out) *indices_out = s.idx;
    return y;
  }
  // forward: y = x[idx] per window  =>  dx[idx] += dy.
  static std::array<Tensor, 1> backward(Saved& s, const Tensor& dy_in) {
    Tensor dy = dy_in.contiguous();
    Tensor dx = empty(s.p.in_shape, {.dtype = dy.dtype(), .device = dy.device()});
    visit_floating(dy.dtype(), "max_pool2d", [&](auto tag) {
      using T = decltype(tag);
      if (dx.numel() > 0)
        ATTO_ON_DEVICE(dy.device(), max_pool2d_backward<T>, s.p.g, s.p.planes, dy.data_ptr<T>(),
                       s.idx.data_ptr<int64_t>(), dx.data_ptr<T>());
    });
    return {dx};
  }
};

struct AvgPool2d {
  static constexpr const char* name = "AvgPool2DBackward";
  struct Saved {
    PoolParams p;
    bool count_include_pad = true;
    int64_t divisor_override = 0;   // 0: none
  };
  static Tensor forward(Saved& s, const Tensor& x_in, const PoolParams& p, bool count_include_pad,
                        int64_t divisor_override) {
    Tensor x = x_in.contiguous();
    Tensor y = empty(p.out_shape, {.dtype = x.dtype(), .device = x.device()});
    s = {p, count_include_pad, divisor_override};
    visit_floating(x.dtype(), "avg_pool2d", [&](auto tag) {
      using T = decltype(tag);
      if (y.numel() > 0)
        ATTO_ON_DEVICE(x.device(), avg_pool2d_forward<T>, p.g, p.planes, x.data_ptr<T>(), y.data_ptr<T>(),
                       count_include_pad, divisor_override);
    });
    return y;
  }
  // forward: y = sum(window) / divisor  =>  each pixel of the window gets dy / divisor.
  static std::array<Tensor, 1> backward(Saved& s, const Tensor& dy_in) {
    Tensor dy = dy_in.contiguous();
    Tensor dx = empty(s.p.in_shape, {.dtype = dy.dtype(), .device = dy.device()});
    visit_floating(dy.dtype(), "avg_pool2d", [&](auto tag) {
      using T = decltype(tag);
      if (dx.numel() > 0)
        ATTO_ON_DEVICE(dy.device(), avg_pool2d_backward<T>, s.p.g, s.p.planes, dy.data_ptr<T>(), dx.data_ptr<T>(),
                       s.count_include_pad, s.divisor_override);
    });
    return {dx};
  }
};

// Checks a pool's arguments and works out its geometry (PyTorch's pool2d_shape_check).
PoolParams pool_params(const char* op, const Tensor& input, Size2 kernel, Size2 stride, Size2 padding, Size2 dilation,
                       bool ceil_mode) {
  check_input(op, input);
  if (!stride.given) stride = kernel;
  check_window_args(op, "kernel_size", kernel, false);
  check_window_args(op, "stride", stride, false);
  check_window_args(op, "padding", padding, true);
  check_window_args(op, "dilation", dilation, false);
  ATTO_CHECK(padding.h <= kernel.h / 2 && padding.w <= kernel.w / 2,
             "[{}] padding ({}, {}) must be at most half the kernel size ({}, {})", op, padding.h, padding.w, kernel.h,
             kernel.w);
  const int nd = input.ndim();
  const int64_t C = input.shape()[nd - 3], H = input.shape()[nd - 2], W = input.shape()[nd - 1];
  ATTO_CHECK(C > 0 && H > 0 && W > 0, "[{}] expected non-empty channel and spatial dims (only N may be 0), got {}",
             op, input.shape());
  PoolParams p;
  Window2d& g = p.g;
  g = {.C = 1, .H = H, .W = W, .kH = kernel.h, .kW = kernel.w, .sH = stride.h, .sW = stride.w,
       .pH = padding.h, .pW = padding.w, .dH = dilation.h, .dW = dilation.w};
  g.oH = pool_out_size(H, g.kH, g.pH, g.sH, g.dH, ceil_mode);
  g.oW = pool_out_size(W, g.kW, g.pW, g.sW, g.dW, ceil_mode);
  ATTO_CHECK(g.oH > 0 && g.oW > 0,
             "[{}] output size would be {}x{} for input {} (kernel ({}, {}), stride ({}, {}), padding ({}, {}), "
             "dilation ({}, {})): too small",
             op, g.oH, g.oW, input.shape(), g.kH, g.kW, g.sH, g.sW, g.pH, g.pW, g.dH, g.dW);
  p.planes = input.numel() / (H * W);
  p.in_shape = input.shape();
  p.out_shape = input.shape();
  p.out_shape[nd - 2] = g.oH;
  p.out_shape[nd - 1] = g.oW;
  return p;
}

}  // namespace

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, Size2 stride, Size2 padding,
              Size2 dilation, int64_t groups) {
  check_input("conv2d", input);
  ATTO_CHECK(weight.defined() && weight.ndim() == 4,
             "[conv2d] expected weight with 4 dims [C_out, C_in/groups, kH, kW], got {}", shape_of(weight));
  check_same_device(input, weight, "conv2d");
  ATTO_CHECK(weight.dtype() == input.dtype(), "[conv2d] input is {} but weight is {}", input.dtype(), weight.dtype());
  check_window_args("conv2d", "stride", stride, false);
  check_window_args("conv2d", "padding", padding, true);
  check_window_args("conv2d", "dilation", dilation, false);
  ATTO_CHECK(groups > 0, "[conv2d] groups must be positive, got {}", groups);
  const bool batched = input.ndim() == 4;
  const Tensor x = batched ? input : input.unsqueeze(0);
  const Shape& ws = weight.shape();
  const int64_t C = x.shape()[1], H = x.shape()[2], W = x.shape()[3], Cout = ws[0];
  ATTO_CHECK(Cout % groups == 0, "[conv2d] weight {} has C_out = {}, which is not divisible by groups = {}", ws, Cout,
             groups);
  ATTO_CHECK(C == ws[1] * groups, "[conv2d] input {} has {} channels but weight {} expects {} (groups={})",
             input.shape(), C, ws, ws[1] * groups, groups);
  if (bias.defined()) {
    ATTO_CHECK(bias.ndim() == 1 && bias.shape()[0] == Cout, "[conv2d] bias must be [C_out] = [{}], got {} (weight {})",
               Cout, bias.shape(), ws);
    ATTO_CHECK(bias.dtype() == input.dtype(), "[conv2d] input is {} but bias is {}", input.dtype(), bias.dtype());
    check_same_device(input, bias, "conv2d");
  }
  ConvParams p;
  p.N = x.shape()[0];
  p.Cout = Cout;
  p.groups = groups;
  Window2d& g = p.g;
  g = {.C = C, .H = H, .W = W, .kH = ws[2], .kW = ws[3], .sH = stride.h, .sW = stride.w, .pH = padding.h,
       .pW = padding.w, .dH = dilation.h, .dW = dilation.w};
  g.oH = pool_out_size(H, g.kH, g.pH, g.sH, g.dH, false);
  g.oW = pool_out_size(W, g.kW, g.pW, g.sW, g.dW, false);
  ATTO_CHECK(g.oH > 0 && g.oW > 0,
             "[conv2d] output size would be {}x{}: input {} padded by ({}, {}) is {}x{} per channel, smaller than "
             "the kernel {}x{} with dilation ({}, {})",
             g.oH, g.oW, input.shape(), g.pH, g.pW, H + 2 * g.pH, W + 2 * g.pW, g.kH, g.kW, g.dH, g.dW);
  Tensor y = apply<Conv2d>(x, weight, bias, p);
  return batched ? y : y.squeeze(0);
}

Tensor max_pool2d(const Tensor& input, Size2 kernel_size, Size2 stride, Size2 padding, Size2 dilation,
                  bool ceil_mode) {
  PoolParams p = pool_params("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode);
  return apply<MaxPool2d>(input, p, static_cast<Tensor*>(nullptr));
}

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, Size2 kernel_size, Size2 stride,
                                                  Size2 padding, Size2 dilation, bool ceil_mode) {
  PoolParams p = pool_params("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode);
  Tensor indices;
  Tensor y = apply<MaxPool2d>(input, p, &indices);
  return {y, indices};
}

Tensor avg_pool2d(const Tensor& input, Size2 kernel_size, Size2 stride, Size2 padding, bool ceil_mode,
                  bool count_include_pad, std::optional<int64_t> divisor_override) {
  ATTO_CHECK(!divisor_override || *divisor_override != 0, "[avg_pool2d] divisor_override must be non-zero");
  PoolParams p = pool_params("avg_pool2d", input, kernel_size, stride, padding, 1, ceil_mode);
  return apply<AvgPool2d>(input, p, count_include_pad, divisor_override.value_or(0));
}

}  // namespace atto
