// nn/conv.h -- Conv2d, MaxPool2d and AvgPool2d modules over torch.nn.functional-style conv2d,
// max_pool2d and avg_pool2d (autograd/functions/conv.h), with PyTorch's options, defaults,
// parameter names and initialisation.
#pragma once
#include <optional>

#include "autograd/functions/conv.h"
#include "nn/module.h"

namespace atto::nn {

// weight (out_channels, in_channels / groups, kH, kW), bias (out_channels). Init (PyTorch):
// kaiming_uniform_(a = sqrt(5)) on the weight = U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias the same,
// fan_in = in_channels / groups * kH * kW. Only zero padding (padding_mode "zeros").
struct Conv2dOptions {
  int64_t in_channels = 0, out_channels = 0;
  Size2 kernel_size;
  Size2 stride = 1, padding = 0, dilation = 1;
  int64_t groups = 1;
  bool bias = true;
};
class Conv2d : public Module {
 public:
  explicit Conv2d(const Conv2dOptions& o);
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Size2 stride = 1, Size2 padding = 0)
      : Conv2d(Conv2dOptions{in_channels, out_channels, kernel_size, stride, padding}) {}
  void reset_parameters();
  Tensor forward(const Tensor& x) override;   // (N, C_in, H, W) or (C_in, H, W) -> (N, C_out, oH, oW)
  std::string extra_repr() const override;
  Conv2dOptions options;
  Tensor weight, bias;
};

struct MaxPool2dOptions {
  Size2 kernel_size;
  Size2 stride = {};   // not given: kernel_size
  Size2 padding = 0, dilation = 1;
  bool ceil_mode = false;
};
class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const MaxPool2dOptions& o);
  explicit MaxPool2d(Size2 kernel_size, Size2 stride = {}, Size2 padding = 0)
      : MaxPool2d(MaxPool2dOptions{kernel_size, stride, padding}) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  MaxPool2dOptions options;
};

struct AvgPool2dOptions {
  Size2 kernel_size;
  Size2 stride = {};   // not given: kernel_size
  Size2 padding = 0;
  bool ceil_mode = false, count_include_pad = true;
  std::optional<int64_t> divisor_override = std::nullopt;
};
class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(const AvgPool2dOptions& o);
  explicit AvgPool2d(Size2 kernel_size, Size2 stride = {}, Size2 padding = 0)
      : AvgPool2d(AvgPool2dOptions{kernel_size, stride, padding}) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  AvgPool2dOptions options;
};

}  // namespace atto::nn
