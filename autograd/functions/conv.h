// autograd/functions/conv.h -- 2-D convolution and pooling, torch.nn.functional's conv2d, max_pool2d
// and avg_pool2d: same argument order, defaults and output sizes. Kernels: tensor/cpu/conv.h.
//
// Inputs are NCHW [N, C, H, W], or unbatched [C, H, W] (the result is then unbatched too); any
// strides (an NHWC tensor permuted to NCHW works, at the cost of one copy). float32 or float64.
#pragma once
#include <cstdint>
#include <optional>
#include <utility>

#include "tensor/tensor.h"

namespace atto {

// A (height, width) pair, written as in PyTorch: 3 means {3, 3}; {3, 1} is 3 high, 1 wide.
// Default-constructed it is "not given" (PyTorch's None), which the pools' stride uses.
struct Size2 {
  int64_t h = 0, w = 0;
  bool given = false;
  Size2() = default;
  Size2(int64_t v) : h(v), w(v), given(true) {}   // NOLINT: implicit, as PyTorch's int-or-tuple
  Size2(int64_t h, int64_t w) : h(h), w(w), given(true) {}
};

// F.conv2d: out[n, co] = bias[co] + sum over the C/groups channels ci of group(co) of
// cross_correlation(input[n, ci], weight[co, ci]), with zero padding. Shapes:
//   input  [N, C_in, H, W]  or [C_in, H, W]
//   weight [C_out, C_in / groups, kH, kW]
//   bias   [C_out], optional (an undefined Tensor for none)
//   out    [N, C_out, oH, oW],  oH = (H + 2 * padding.h - dilation.h * (kH - 1) - 1) / stride.h + 1 (floor)
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, Size2 stride = 1,
              Size2 padding = 0, Size2 dilation = 1, int64_t groups = 1);

// F.max_pool2d: the max of each kernel_size window (padding never wins: it acts as -inf). stride
// defaults to kernel_size; padding must be at most half the kernel. ceil_mode rounds the output size
// up, keeping only windows that start inside the input or its left/top padding. The gradient goes
// to the first max of each window (NaN counts as the max).
Tensor max_pool2d(const Tensor& input, Size2 kernel_size, Size2 stride = {}, Size2 padding = 0, Size2 dilation = 1,
                  bool ceil_mode = false);
// Also returns the int64 indices (h * W + w within each plane) of the maxima, as return_indices=True.
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, Size2 kernel_size, Size2 stride = {},
                                                  Size2 padding = 0, Size2 dilation = 1, bool ceil_mode = false);

// F.avg_pool2d: the mean of each window. The divisor is the window's size clipped to the padded
// input (count_include_pad) or to the input itself (not counting padding), or divisor_override.
Tensor avg_pool2d(const Tensor& input, Size2 kernel_size, Size2 stride = {}, Size2 padding = 0,
                  bool ceil_mode = false, bool count_include_pad = true,
                  std::optional<int64_t> divisor_override = std::nullopt);

}  // namespace atto
