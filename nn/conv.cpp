// nn/conv.cpp -- see conv.h.
#include "nn/conv.h"

#include <cmath>

#include "nn/init.h"

namespace atto::nn {

static std::string pair_repr(Size2 s) { return fmt::format("({}, {})", s.h, s.w); }
static std::string pool_size_repr(Size2 s) {   // PyTorch prints the pools' int arguments as given
  return s.h == s.w ? fmt::format("{}", s.h) : pair_repr(s);
}

Conv2d::Conv2d(const Conv2dOptions& o) : Module("Conv2d"), options(o) {
  ATTO_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.groups > 0,
             "[Conv2d] in_channels, out_channels and groups must be positive, got {}, {}, {}", o.in_channels,
             o.out_channels, o.groups);
  ATTO_CHECK(o.in_channels % o.groups == 0 && o.out_channels % o.groups == 0,
             "[Conv2d] in_channels {} and out_channels {} must be divisible by groups {}", o.in_channels, o.out_channels,
             o.groups);
  ATTO_CHECK(o.kernel_size.given && o.kernel_size.h > 0 && o.kernel_size.w > 0,
             "[Conv2d] kernel_size must be given and positive, got ({}, {})", o.kernel_size.h, o.kernel_size.w);
  weight = register_parameter("weight", empty({o.out_channels, o.in_channels / o.groups, o.kernel_size.h, o.kernel_size.w}));
  if (o.bias) bias = register_parameter("bias", empty({o.out_channels}));
  reset_parameters();
}

void Conv2d::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));   // = U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  if (bias.defined()) {
    double bound = 1.0 / std::sqrt(double(init::fan_in_and_fan_out(weight).first));
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, weight, bias, options.stride, options.padding, options.dilation, options.groups);
}

std::string Conv2d::extra_repr() const {
  const auto& o = options;
  std::string s = fmt::format("{}, {}, kernel_size={}, stride={}", o.in_channels, o.out_channels, pair_repr(o.kernel_size),
                              pair_repr(o.stride));
  if (o.padding.h != 0 || o.padding.w != 0) s += fmt::format(", padding={}", pair_repr(o.padding));
  if (o.dilation.h != 1 || o.dilation.w != 1) s += fmt::format(", dilation={}", pair_repr(o.dilation));
  if (o.groups != 1) s += fmt::format(", groups={}", o.groups);
  if (!bias.defined()) s += ", bias=False";
  return s;
}

MaxPool2d::MaxPool2d(const MaxPool2dOptions& o) : Module("MaxPool2d"), options(o) {
  if (!options.stride.given) options.stride = options.kernel_size;
}
Tensor MaxPool2d::forward(const Tensor& x) {
  return max_pool2d(x, options.kernel_size, options.stride, options.padding, options.dilation, options.ceil_mode);
}
std::string MaxPool2d::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={}", pool_size_repr(options.kernel_size),
                     pool_size_repr(options.stride), pool_size_repr(options.padding), pool_size_repr(options.dilation),
                     options.ceil_mode ? "True" : "False");
}

AvgPool2d::AvgPool2d(const AvgPool2dOptions& o) : Module("AvgPool2d"), options(o) {
  if (!options.stride.given) options.stride = options.kernel_size;
}
Tensor AvgPool2d::forward(const Tensor& x) {
  return avg_pool2d(x, options.kernel_size, options.stride, options.padding, options.ceil_mode,
                    options.count_include_pad, options.divisor_override);
}
std::string AvgPool2d::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}, padding={}", pool_size_repr(options.kernel_size),
                     pool_size_repr(options.stride), pool_size_repr(options.padding));
}

}  // namespace atto::nn
