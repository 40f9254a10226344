// tests/nn/test_conv_modules.cpp -- nn::Conv2d, MaxPool2d, AvgPool2d at parity with PyTorch 1.13
// (tools/gen_ref_nn_conv.py).
#include "reference/nn_conv.h"
#include "test_util.h"

using namespace atto;
namespace R = ref::nn_conv;

TEST_CASE("Conv2d with stride padding dilation and groups matches PyTorch") {
  nn::Conv2d conv({.in_channels = 4, .out_channels = 6, .kernel_size = {3, 2}, .stride = {2, 1}, .padding = 1,
                   .dilation = {1, 2}, .groups = 2});
  CHECK(conv.weight.shape() == Shape{6, 2, 3, 2});
  CHECK(conv.repr() == "Conv2d(4, 6, kernel_size=(3, 2), stride=(2, 1), padding=(1, 1), dilation=(1, 2), groups=2)");
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(dtype_name(dt));
    double rtol = dt == kFloat32 ? 1e-5 : 1e-10;
    conv.to(dt);
    StateDict sd;
    sd.insert("weight", R::conv_weight.tensor(dt));
    sd.insert("bias", R::conv_bias.tensor(dt));
    conv.load_state_dict(sd);
    conv.zero_grad();
    Tensor x = R::conv_x.tensor(dt).requires_grad_(true);
    Tensor y = conv(x);
    CHECK_ALLCLOSE(y, R::conv_y.values, rtol, 1e-6);
    sum(y * R::conv_R.tensor(dt)).backward();
    CHECK_ALLCLOSE(x.grad(), R::conv_dx.values, rtol, 1e-5);
    CHECK_ALLCLOSE(conv.weight.grad(), R::conv_dweight.values, rtol, 1e-5);
    CHECK_ALLCLOSE(conv.bias.grad(), R::conv_dbias.values, rtol, 1e-5);
  }
}

TEST_CASE("Conv2d default init follows PyTorch's bounds") {
  manual_seed(4);
  nn::Conv2d conv(8, 16, 3);
  double bound = 1.0 / std::sqrt(8.0 * 9.0);   // fan_in = in_channels * kH * kW
  CHECK(max(conv.weight.abs()).item() <= bound);
  CHECK(max(conv.weight.abs()).item() > 0.9 * bound);
  CHECK(max(conv.bias.abs()).item() <= bound);
  CHECK(nn::Conv2d(2, 3, 1, 1, 0).repr() == "Conv2d(2, 3, kernel_size=(1, 1), stride=(1, 1))");
  CHECK_THROWS_WITH_AS(nn::Conv2d({.in_channels = 3, .out_channels = 4, .kernel_size = 3, .groups = 2}),
                       doctest::Contains("[Conv2d] in_channels 3 and out_channels 4 must be divisible by groups 2"),
                       atto::Error);
}

TEST_CASE("MaxPool2d and AvgPool2d modules match PyTorch") {
  Tensor x = R::pool_x.tensor(kFloat32);
  nn::MaxPool2d maxpool(Size2{3, 2}, Size2{2, 1}, 1);
  CHECK_ALLCLOSE(maxpool(x), R::maxpool_y.values, 1e-6, 1e-6);
  CHECK(maxpool.repr() == "MaxPool2d(kernel_size=(3, 2), stride=(2, 1), padding=1, dilation=1, ceil_mode=False)");
  nn::AvgPool2d avgpool({.kernel_size = 3, .stride = 2, .padding = 1, .count_include_pad = false});
  CHECK_ALLCLOSE(avgpool(x), R::avgpool_y.values, 1e-6, 1e-6);
  CHECK(avgpool.repr() == "AvgPool2d(kernel_size=3, stride=2, padding=1)");
  nn::MaxPool2d default_stride(2);
  CHECK(default_stride.options.stride.h == 2);
}
